/**
 * Resolver answers "what does this device get now?" with a Release, and owns the policies that
 * make that fast and safe for any source:
 * - the answer is remembered for the refresh interval, so polls do not reach the source;
 * - concurrent requests share one lookup (per device) and one download (per artifact);
 * - versions are tried newest first, and the newest one the verifier accepts wins;
 * - when the source fails, the last good release keeps being served (also after a restart), but only
 *   to a composition that would accept it now (same source and chain; same verifier, or one that
 *   re-verifies its stored evidence offline: provenance.ts);
 * - a failed fetch or extraction never replaces a good cached copy.
 */
import { PLUGIN_CALL_TIMEOUT_MS, type DeviceRef, type ExtractLimits, type ExtractorPlugin, type Logger, type ResolvedArtifact, type SourcePlugin, type SourceVersion, type Verdict, type VerifierPlugin } from '../plugin.ts';
import type { Composition } from './composition.ts';
import type { ContentStore } from './content-store.ts';
import type { ReleaseStore } from './release-store.ts';
import type { CacheBudget } from './cache-budget.ts';
import type { Release } from './release.ts';
import type { CoreEventBus } from './events.ts';
import type { Artifact } from '../plugin.ts';
import { ReleaseStore as Releases } from './release-store.ts';
import { SingleFlight } from './single-flight.ts';
import { callScope, type CallScope } from './call-scope.ts';
import { rankVersions } from './versions.ts';
import { extractChain } from './extract-chain.ts';
import { acceptCached, provenanceNow } from './provenance.ts';
import { DeviceError, NoFirmware, asDeviceFailure, NoVerifiedFirmware, SourceFailed, SourceUnavailable, errorMessage, isSourceUnavailable } from './errors.ts';
import { FailureReports } from './failure-reports.ts';
import { logCandidates } from './resolution-log.ts';
import { resolveWith } from './plugin-compat.ts';

/** At most this many versions are tried, newest first, when newer ones fail verification. */
const MAX_CANDIDATES = 10;

/** Remembered releases kept at most (only devices with something published get one). */
const MAX_REMEMBERED_DEVICES = 100_000;

/**
 * Remembered "nothing to serve" answers kept at most, apart from the releases: an id that matches a
 * pattern (or the defaults) but has nothing published costs at most one small entry of this LRU, so
 * a flood of made-up ids holds a fixed amount of memory however many there are.
 */
const MAX_NEGATIVE_ANSWERS = 10_000;

/** Verdicts remembered at most per verifier, and rejections remembered for logging once. */
const MAX_REMEMBERED_VERDICTS = 10_000;

export interface ResolverOptions {
  content: ContentStore;
  releases: ReleaseStore;
  /** The disk bound: makes room before a write, counts what was written, pins it while it is recorded. */
  budget: CacheBudget;
  events: CoreEventBus;
  logger: Logger;
  /** Every extractor known to the host, for auto-detection. */
  extractors: readonly ExtractorPlugin[];
  limits: ExtractLimits;
  /** How long a device's answer is reused before the source is asked again. */
  refreshMs: number;
  /** How long a "nothing to serve" or "source down, nothing cached" answer is reused. */
  negativeMs: number;
  /** When a refresh of a known device takes longer than this, the known release is served meanwhile. */
  staleAfterMs: number;
  /** Aborted at shutdown; the signal handed to plugin calls follows it. */
  signal?: AbortSignal;
  /** How long one lookup's plugin calls may take before their signal aborts (default PLUGIN_CALL_TIMEOUT_MS). */
  callTimeoutMs?: number;
  /**
   * Optional: lookups shared with other processes of the host (`--workers`): `run` asks the source,
   * or the answer another process found at or after `notBefore` (epoch ms) is returned instead.
   */
  shared?: SharedLookup;
}

/** What one lookup found: a release and the evidence its verifier returned. */
export type SharedLookup = (deviceId: string, notBefore: number, run: () => Promise<Built>) => Promise<Built>;

/** A release and the evidence its verifier returned (kept with its records). */
export interface Built {
  release: Release;
  evidence?: unknown;
}

interface LatestEntry {
  release?: Release;
  error?: DeviceError;
  at: number;
  stale?: boolean;
}

/** A negative answer; `error` is left out for "no firmware" (rebuilt from the id when thrown). */
interface NegativeEntry {
  error?: DeviceError;
  at: number;
}

