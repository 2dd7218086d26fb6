/**
 * The fleet's vocabulary as data: rollouts, pins, yanks, channel subscriptions and labels, i.e. the
 * decision state every replica loads from the store and decides from. See README "Fleet control".
 */

export type RolloutState = 'running' | 'paused' | 'done' | 'aborted';
export const ROLLOUT_STATES: readonly RolloutState[] = ['running', 'paused', 'done', 'aborted'];

export interface RampStep {
  /** Cumulative share of the selected instances, 0–100 (two decimals count: bucket < percent × 100). */
  percent: number;
  /** Minimum time at this step before it may advance, in seconds. */
  soakSeconds: number;
}

export interface Selector {
  /** Stream ids or `*` patterns (`esp32-*`). */
  streams: string[];
  /** Only these instances (and those carrying one of `labels`); empty lists mean every instance. */
  instances?: string[];
  labels?: string[];
}

export interface Gates {
  /** Advance when verified ≥ this % of exposed … */
  successPercent: number;
  /** … with at least this many exposed instances at the current step. */
  minSample: number;
  /** Pause when failed + rolled back + timed out ≥ this % of exposed (with the same minimum sample). */
  failurePercent: number;
  /** New downloads per minute at most (0: no cap). */
  maxDownloadsPerMinute: number;
  /** A downloaded release not proven verified or rolled back after this many seconds is timed out. */
  timeoutSeconds: number;
}

export interface Rollout {
  id: string;
  /** The release: a version of each selected stream, pinned by the SHA-256 of its served bytes. */
  version: string;
  /** Stream → SHA-256 pinned (given at creation, or the first one seen for that version). */
  digests: Record<string, string>;
  selector: Selector;
  canary: string[];
  steps: RampStep[];
  gates: Gates;
  salt: string;
  state: RolloutState;
  /** -1: canary list only; 0…steps.length-1: that step. */
  step: number;
  /** When the current step began (epoch ms). */
  stepStartedAt: number;
  createdAt: number;
  /** Why it is paused or aborted (gate, operator). */
  reason?: string;
}

export interface Pin {
  id: string;
  /** Stream id or pattern the pin applies to. */
  stream: string;
  /** Instances held; empty: the whole stream. */
  instances: string[];
  version: string;
  reason?: string;
  createdAt: number;
}

export interface Yank {
  stream: string;
  version: string;
  reason?: string;
  at: number;
}

export interface DecisionState {
  rollouts: Rollout[];
  pins: Pin[];
  yanks: Yank[];
  /** Instance → channels it is subscribed to (`beta`); absent: stable only. */
  channels: Record<string, string[]>;
  /** Instance → labels (for rollout selectors). */
  labels: Record<string, string[]>;
}

export const EMPTY_STATE: DecisionState = { rollouts: [], pins: [], yanks: [], channels: {}, labels: {} };

export const DEFAULT_GATES: Gates = { successPercent: 90, minSample: 5, failurePercent: 10, maxDownloadsPerMinute: 0, timeoutSeconds: 3600 };

/** `esp32-*` → a RegExp matching whole ids. */
export function streamPattern(p: string): RegExp {
  return new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')).join('.*')}$`);
}

const patterns = new Map<string, RegExp>();
export function streamMatches(pattern: string, stream: string): boolean {
  if (!pattern.includes('*')) return pattern === stream;
  let re = patterns.get(pattern);
  if (!re) patterns.set(pattern, (re = streamPattern(pattern)));
  return re.test(stream);
}
