/**
 * FailureReports logs failed refreshes so that a failing source costs a bounded number of lines:
 * at most one line per source and kind of failure per refresh interval (at least 5 s), however many
 * devices fail and however often they retry. The first failure is logged at once; the next line of
 * the same kind, an interval later at the earliest, says how many distinct devices failed since the
 * previous one, itself included (`devices`), with a few of their ids (`sample`). When a source that was unreachable or refused
 * answers again, one info line says so.
 *
 * The message is the error's one-line `summary` when it has one (what the operator must change:
 * `the registry refused the credentials: check --registry-username …`), else `refresh failed, …`.
 */
import type { Logger } from '../plugin.ts';
import { NoFirmware, errorMessage, isSourceUnavailable, operatorSummary } from './errors.ts';

/** Lines of one kind are at least this far apart, whatever the refresh interval. */
export const MIN_REPORT_INTERVAL_MS = 5000;

/** Distinct devices counted per kind between two lines (beyond: counted as this many). */
const MAX_COUNTED_DEVICES = 100_000;
const SAMPLE_SIZE = 5;

interface KindState {
  source: string;
  /** When the last line of this kind was written. */
  loggedAt: number;
  /** Devices that failed since that line (its own device included). */
  devices: Set<string>;
  /** The failure is about the source as a whole (unreachable, credentials), not one device. */
  sourceWide: boolean;
  since: number;
}

export interface Failure {
  device: string;
  source: string;
  error: unknown;
  /** The release still served instead (stale-if-error), if any. */
  servedVersion?: string;
}

export class FailureReports {
  private readonly kinds = new Map<string, KindState>();
  private readonly intervalMs: number;

  constructor(
    private readonly logger: Logger,
    refreshMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.intervalMs = Math.max(refreshMs, MIN_REPORT_INTERVAL_MS);
  }

  /** A refresh of `device` through `source` failed (or found a missing repository). */
  failed(f: Failure): void {
    const key = `${f.source}\u0000${kindOf(f.error)}`;
    const t = this.now();
    let st = this.kinds.get(key);
    if (st && t - st.loggedAt < this.intervalMs) {
      if (st.devices.size < MAX_COUNTED_DEVICES) st.devices.add(f.device);
      return;
    }
    const devices = new Set(st?.devices ?? []);
    devices.add(f.device);
    if (!st) {
      st = { source: f.source, loggedAt: t, devices: new Set([f.device]), sourceWide: isSourceUnavailable(f.error), since: t };
      this.kinds.set(key, st);
    } else {
      st.loggedAt = t;
      st.devices = new Set([f.device]);
    }
    const summary = operatorSummary(f.error);
    const missing = f.error instanceof NoFirmware;
    const msg = summary ?? (f.servedVersion !== undefined ? 'refresh failed, serving last good release' : 'refresh failed, nothing cached to serve');
    const fields: Record<string, unknown> = { device: f.device, source: f.source, error: errorMessage(f.error) };
    if (f.servedVersion !== undefined) fields.version = f.servedVersion;
    else if (summary && !missing) fields.serving = 'nothing cached';
    fields.devices = devices.size;
    if (devices.size > 1) fields.sample = [...devices].slice(0, SAMPLE_SIZE);
    if (t > st.since) fields.failingForSeconds = Math.round((t - st.since) / 1000);
    this.logger[missing ? 'info' : 'warn'](msg, fields);
  }

  /** A refresh through `source` got an answer: failures of the source as a whole are over. */
  answered(source: string): void {
    let since: number | undefined;
    let devices = 0;
    for (const [key, st] of this.kinds) {
      if (st.source !== source || !st.sourceWide) continue;
      this.kinds.delete(key);
      since = Math.min(since ?? st.since, st.since);
      devices += st.devices.size;
    }
    if (since !== undefined) this.logger.info('source answers again', { source, failedForSeconds: Math.round((this.now() - since) / 1000), devices });
  }
}

/** Failures of one kind share their lines: unreachable, credentials refused, a missing repository, … */
function kindOf(err: unknown): string {
  if (err instanceof NoFirmware) return 'no-firmware';
  if (isSourceUnavailable(err) && !operatorSummary(err)) return 'unavailable';
  const e = err as { name?: unknown; code?: unknown } | null;
  return `${typeof e?.name === 'string' ? e.name : 'error'}:${typeof e?.code === 'string' ? e.code : ''}`;
}