export class Resolver {
  private readonly latest = new Map<string, LatestEntry>();
  private readonly negative = new Map<string, NegativeEntry>();
  private readonly lookups = new SingleFlight<Release>();
  private readonly builds = new SingleFlight<Built>();
  /** Last good releases on disk that the device's composition accepts, checked once per record. */
  private readonly acceptedOnDisk = new Map<string, { release?: Release }>();
  private readonly refusalsLogged = new Set<string>();
  private readonly verdicts = new WeakMap<VerifierPlugin, Map<string, { verdict: Verdict; at: number }>>();
  /** What each source resolved last, per device and tag: handed back to its next `resolve()`. */
  private readonly resolved = new WeakMap<SourcePlugin, Map<string, ResolvedArtifact>>();
  private readonly rejectionsLogged = new Set<string>();
  /** Rejections remembered before this instant are asked again (set by invalidate). */
  private rejectionsUntil = 0;
  /** Failed refreshes, logged at most once per source and kind per refresh interval. */
  private readonly failures: FailureReports;

  constructor(private readonly o: ResolverOptions) {
    this.failures = new FailureReports(o.logger, o.refreshMs);
  }

  /**
   * The release a device gets now; a DeviceError when there is none to serve. While the remembered
   * answer is fresh it is returned (or its error thrown) at once, without a promise: this runs for
   * every poll. Otherwise a promise of a lookup.
   */
  current(device: DeviceRef, comp: Composition): Release | Promise<Release> {
    const entry = this.latest.get(device.id);
    const now = Date.now();
    if (!entry) {
      const no = this.negative.get(device.id);
      if (no && now - no.at < this.o.negativeMs) throw no.error ?? new NoFirmware(device.id);
    } else {
      const ttl = entry.release && !entry.stale ? this.o.refreshMs : this.o.negativeMs;
      if (now - entry.at < ttl) {
        if (entry.release) return entry.release;
        throw entry.error;
      }
      if (entry.release) {
        const refreshing = this.lookupShared(device, comp);
        const timeout = Bun.sleep(this.o.staleAfterMs).then(() => entry.release as Release);
        return Promise.race([refreshing.catch(() => entry.release as Release), timeout]);
      }
    }
    return this.lookupShared(device, comp);
  }

  /**
   * Asks the source now (webhooks, prefetch), rejected versions included; concurrent callers share one
   * lookup. `notBefore`: with shared lookups, an answer found at or after this instant will do.
   */
  refresh(device: DeviceRef, comp: Composition, notBefore = Date.now()): Promise<Release> {
    this.rejectionsUntil = Date.now();
    return this.lookupShared(device, comp, notBefore);
  }

  private lookupShared(device: DeviceRef, comp: Composition, notBefore = Date.now() - this.o.refreshMs): Promise<Release> {
    return this.lookups.run(device.id, () => this.lookup(device, comp, notBefore));
  }

  /** The signal of one lookup's plugin calls: aborted at shutdown or after the call timeout. */
  private callScope(): CallScope {
    return callScope(this.o.callTimeoutMs ?? PLUGIN_CALL_TIMEOUT_MS, this.o.signal);
  }

  /** Asks the source to pin a version, handing it what it answered for this device and tag last time. */
  private async resolveArtifact(device: DeviceRef, source: SourcePlugin, version: SourceVersion, signal: AbortSignal): Promise<Artifact> {
    let byTag = this.resolved.get(source);
    if (!byTag) this.resolved.set(source, (byTag = new Map()));
    const key = `${device.id}\0${version.tag}`;
    const previous = byTag.get(key);
    const artifact = await resolveWith(source, device, version, previous ? { signal, previous } : { signal });
    const { open: _open, ...pinned } = artifact;
    byTag.delete(key);
    if (byTag.size >= MAX_REMEMBERED_VERDICTS) byTag.delete(byTag.keys().next().value as string);
    byTag.set(key, pinned);
    return artifact;
  }

  /**
   * The newest `limit` verified releases of a device, newest first, each built into the cache: what
   * staged rollouts, pins, yanks and channels choose from (the fleet keeps them; polls never wait here).
   */
  async verifiedReleases(device: DeviceRef, comp: Composition, limit: number): Promise<Release[]> {
    const out: Release[] = [];
    const scope = this.callScope();
    const { signal } = scope;
    try {
      for (const candidate of rankVersions(await comp.source.versions(device, signal), device.allowPrerelease).slice(0, MAX_CANDIDATES + limit)) {
        const artifact = await this.resolveArtifact(device, comp.source, candidate, signal);
        const verdict = await this.verdict(device, comp.verifier, artifact, signal);
        if (verdict.ok) out.push((await this.build(device, comp, artifact, verdict.by, verdict.evidence, signal)).release);
        if (out.length >= limit) break;
      }
    } finally {
      scope.end();
    }
    return out;
  }

