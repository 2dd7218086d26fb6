/**
 * Status answers the operator's questions from what the core remembers, without asking any source:
 * which devices polled and what they got, which releases are in the cache, and for one device the
 * composition that serves it and why its version was chosen or others refused.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Runtime } from '../runtime.ts';
import type { Release } from '../core/release.ts';
import type { DeviceActivity, DeviceTracker } from './device-tracker.ts';

/** Release files read at most by one `/api/releases` call. */
const MAX_RELEASE_FILES = 2000;

export interface DeviceSummary {
  device: string;
  lastSeen?: string;
  polls: number;
  version?: string;
  sourceDigest?: string;
  sha256?: string;
  stale: boolean;
  error?: string;
  checkedAt?: string;
}

export class Status {
  private readonly started = Date.now();

  constructor(private readonly rt: Pick<Runtime, 'settings' | 'resolver' | 'content' | 'cache'>, private readonly tracker: DeviceTracker) {}

  /** Every device polled or resolved, newest activity last. */
  devices(): DeviceSummary[] {
    const remembered = new Map(this.rt.resolver.snapshot().map((s) => [s.device, s]));
    const ids = new Set([...this.tracker.all().map((a) => a.device), ...remembered.keys()]);
    return [...ids].map((device) => {
      const a = this.tracker.get(device);
      const r = remembered.get(device);
      const release = r?.release;
      return {
        device,
        ...(a?.lastSeen ? { lastSeen: a.lastSeen } : {}),
        polls: a?.polls ?? 0,
        ...(release ? { version: release.version, sourceDigest: release.sourceDigest, sha256: release.sha256 } : a?.served ? { version: a.served.version, sourceDigest: a.served.sourceDigest, sha256: a.served.sha256 } : {}),
        stale: r?.stale ?? false,
        ...(r?.error ? { error: r.error } : {}),
        ...(r ? { checkedAt: r.checkedAt } : {}),
      };
    });
  }

  /** One device: its composition, what the core resolved, its activity, and why (also for ids never seen). */
  device(id: string) {
    const comp = this.rt.settings.composer.for(id);
    const r = this.rt.resolver.snapshot().find((s) => s.device === id);
    const activity: DeviceActivity | undefined = this.tracker.get(id);
    return {
      device: id,
      composition: comp
        ? {
            matchedBy: comp.matchedBy,
            source: comp.source.id,
            verifier: comp.verifier.id,
            extract: comp.extract === 'auto' ? 'auto' : comp.extract.map((x) => (x.variant ? `${x.id}(${x.variant})` : x.id)),
            auth: comp.auth === 'none' ? 'none' : comp.auth.map((a) => a.id),
            allowPrerelease: comp.allowPrerelease,
          }
        : null,
      resolved: r ? { ...(r.release ? { release: r.release } : {}), ...(r.error ? { error: r.error } : {}), checkedAt: r.checkedAt, stale: r.stale } : null,
      activity: activity ?? null,
      why: explain(comp !== undefined, r, activity),
    };
  }

  /** Releases built into the cache (from the release records), with whether their bytes are present. */
  async releases(): Promise<(Release & { cached: boolean })[]> {
    const dir = join(this.rt.settings.cache.dir, 'releases');
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json') && !n.startsWith('.')).slice(0, MAX_RELEASE_FILES);
    const out: (Release & { cached: boolean })[] = [];
    for (const name of names) {
      try {
        const record = JSON.parse(await readFile(join(dir, name), 'utf8')) as { release?: Release } & Release;
        const r = record.release ?? record;
        out.push({ ...r, cached: this.rt.cache.holds(r.sha256) && (await this.rt.content.has(r.sha256, r.size)) });
      } catch {
        // A record being written or damaged: skipped.
      }
    }
    return out.sort((a, b) => a.device.localeCompare(b.device) || b.createdAt.localeCompare(a.createdAt));
  }

  async summary() {
    const blobs = this.rt.cache.kept();
    return {
      uptimeSeconds: Math.round((Date.now() - this.started) / 1000),
      devicesSeen: this.tracker.seenCount(),
      devicesResolved: this.rt.resolver.snapshot().length,
      cache: { dir: this.rt.settings.cache.dir, entries: blobs.length, bytes: blobs.reduce((n, b) => n + b.size, 0) },
      namedDevices: this.rt.settings.composer.namedDevices(),
    };
  }
}

function explain(
  configured: boolean,
  r: { release?: Release; error?: string; stale: boolean } | undefined,
  a: DeviceActivity | undefined,
): string[] {
  const why: string[] = [];
  if (!configured) why.push('no composition in the config serves this device id');
  for (const x of a?.rejections ?? []) why.push(`version ${x.version} (${x.digest}) refused by ${x.verifier}: ${x.reason}`);
  if (r?.release) {
    const rel = r.release;
    why.push(`serving ${rel.version}: the newest version ${rel.verifiedBy} accepted, from ${rel.sourceId} ${rel.sourceDigest}, extracted by ${rel.extractors.length ? rel.extractors.join(' → ') : 'nothing (raw)'}`);
    if (r.stale) why.push(`the source failed at the last refresh${a?.lastRefreshFailure ? ` (${a.lastRefreshFailure.error})` : ''}: serving the last good release`);
  } else if (r?.error) {
    why.push(`nothing served: ${r.error}`);
  } else if (configured) {
    why.push('not resolved yet: no poll since start');
  }
  return why;
}
