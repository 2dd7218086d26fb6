/**
 * DeviceTracker remembers, from the core's events, what operators ask about a device: when it last
 * polled, what it was served (version, digests), which versions the verifier refused and why, and
 * the last refresh failure. Memory is bounded: the least recently active devices are forgotten
 * first, and each device keeps only its latest rejections. Only what a real stream causes makes an
 * entry (a poll served, a release, a rejected version, a failure while a release is served): a
 * made-up device id leaves nothing here.
 */
import type { CoreEventBus } from '../core/events.ts';
import type { Release } from '../core/release.ts';

/** Devices remembered at most. */
const MAX_DEVICES = 10_000;
/** Rejections remembered per device. */
const MAX_REJECTIONS = 10;

export interface Rejection {
  version: string;
  digest: string;
  verifier: string;
  reason: string;
  at: string;
}

export interface DeviceActivity {
  device: string;
  /** Last successful poll of /version or /firmware. */
  lastSeen?: string;
  lastRoute?: 'version' | 'firmware';
  remoteAddress?: string;
  polls: number;
  served?: { version: string; sha256: string; sourceId: string; sourceDigest: string; verifiedBy: string; extractors: string[] };
  lastReleaseChange?: { at: string; version: string; previous?: string };
  rejections: Rejection[];
  lastRefreshFailure?: { at: string; error: string; stale: boolean };
}

/** What is kept per device; the poll path stores numbers and references, views are built on read. */
interface Activity extends Omit<DeviceActivity, 'lastSeen' | 'served'> {
  lastSeenMs?: number;
  servedRelease?: Release;
  /** When the entry last moved to the recent end of the LRU order. */
  movedAt: number;
}

/** A device polled again within this time keeps its LRU place (a Map re-insert per poll is not free). */
const REORDER_AFTER_MS = 1000;

export class DeviceTracker {
  private readonly devices = new Map<string, Activity>();
  private readonly detach: () => void;

  constructor(events: CoreEventBus) {
    // Runs for every successful poll: no allocation, no date formatting.
    const onSeen = (e: Parameters<Listener<'device-seen'>>[0]) => {
      const now = Date.now();
      const a = this.touch(e.device, now);
      a.lastSeenMs = now;
      a.lastRoute = e.route;
      a.remoteAddress = e.remoteAddress;
      a.polls += 1;
      if (e.release) a.servedRelease = e.release;
    };
    const onRejected = (e: Parameters<Listener<'verify-rejected'>>[0]) => {
      const a = this.touch(e.device);
      a.rejections.push({ version: e.version, digest: e.digest, verifier: e.verifier, reason: e.reason, at: new Date().toISOString() });
      if (a.rejections.length > MAX_REJECTIONS) a.rejections.shift();
    };
    const onFailed = (e: Parameters<Listener<'refresh-failed'>>[0]) => {
      // A failure with nothing served (any id, while the source is down) is the resolver's to
      // remember, in its bounded negative answers: only devices already known get an entry here.
      if (!e.stale && !this.devices.has(e.device)) return;
      this.touch(e.device).lastRefreshFailure = { at: new Date().toISOString(), error: e.error, stale: e.stale };
    };
    const onChanged = (e: Parameters<Listener<'release-changed'>>[0]) => {
      this.touch(e.device).lastReleaseChange = { at: new Date().toISOString(), version: e.release.version, ...(e.previous ? { previous: e.previous.version } : {}) };
    };
    events.on('device-seen', onSeen);
    events.on('verify-rejected', onRejected);
    events.on('refresh-failed', onFailed);
    events.on('release-changed', onChanged);
    this.detach = () => {
      events.off('device-seen', onSeen);
      events.off('verify-rejected', onRejected);
      events.off('refresh-failed', onFailed);
      events.off('release-changed', onChanged);
    };
  }

  /** Devices that polled successfully at least once. */
  seenCount(): number {
    let n = 0;
    for (const a of this.devices.values()) if (a.lastSeenMs !== undefined) n++;
    return n;
  }

  get(device: string): DeviceActivity | undefined {
    const a = this.devices.get(device);
    return a && view(a);
  }

  all(): DeviceActivity[] {
    return [...this.devices.values()].map(view);
  }

  close(): void {
    this.detach();
  }

  private touch(device: string, now = Date.now()): Activity {
    let a = this.devices.get(device);
    if (a) {
      if (now - a.movedAt < REORDER_AFTER_MS) return a;
      this.devices.delete(device);
      a.movedAt = now;
    } else a = { device, polls: 0, rejections: [], movedAt: now };
    this.devices.set(device, a);
    if (this.devices.size > MAX_DEVICES) this.devices.delete(this.devices.keys().next().value as string);
    return a;
  }
}

function view(a: Activity): DeviceActivity {
  const { lastSeenMs, servedRelease: r, movedAt: _movedAt, ...rest } = a;
  return {
    ...rest,
    ...(lastSeenMs !== undefined ? { lastSeen: new Date(lastSeenMs).toISOString() } : {}),
    ...(r ? { served: { version: r.version, sha256: r.sha256, sourceId: r.sourceId, sourceDigest: r.sourceDigest, verifiedBy: r.verifiedBy, extractors: r.extractors } } : {}),
  };
}

type Listener<K extends 'device-seen' | 'verify-rejected' | 'refresh-failed' | 'release-changed'> = (
  ...args: import('../core/events.ts').CoreEvents[K]
) => void;