  /** Forgets the remembered answer of a device, so its next poll asks the source. */
  invalidate(deviceId: string): void {
    this.latest.delete(deviceId);
    this.negative.delete(deviceId);
    // A push (of a signature, too) is what invalidates: rejections are asked again, acceptances kept.
    this.rejectionsUntil = Date.now();
  }

  /** Forgets every remembered answer naming a blob (it left the cache): those devices' next poll fetches again. */
  forgetBlob(sha256: string): void {
    for (const [id, e] of this.latest) if (e.release?.sha256 === sha256) this.latest.delete(id);
    for (const [id, e] of this.acceptedOnDisk) if (e.release?.sha256 === sha256) this.acceptedOnDisk.delete(id);
  }

  /**
   * What the device can be served without its source: the remembered release, else the last good
   * release on disk if its composition accepts it now (readiness asks this).
   */
  async servable(device: DeviceRef, comp: Composition): Promise<Release | undefined> {
    return this.latest.get(device.id)?.release ?? this.lastGoodOnDisk(device, comp);
  }

  /** The remembered answer of every device, for the status API. */
  snapshot(): { device: string; release?: Release; error?: string; checkedAt: string; stale: boolean }[] {
    const out = [...this.latest].map(([device, e]) => ({
      device,
      release: e.release,
      error: e.error?.message,
      checkedAt: new Date(e.at).toISOString(),
      stale: e.stale ?? false,
    }));
    for (const [device, e] of this.negative) {
      out.push({ device, release: undefined, error: (e.error ?? new NoFirmware(device)).message, checkedAt: new Date(e.at).toISOString(), stale: false });
    }
    return out;
  }

  /** Releases go to `latest`; answers without one to the small `negative` LRU (see MAX_NEGATIVE_ANSWERS). */
  private remember(deviceId: string, entry: LatestEntry): void {
    this.latest.delete(deviceId);
    this.negative.delete(deviceId);
    if (!entry.release) {
      this.negative.set(deviceId, entry.error instanceof NoFirmware ? { at: entry.at } : { error: entry.error, at: entry.at });
      if (this.negative.size > MAX_NEGATIVE_ANSWERS) this.negative.delete(this.negative.keys().next().value as string);
      return;
    }
    this.latest.set(deviceId, entry);
    if (this.latest.size > MAX_REMEMBERED_DEVICES) this.latest.delete(this.latest.keys().next().value as string);
  }

  private async lookup(device: DeviceRef, comp: Composition, notBefore: number): Promise<Release> {
    const previous = this.latest.get(device.id)?.release ?? (await this.lastGoodOnDisk(device, comp));
    const scope = this.callScope();
    try {
      const { release, evidence } = this.o.shared
        ? await this.adopt(await this.o.shared(device.id, notBefore, () => this.newestVerified(device, comp, scope.signal)))
        : await this.newestVerified(device, comp, scope.signal);
      this.failures.answered(comp.source.id);
      this.remember(device.id, { release, at: Date.now() });
      this.o.budget.touch(release.sha256);
      const changed = !previous || previous.sha256 !== release.sha256 || previous.version !== release.version;
      if (changed || !sameProvenance(previous, release)) {
        this.acceptedOnDisk.set(device.id, { release });
        await this.o.releases.putLastGood(device.id, { release, ...(evidence !== undefined ? { evidence } : {}) });
      }
      if (changed) {
        this.o.logger.info('release changed', { device: device.id, version: release.version, previous: previous?.version, sha256: release.sha256 });
        this.o.events.emit('release-changed', { device: device.id, release, previous });
      }
      return release;
    } catch (thrown) {
      const err = asDeviceFailure(device.id, thrown);
      if (err instanceof NoFirmware || err instanceof NoVerifiedFirmware) {
        this.failures.answered(comp.source.id);
        // A source that says why (a repository missing) is logged, bounded like failures.
        if (err instanceof NoFirmware && err.detail) this.failures.failed({ device: device.id, source: comp.source.id, error: err });
        this.remember(device.id, { error: err, at: Date.now() });
        throw err;
      }
      const message = errorMessage(err);
      const stale = previous !== undefined;
      this.failures.failed({ device: device.id, source: comp.source.id, error: err, ...(previous ? { servedVersion: previous.version } : {}) });
      this.o.events.emit('refresh-failed', { device: device.id, error: message, stale });
      if (previous) {
        this.remember(device.id, { release: previous, at: Date.now(), stale: true });
        return previous;
      }
      const failure = err instanceof DeviceError ? err : isSourceUnavailable(err) ? new SourceUnavailable(device.id, err) : new SourceFailed(device.id, err);
      this.remember(device.id, { error: failure, at: Date.now() });
      throw failure;
    } finally {
      scope.end();
    }
  }

