/**
 * Rollout gates, evaluated in the background by the leading process (src/cluster/leadership.ts);
 * changes are compare-and-set in the store besides, so a gate fires once even while two lead:
 * - pause when (failed + rolled back + timed out) ≥ failurePercent % of exposed, once exposed ≥ minSample;
 * - advance when the step's soak time is over and verified ≥ successPercent % of exposed, with
 *   exposed ≥ minSample; after the last step the rollout is done (100 %).
 */
import type { Rollout, RolloutState } from './model.ts';
import { exposedCounts } from './outcomes.ts';

export type GateVerdict =
  | { action: 'none' }
  | { action: 'pause' | 'advance'; to: { state: RolloutState; step: number; reason?: string }; why: string };

export function evaluateGates(r: Rollout, raw: Record<string, number>, now: number): GateVerdict {
  if (r.state !== 'running') return { action: 'none' };
  const c = exposedCounts(raw);
  const g = r.gates;
  const bad = c.failed + c.rolled_back + c.timed_out;
  if (c.exposed > 0 && c.exposed >= g.minSample && (bad * 100) / c.exposed >= g.failurePercent) {
    const why = `${bad} of ${c.exposed} exposed failed, rolled back or timed out (≥ ${g.failurePercent} %)`;
    return { action: 'pause', to: { state: 'paused', step: r.step, reason: why }, why };
  }
  const soak = r.step >= 0 ? (r.steps[r.step]?.soakSeconds ?? 0) : 0;
  if (now - r.stepStartedAt < soak * 1000) return { action: 'none' };
  if (c.exposed === 0 || c.exposed < g.minSample || (c.verified * 100) / c.exposed < g.successPercent) return { action: 'none' };
  const why = `${c.verified} of ${c.exposed} exposed verified (≥ ${g.successPercent} %), soak ${soak} s over`;
  const last = r.step + 1 >= r.steps.length;
  return { action: 'advance', to: last ? { state: 'done', step: r.steps.length - 1 } : { state: 'running', step: r.step + 1 }, why };
}
