/**
 * A rollout's progress from what the store keeps: each outcome it offered is counted in the step
 * that was current when it was offered (step changes come from the rollout's audit records), and
 * cumulative counts over time come from each outcome's download and last-change times.
 */
import type { AuditEntry } from '../fleet/store.ts';

export interface StepProgress {
  /** -1: the canary list. */
  step: number;
  since: number;
  exposed: number;
  verified: number;
  rolled_back: number;
  timed_out: number;
  failed: number;
}

export interface OutcomeTimes {
  state: string;
  offered_at: number;
  downloaded_at: number | null;
  updated_at: number;
}

const EXPOSED = new Set(['downloaded', 'verified', 'rolled_back', 'timed_out', 'failed']);
const FAILED = new Set(['rolled_back', 'timed_out', 'failed']);

/** When each step began: from the creation record (its first step) and every transition that moved the step. */
export function stepTimeline(audit: readonly AuditEntry[], currentStep: number, createdAt: number): { step: number; since: number }[] {
  const created = audit.find((e) => e.action === 'rollout.create');
  const first = (created?.detail as { step?: number } | undefined)?.step;
  const out = [{ step: typeof first === 'number' ? first : currentStep, since: created?.at ?? createdAt }];
  for (const e of audit) {
    const d = e.detail as { from?: { step: number }; to?: { step: number } } | undefined;
    if (d?.from && d.to && d.to.step !== d.from.step) out.push({ step: d.to.step, since: e.at });
  }
  return out;
}

export function progressPerStep(timeline: readonly { step: number; since: number }[], outcomes: readonly OutcomeTimes[]): StepProgress[] {
  const steps: StepProgress[] = timeline.map((t) => ({ step: t.step, since: t.since, exposed: 0, verified: 0, rolled_back: 0, timed_out: 0, failed: 0 }));
  for (const o of outcomes) {
    let i = steps.length - 1;
    while (i > 0 && (steps[i] as StepProgress).since > o.offered_at) i--;
    const s = steps[i] as StepProgress;
    if (EXPOSED.has(o.state)) s.exposed++;
    if (o.state === 'verified' || o.state === 'rolled_back' || o.state === 'timed_out' || o.state === 'failed') s[o.state]++;
  }
  return steps;
}

/** Cumulative exposed, verified and failed (rolled back, timed out, failed) at `points` times from `from` to `to`. */
export function progressOverTime(outcomes: readonly OutcomeTimes[], from: number, to: number, points = 24): { at: number; exposed: number; verified: number; failed: number }[] {
  const span = Math.max(1, to - from);
  const out = [];
  for (let k = 0; k < points; k++) {
    const at = from + (span * (k + 1)) / points;
    let exposed = 0, verified = 0, failed = 0;
    for (const o of outcomes) {
      if (EXPOSED.has(o.state) && (o.downloaded_at ?? o.updated_at) <= at) exposed++;
      if (o.updated_at <= at && o.state === 'verified') verified++;
      if (o.updated_at <= at && FAILED.has(o.state)) failed++;
    }
    out.push({ at, exposed, verified, failed });
  }
  return out;
}