  /** A release another process of the host built into the shared cache: counted in this process's budget too. */
  private async adopt(built: Built): Promise<Built> {
    const r = built.release;
    if (!this.o.budget.holds(r.sha256) && (await this.o.content.has(r.sha256, r.size))) await this.o.budget.added({ sha256: r.sha256, size: r.size });
    return built;
  }

  private async newestVerified(device: DeviceRef, comp: Composition, signal: AbortSignal): Promise<Built> {
    const offered = await comp.source.versions(device, signal);
    const ranked = rankVersions(offered, device.allowPrerelease);
    logCandidates(this.o.logger, device, comp.source.id, offered, ranked, MAX_CANDIDATES);
    if (ranked.length === 0) throw new NoFirmware(device.id);
    const reasons: string[] = [];
    for (const candidate of ranked.slice(0, MAX_CANDIDATES)) {
      const artifact = await this.resolveArtifact(device, comp.source, candidate, signal);
      const verdict = await this.verdict(device, comp.verifier, artifact, signal);
      if (!verdict.ok) {
        reasons.push(`${candidate.version}: ${verdict.reason}`);
        this.o.logger.debug('version skipped', { device: device.id, version: candidate.version, why: `refused by ${comp.verifier.id}: ${verdict.reason}` });
        continue;
      }
      this.o.logger.debug('version chosen', { device: device.id, version: candidate.version, tag: candidate.tag, digest: artifact.digest, verifiedBy: verdict.by });
      return this.build(device, comp, artifact, verdict.by, verdict.evidence, signal);
    }
    throw new NoVerifiedFirmware(device.id, reasons);
  }

  /**
   * Verdicts are remembered per verifier instance and digest. An acceptance holds for good (the digest
   * pins the bytes); a rejection only for the refresh interval, or until the device is invalidated,
   * because `cosign sign` usually follows `oras push` and a signature may arrive after the first poll.
   */
  private async verdict(device: DeviceRef, verifier: VerifierPlugin, artifact: Artifact, signal: AbortSignal): Promise<Verdict> {
    let byDigest = this.verdicts.get(verifier);
    if (!byDigest) this.verdicts.set(verifier, (byDigest = new Map()));
    const known = byDigest.get(artifact.digest);
    const now = Date.now();
    if (known && (known.verdict.ok || (now - known.at < this.o.refreshMs && known.at > this.rejectionsUntil))) {
      this.o.logger.debug('verification remembered', { device: device.id, version: artifact.version, digest: artifact.digest, verifier: verifier.id, ...verdictFields(known.verdict) });
      return known.verdict;
    }
    let verdict: Verdict;
    try {
      verdict = await verifier.verify(device, artifact, signal);
    } catch (e) {
      // Unavailable is the verifier's one expected throw; anything else is a fault of that plugin, named.
      throw isSourceUnavailable(e) || signal.aborted ? e : new Error(`verifier ${verifier.id} threw: ${errorMessage(e)}`, { cause: e });
    }
    this.o.logger.debug('verification', { device: device.id, version: artifact.version, digest: artifact.digest, verifier: verifier.id, ...verdictFields(verdict) });
    byDigest.delete(artifact.digest);
    if (byDigest.size >= MAX_REMEMBERED_VERDICTS) byDigest.delete(byDigest.keys().next().value as string);
    byDigest.set(artifact.digest, { verdict, at: now });
    if (!verdict.ok) {
      const once = `${device.id}\0${artifact.digest}\0${verdict.reason}`;
      if (!this.rejectionsLogged.has(once)) {
        if (this.rejectionsLogged.size >= MAX_REMEMBERED_VERDICTS) this.rejectionsLogged.clear();
        this.rejectionsLogged.add(once);
        this.o.logger.warn('version rejected by verifier', {
          device: device.id, version: artifact.version, digest: artifact.digest, verifier: verifier.id, reason: verdict.reason,
          ...(verdict.detail ? { detail: verdict.detail } : {}),
        });
        this.o.events.emit('verify-rejected', { device: device.id, version: artifact.version, digest: artifact.digest, verifier: verifier.id, reason: verdict.reason });
      }
    }
    return verdict;
  }

