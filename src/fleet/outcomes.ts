/**
 * Outcome of an offer, per instance and release (stream + version):
 *
 *   offered → downloading → downloaded (exposed) → verified | rolled_back | timed_out | failed
 *   offered | downloading | downloaded → canceled
 *
 * - offered: a poll was answered with a release other than the one the instance reports running.
 * - downloading: a `/firmware` body of that release started; downloaded: its last byte was written.
 * - verified: a later check-in reports the new version; for a client that reports nothing (the ESP32
 *   example), a `/version` poll after the download that is not followed by another download of it
 *   (inferred: it stopped asking, so it runs what it asked for).
 * - rolled_back: after the download, a check-in with a new boot id still on another version; without a
 *   boot id, still on another version after the grace time; for a client that reports nothing, a
 *   second download of the same release after it was inferred verified (the image did not stay).
 * - failed: the client said so (`X-Update-Result: failed`).
 * - timed_out: nothing proved either within the rollout's timeout (the gate controller marks these).
 * - canceled: the rollout was aborted and the client confirmed it dropped the deployment (a DDI
 *   cancelAction acknowledged as closed). Not counted as exposed: nothing says the image runs.
 * verified, rolled_back, timed_out, failed and canceled are final: a later check-in does not change them.
 */

export type OutcomeState = 'offered' | 'downloading' | 'downloaded' | 'verified' | 'rolled_back' | 'timed_out' | 'failed' | 'canceled';
export const FINAL: ReadonlySet<OutcomeState> = new Set(['verified', 'rolled_back', 'timed_out', 'failed', 'canceled']);
/** Outcomes counted as exposed: the release reached the device. */
export const EXPOSED: ReadonlySet<OutcomeState> = new Set(['downloaded', 'verified', 'rolled_back', 'timed_out', 'failed']);

export interface Outcome {
  instance: string;
  stream: string;
  version: string;
  rolloutId?: string;
  state: OutcomeState;
  /** Verified or rolled back by inference from a client that reports nothing. */
  inferred: boolean;
  /** Boot id the instance reported when the download completed. */
  bootId?: string;
  offeredAt: number;
  downloadedAt?: number;
  updatedAt: number;
}

export interface CheckinFacts {
  instance: string;
  stream: string;
  route: 'version' | 'firmware';
  /** Version offered (the answer); undefined when nothing was. */
  offered?: string;
  rolloutId?: string;
  reported?: string;
  bootId?: string;
  /** `X-Update-Result: failed` from the client. */
  failedReport?: boolean;
  /** The client reports its result itself (DDI feedback): a poll after the download infers nothing. */
  reportsResult?: boolean;
  now: number;
}

/** How long a reporting client without a boot id may stay on the old version after a download before it counts as rolled back. */
export const ROLLBACK_GRACE_MS = 5 * 60_000;

/**
 * Applies one check-in to the outcomes of its instance (a small list per instance) and returns the
 * outcomes it changed. Pure apart from mutating the given list.
 */
export function applyCheckin(list: Outcome[], c: CheckinFacts, graceMs = ROLLBACK_GRACE_MS): Outcome[] {
  const changed: Outcome[] = [];
  const set = (o: Outcome, state: OutcomeState, inferred = o.inferred) => {
    if (o.state === state && o.inferred === inferred) return;
    o.state = state;
    o.inferred = inferred;
    o.updatedAt = c.now;
    changed.push(o);
  };
  for (const o of list) {
    if (o.stream !== c.stream) continue;
    if (c.failedReport && (o.state === 'downloading' || o.state === 'downloaded') && (c.offered === undefined || c.offered === o.version)) {
      set(o, 'failed', false);
      continue;
    }
    if (o.state === 'downloaded' || (o.state === 'verified' && o.inferred)) {
      if (c.reported !== undefined) {
        if (c.reported === o.version) set(o, 'verified', false);
        else if (o.state === 'downloaded' && ((c.bootId && o.bootId && c.bootId !== o.bootId) || (!c.bootId && o.downloadedAt !== undefined && c.now - o.downloadedAt >= graceMs))) set(o, 'rolled_back', false);
      } else if (o.state === 'downloaded' && c.route === 'version' && !c.reportsResult) {
        set(o, 'verified', true);
      } else if (o.state === 'verified' && c.route === 'firmware' && c.offered === o.version) {
        set(o, 'rolled_back', true);
      }
    }
  }
  if (c.offered !== undefined && c.offered !== c.reported) {
    let o = list.find((x) => x.stream === c.stream && x.version === c.offered);
    if (!o) {
      o = { instance: c.instance, stream: c.stream, version: c.offered, state: 'offered', inferred: false, offeredAt: c.now, updatedAt: c.now, ...(c.rolloutId ? { rolloutId: c.rolloutId } : {}) };
      list.push(o);
      changed.push(o);
    }
    if (c.route === 'firmware' && (o.state === 'offered' || o.state === 'downloaded')) set(o, 'downloading');
  }
  return changed;
}

/** The last byte of a `/firmware` body of this version was written (or the body was cut short). */
export function applyDownload(list: Outcome[], stream: string, version: string, completed: boolean, bootId: string | undefined, now: number): Outcome | undefined {
  const o = list.find((x) => x.stream === stream && x.version === version);
  if (!o || o.state !== 'downloading' || !completed) return undefined;
  o.state = 'downloaded';
  o.downloadedAt = now;
  o.updatedAt = now;
  if (bootId) o.bootId = bootId;
  return o;
}

export interface OutcomeCounts {
  offered: number;
  downloading: number;
  /** Every outcome that reached the device: downloaded, verified, rolled back, timed out, failed. */
  exposed: number;
  downloaded: number;
  verified: number;
  rolled_back: number;
  timed_out: number;
  failed: number;
  /** Deployments the client confirmed it dropped after the rollout was aborted (not part of exposed). */
  canceled: number;
}

/** Counts by outcome plus `exposed`. */
export function exposedCounts(c: Record<string, number>): OutcomeCounts {
  let exposed = 0;
  for (const [k, n] of Object.entries(c)) if (EXPOSED.has(k as OutcomeState)) exposed += n;
  return { offered: c.offered ?? 0, downloading: c.downloading ?? 0, exposed, downloaded: c.downloaded ?? 0, verified: c.verified ?? 0, rolled_back: c.rolled_back ?? 0, timed_out: c.timed_out ?? 0, failed: c.failed ?? 0, canceled: c.canceled ?? 0 };
}