  /** Downloads, extracts and stores an artifact once, however many devices ask at the same time. */
  private build(device: DeviceRef, comp: Composition, artifact: Artifact, verifiedBy: string, evidence: unknown, signal: AbortSignal): Promise<Built> {
    const provenance = provenanceNow(device, comp);
    const key = Releases.key({ source: provenance.source, sourceDigest: artifact.digest, verifier: provenance.verifier, chain: provenance.chain, device: device.id });
    return this.builds.run(key, async () => {
      const known = (await this.o.releases.getRelease(key))?.release;
      if (known && this.o.budget.holds(known.sha256) && (await this.o.content.has(known.sha256, known.size))) {
        this.o.events.emit('cache-lookup', { device: device.id, hit: true });
        return { release: { ...known, verifiedBy, provenance }, evidence };
      }
      this.o.events.emit('cache-lookup', { device: device.id, hit: false });
      // Room first, for the size the source announces (extraction may change it; checked again after).
      const current = this.latest.get(device.id)?.release ?? this.acceptedOnDisk.get(device.id)?.release;
      await this.o.budget.makeRoom(artifact.size ?? 0, current?.sha256);
      const input = await artifact.open(signal);
      const { stream, applied } = await extractChain(input, comp.extract, this.o.extractors, {
        device, name: artifact.name, mediaType: artifact.mediaType, limits: this.o.limits, logger: this.o.logger, signal,
      });
      // Bytes no extractor changed, from a stream that checks them itself: hashed once, not twice.
      const checked = applied.length === 0 && artifact.contentDigest?.startsWith('sha256:') ? artifact.contentDigest.slice(7) : undefined;
      const blob = await this.o.content.put(stream, undefined, checked);
      if (!this.o.budget.canHold(blob.size)) {
        if (!this.o.budget.holds(blob.sha256)) await this.o.content.remove(blob.sha256);
        throw new SourceFailed(device.id, new Error(`release ${artifact.version} has ${blob.size} bytes, more than the whole cache may hold (cache.maxBytes ${this.o.budget.maxBytes}): raise --cache-max-bytes`));
      }
      const release: Release = {
        device: device.id, version: artifact.version, tag: artifact.tag,
        size: blob.size, crc32: blob.crc32, sha256: blob.sha256,
        sourceId: comp.source.id, sourceDigest: artifact.digest, verifiedBy, extractors: applied,
        ...(artifact.name ? { name: artifact.name } : {}),
        createdAt: new Date().toISOString(),
        provenance,
      };
      // Pinned while its record is written, so another write cannot evict it in between.
      this.o.budget.pin(blob.sha256);
      try {
        await this.o.budget.added(blob);
        await this.o.releases.putRelease(key, { release, ...(evidence !== undefined ? { evidence } : {}) });
      } finally {
        this.o.budget.unpin(blob.sha256);
      }
      this.o.logger.info('release built', { device: device.id, version: release.version, size: release.size, sha256: release.sha256, extractors: applied });
      return { release, evidence };
    });
  }

  /** The device's last good release on disk, when it is still in the cache and its composition accepts it now. */
  private async lastGoodOnDisk(device: DeviceRef, comp: Composition): Promise<Release | undefined> {
    const known = this.acceptedOnDisk.get(device.id);
    if (known) return known.release;
    const record = await this.o.releases.getLastGood(device.id);
    const r = record?.release;
    if (!record || !r || !this.o.budget.holds(r.sha256) || !(await this.o.content.has(r.sha256, r.size))) return undefined;
    const verdict = await acceptCached(device, comp, r, record.evidence);
    if (!verdict.ok) {
      const once = `${device.id}\0${r.sha256}\0${verdict.reason}`;
      if (!this.refusalsLogged.has(once)) {
        if (this.refusalsLogged.size >= MAX_REMEMBERED_VERDICTS) this.refusalsLogged.clear();
        this.refusalsLogged.add(once);
        this.o.logger.warn('cached release not served: the configuration does not accept it', { device: device.id, version: r.version, sha256: r.sha256, reason: verdict.reason });
      }
    }
    const accepted = verdict.ok ? verdict.release : undefined;
    if (this.acceptedOnDisk.size >= MAX_REMEMBERED_DEVICES) this.acceptedOnDisk.clear();
    this.acceptedOnDisk.set(device.id, accepted ? { release: accepted } : {});
    return accepted;
  }
}

function sameProvenance(a: Release | undefined, b: Release): boolean {
  const x = a?.provenance, y = b.provenance;
  return x !== undefined && y !== undefined && x.source === y.source && x.verifier === y.verifier && x.chain === y.chain;
}

function verdictFields(v: Verdict): Record<string, unknown> {
  return v.ok ? { ok: true, by: v.by } : { ok: false, reason: v.reason, ...(v.detail ? { detail: v.detail } : {}) };
}
