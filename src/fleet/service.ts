/**
 * FleetService answers "what does this instance get?" for the device service, records check-ins and
 * outcomes, runs the rollout gates, and carries out operator actions. It has no HTTP in it and knows
 * no protocol: front doors hand it request facts.
 *
 * Decisions come from an in-memory snapshot of the decision state (rollouts, pins, yanks, channels),
 * refreshed from the store every few seconds, and from the stream's verified releases (kept here,
 * asked of the resolver when the newest changes). A poll therefore never waits for the database:
 * when the store is down, devices keep getting what the last known state allows, and check-ins queue
 * in memory until it is back.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../plugin.ts';
import type { Composition } from '../core/composition.ts';
import { deviceRef } from '../core/composition.ts';
import type { Resolver } from '../core/resolver.ts';
import type { Release } from '../core/release.ts';
import type { CoreEventBus, HttpRequestDone } from '../core/events.ts';
import type { ReleaseChooser } from '../core/device-service.ts';
import type { DeviceCall } from '../core/device-request.ts';
import { NoFirmware, errorMessage } from '../core/errors.ts';
import { SingleFlight } from '../core/single-flight.ts';
import { bootId, deriveInstance, reportedVersion, type Instance } from './instance.ts';
import { offer, placement, rolloutFor, type Offer } from './offer.ts';
import { EMPTY_STATE, streamMatches, type DecisionState, type Pin, type Rollout, type RolloutState } from './model.ts';
import { FINAL, applyCheckin, applyDownload, exposedCounts, type OutcomeCounts, type Outcome } from './outcomes.ts';
import { CheckinBuffer } from './checkin-buffer.ts';
import { FleetStore, type Actor, type AuditEntry, type InstanceRow, type OutcomeRow } from './store.ts';
import { pinFromSpec, rolloutFromSpec, type FleetConfig, type PinSpec, type RolloutSpec } from './spec.ts';
import { evaluateGates } from './gates.ts';

export interface FleetOptions {
  /** `sqlite://FILE` or `postgres://…`. */
  databaseUrl: string;
  config: FleetConfig;
  /** Whether polls and downloads are recorded (check-ins and outcomes). */
  checkins: boolean;
  refreshMs: number;
  resolver: Resolver;
  events: CoreEventBus;
  logger: Logger;
  /** Composition of a stream, to ask the resolver for its releases. */
  compositionOf(stream: string): Composition | undefined;
  /** Whether this process evaluates the gates (the leader of workers and replicas); default: yes. */
  leads?: () => boolean;
}

/** Verified releases kept per stream for rollouts, pins, yanks and channels to choose from. */
export const RELEASES_PER_STREAM = 4;
/** Outcome rows are re-read this far back, for flushes in flight and clocks a little apart. */
const OUTCOME_SYNC_MARGIN_MS = 10_000;
/** How long after a failed attempt the release list of a stream is asked for again. */
const CATALOG_RETRY_MS = 30_000;
/** Pending check-in rows kept at most while the store is unreachable (then the oldest are dropped). */
export const MAX_PENDING_CHECKINS = 100_000;
/** Pending rows that trigger a flush before the second is up. */
const FLUSH_AT = 2_000;
const FLUSH_MS = 1_000;
/**
 * Longest a store call may take before it counts as failed: Bun.SQL has no query timeout, and a hung
 * server (or a network that drops packets) would hold the call forever (docs/sql-layer.md).
 */
export const STORE_DEADLINE_MS = 5_000;
/** Instances whose outcomes are tracked in memory at most. */
const MAX_TRACKED = 200_000;
/**
 * A check-in that says nothing new (same stream, route, reported version, boot id, release served,
 * address and identity) is written at most this often per instance: only its `last_seen` would
 * change. A fleet polling every few seconds then costs the store one row per instance per minute.
 */
export const LAST_SEEN_WRITE_MS = 60_000;

/** What was last queued for an instance, to skip check-ins that change nothing but the time. */
interface LastCheckin {
  stream: string;
  route: string;
  reported: string | null;
  boot: string | null;
  served: string | undefined;
  address: string;
  identity: string | undefined;
  at: number;
}

export class FleetUnavailable extends Error {
  override readonly name = 'FleetUnavailable';
}
export class FleetConflict extends Error {
  override readonly name = 'FleetConflict';
}
export class FleetNotFound extends Error {
  override readonly name = 'FleetNotFound';
}

export interface RolloutView extends Rollout {
  counts: OutcomeCounts;
}

export class FleetService implements ReleaseChooser {
  private state: DecisionState = EMPTY_STATE;
  private governed = new Map<string, boolean>();
  private readonly catalog = new Map<string, Release[]>();
  private readonly catalogs = new SingleFlight<Release[]>();
  /** Streams whose release list could not be read in full (source failed), and when: asked again later. */
  private readonly incomplete = new Map<string, number>();
  private readonly outcomes = new Map<string, Outcome[]>();
  private readonly lastCheckin = new Map<string, LastCheckin>();
  /** Offers remembered per stream and instance: the offer is pure, so equal inputs give the same answer. */
  private offers = new Map<string, Map<string, { epoch: number; releases: Release[]; running: string | undefined; offer: Offer }>>();
  private offersCount = 0;
  /** Bumped whenever the decision state's content changes. */
  private epoch = 0;
  private stateJson = '';
  private readonly buffer = new CheckinBuffer(MAX_PENDING_CHECKINS);
  private readonly downloads = new Map<string, { instance: string; stream: string; version: string; bootId?: string }[]>();
  private readonly capWindow = new Map<string, { minute: number; n: number }>();
  private counts = new Map<string, Record<string, number>>();
  private storeOk = true;
  /** Outcomes written by any replica since this time are merged at the next tick. */
  private outcomesSyncedAt = 0;
  private lastRefresh = 0;
  private flushing: Promise<void> | undefined;
  private ticking: Promise<void> | undefined;
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private readonly stateListeners: (() => void)[] = [];
  private readonly detach: () => void;

  private constructor(readonly store: FleetStore, private readonly o: FleetOptions) {
    const onDone = (e: HttpRequestDone) => this.onRequestDone(e);
    const onEvicted = (e: { sha256: string }) => this.forgetBlob(e.sha256);
    o.events.on('http-request', onDone);
    o.events.on('cache-evicted', onEvicted);
    this.detach = () => {
      o.events.off('http-request', onDone);
      o.events.off('cache-evicted', onEvicted);
    };
  }

  static async start(o: FleetOptions): Promise<FleetService> {
    const store = await FleetStore.open(o.databaseUrl);
    const svc = new FleetService(store, o);
    try {
      await svc.applyConfig();
      await svc.refresh();
      svc.outcomesSyncedAt = Date.now();
      for (const row of await store.allOutcomes()) svc.track(outcomeFromRow(row));
    } catch (e) {
      svc.detach();
      await store.close();
      throw e;
    }
    svc.timers.push(setInterval(() => void svc.tick(), o.refreshMs));
    svc.timers.push(setInterval(() => void svc.flush(), FLUSH_MS));
    for (const t of svc.timers) t.unref?.();
    return svc;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.detach();
    await this.ticking;
    await this.flush();
    await this.store.close();
  }

  // ---------------------------------------------------------------- the device path (synchronous)

  /**
   * The release this instance of a stream gets now, given the stream's newest verified release.
   * Without a promise whenever the stream's releases are known (every poll after the first).
   */
  choose(stream: string, comp: Composition, newest: Release, q: DeviceCall, identity?: string): Release | Promise<Release> {
    const inst = deriveInstance(q, identity);
    if (!this.governs(stream)) {
      if (this.o.checkins) this.record(stream, inst, q, identity, newest, undefined);
      return newest;
    }
    const releases = this.catalog.get(stream);
    if (releases && releases[0]?.sha256 === newest.sha256 && releases[0]?.version === newest.version) {
      const failedAt = this.incomplete.get(stream);
      if (failedAt !== undefined && Date.now() - failedAt > CATALOG_RETRY_MS) {
        this.incomplete.set(stream, Date.now());
        void this.releasesOf(stream, comp, newest).catch(() => undefined);
      }
      return this.decided(stream, releases, inst, q, identity);
    }
    return this.releasesOf(stream, comp, newest).then((rs) => this.decided(stream, rs, inst, q, identity));
  }

  private decided(stream: string, releases: Release[], inst: Instance, q: DeviceCall, identity: string | undefined): Release {
    const now = Date.now();
    const reported = reportedVersion(q);
    const running = reported ?? this.lastVerified(inst.id, stream);
    let byInstance = this.offers.get(stream);
    const memo = byInstance?.get(inst.id);
    let o: Offer;
    if (memo && memo.epoch === this.epoch && memo.releases === releases && memo.running === running) o = memo.offer;
    else {
      o = offer(this.state, stream, releases, { id: inst.id, ...(running ? { running } : {}) }, now);
      if (!byInstance) this.offers.set(stream, (byInstance = new Map()));
      if (memo) {
        memo.epoch = this.epoch; memo.releases = releases; memo.running = running; memo.offer = o;
      } else {
        byInstance.set(inst.id, { epoch: this.epoch, releases, running, offer: o });
        if (++this.offersCount > MAX_TRACKED) {
          this.offers = new Map();
          this.offersCount = 0;
        }
      }
    }
    if (o.rollout && o.release && this.capReached(o, inst.id, stream, now)) {
      o = offer(this.state, stream, releases, { id: inst.id, ...(running ? { running } : {}) }, now, { excludeRollouts: new Set([o.rollout]) });
    }
    if (this.o.checkins) this.record(stream, inst, q, identity, o.release, o, now, reported ?? null);
    if (!o.release) throw new NoFirmware(stream);
    return o.release;
  }

  /** Whether anything configured can change what this stream's instances get. */
  private governs(stream: string): boolean {
    let g = this.governed.get(stream);
    if (g === undefined) {
      const s = this.state;
      g = Object.keys(s.channels).length > 0
        || s.rollouts.some((r) => r.selector.streams.some((p) => streamMatches(p, stream)))
        || s.pins.some((p) => streamMatches(p.stream, stream))
        || s.yanks.some((y) => streamMatches(y.stream, stream));
      if (this.governed.size > 100_000) this.governed.clear();
      this.governed.set(stream, g);
    }
    return g;
  }

  private releasesOf(stream: string, comp: Composition, newest: Release): Promise<Release[]> {
    return this.catalogs.run(stream, async () => {
      let list: Release[];
      try {
        list = await this.o.resolver.verifiedReleases(deviceRef(stream, comp), comp, RELEASES_PER_STREAM);
        this.incomplete.delete(stream);
      } catch (e) {
        this.o.logger.warn('fleet: could not list the verified releases of a stream; deciding from the newest only until it can', { stream, error: errorMessage(e) });
        list = this.catalog.get(stream) ?? [];
        this.incomplete.set(stream, Date.now());
      }
      const rest = list.filter((r) => !(r.version === newest.version && r.sha256 === newest.sha256));
      const rs = [newest, ...rest].slice(0, RELEASES_PER_STREAM);
      this.catalog.set(stream, rs);
      return rs;
    });
  }

  /**
   * A release whose bytes the cache evicted is listed again (and so built again) at the stream's next
   * poll, instead of being offered from the remembered list while its blob is gone.
   */
  private forgetBlob(sha256: string): void {
    for (const [stream, releases] of this.catalog) {
      if (!releases.some((r) => r.sha256 === sha256)) continue;
      this.catalog.delete(stream);
      const dropped = this.offers.get(stream);
      if (dropped) {
        this.offersCount -= dropped.size;
        this.offers.delete(stream);
      }
    }
  }

  /** The per-minute cap of new downloads of a rollout: reached for an instance not yet offered it. */
  private capReached(o: Offer, instance: string, stream: string, now: number): boolean {
    const ro = this.state.rollouts.find((r) => r.id === o.rollout);
    const cap = ro?.gates.maxDownloadsPerMinute ?? 0;
    if (!ro || cap <= 0 || ro.canary.includes(instance)) return false;
    if (this.outcomes.get(instance)?.some((x) => x.stream === stream && x.version === ro.version)) return false;
    const minute = Math.floor(now / 60_000);
    const w = this.capWindow.get(ro.id);
    if (!w || w.minute !== minute) {
      this.capWindow.set(ro.id, { minute, n: 1 });
      return false;
    }
    if (w.n >= cap) return true;
    w.n++;
    return false;
  }

  private lastVerified(instance: string, stream: string): string | undefined {
    const list = this.outcomes.get(instance);
    if (!list) return undefined;
    let best: Outcome | undefined;
    for (const x of list) if (x.stream === stream && x.state === 'verified' && (!best || x.updatedAt > best.updatedAt)) best = x;
    return best?.version;
  }

  /**
   * One check-in: the instance's latest facts, and its outcomes. Synchronous, in memory. `now` and
   * `reported` (the version the request reports) are passed when the caller has them already.
   */
  private record(stream: string, inst: Instance, q: DeviceCall, identity: string | undefined, served: Release | undefined, o: Offer | undefined, now = Date.now(), reported = reportedVersion(q) ?? null): void {
    const route = q.route ?? 'version';
    // The stored route names the protocol too (`arduino:firmware`); outcomes read only the route.
    const label = q.protocol ? `${q.protocol}:${route}` : route;
    const boot = bootId(q) ?? null;
    const last = this.lastCheckin.get(inst.id);
    if (
      !last || now - last.at >= LAST_SEEN_WRITE_MS || last.stream !== stream || last.route !== label || last.reported !== reported || last.boot !== boot
      || last.served !== served?.sha256 || last.address !== q.remoteAddress || last.identity !== identity
    ) {
      this.buffer.instance({
        instance: inst.id, weak: inst.weak ? 1 : 0, stream, route: label, reported_version: reported, boot_id: boot,
        served_version: served?.version ?? null, served_sha256: served?.sha256 ?? null, address: q.remoteAddress,
        identity: identity ?? null, first_seen: now, last_seen: now, downloaded_version: null, downloaded_at: null,
      });
      if (last) {
        last.stream = stream; last.route = label; last.reported = reported; last.boot = boot;
        last.served = served?.sha256; last.address = q.remoteAddress; last.identity = identity; last.at = now;
      } else {
        this.lastCheckin.set(inst.id, { stream, route: label, reported, boot, served: served?.sha256, address: q.remoteAddress, identity, at: now });
        if (this.lastCheckin.size > MAX_TRACKED) this.lastCheckin.delete(this.lastCheckin.keys().next().value as string);
      }
    }
    if (q.method === 'HEAD') return;
    let list = this.outcomes.get(inst.id);
    if (!list) {
      list = [];
      this.outcomes.set(inst.id, list);
      if (this.outcomes.size > MAX_TRACKED) this.outcomes.delete(this.outcomes.keys().next().value as string);
    }
    const result = q.headers['x-update-result'];
    const failedReport = result !== undefined && /^fail/i.test(result);
    // The common poll changes no outcome: nothing open for this stream, and the answer already tracked.
    if (route === 'version' && !failedReport && !hasOpenOutcome(list, stream) && (!served || served.version === reported || list.some((x) => x.stream === stream && x.version === served.version))) return;
    const changed = applyCheckin(list, {
      instance: inst.id, stream, route, now,
      ...(served ? { offered: served.version } : {}),
      ...(o?.rollout ? { rolloutId: o.rollout } : {}),
      ...(reported ? { reported } : {}),
      ...(boot ? { bootId: boot } : {}),
      ...(failedReport ? { failedReport: true } : {}),
      ...(q.reportsResult ? { reportsResult: true } : {}),
    });
    if (list.length > 16) list.splice(0, list.length - 16);
    for (const c of changed) this.buffer.outcome(outcomeRow(c));
    if (route === 'firmware' && served && q.download !== 'pieces') {
      const key = `${stream}\0${q.remoteAddress}`;
      const waiting = this.downloads.get(key) ?? [];
      waiting.push({ instance: inst.id, stream, version: served.version, ...(boot ? { bootId: boot } : {}) });
      if (waiting.length > 64) waiting.shift();
      this.downloads.set(key, waiting);
      if (this.downloads.size > MAX_TRACKED) this.downloads.delete(this.downloads.keys().next().value as string);
    }
    if (this.buffer.size >= FLUSH_AT) void this.flush();
  }

  /** The device listener reported a `/firmware` answer written (or cut short): the download's end. */
  private onRequestDone(e: HttpRequestDone): void {
    if (e.route !== '/firmware' || !e.device || e.method !== 'GET') return;
    const key = `${e.device}\0${e.remoteAddress}`;
    const waiting = this.downloads.get(key);
    const d = waiting?.shift();
    if (!d) return;
    if (waiting?.length === 0) this.downloads.delete(key);
    // A Range that stops before the last byte is one piece of the download (ESP-IDF's 64 KiB reads).
    const completed = (e.status === 200 || e.status === 206) && !e.errorCode && e.bytes > 0 && !e.partial;
    if (!completed) return;
    this.downloadCompleted(d.instance, d.stream, d.version, d.bootId, e.remoteAddress, e.protocol);
  }

  /**
   * Every byte of a release reached an instance: its outcome becomes downloaded. Called for `/firmware`
   * answers, and by front doors whose clients read an image in pieces (`download: 'pieces'`).
   */
  downloadCompleted(instance: string, stream: string, version: string, bootId: string | undefined, address: string, protocol?: string): void {
    const now = Date.now();
    const list = this.outcomes.get(instance);
    const changed = list ? applyDownload(list, stream, version, true, bootId, now) : undefined;
    if (changed) this.buffer.outcome(outcomeRow(changed));
    this.buffer.instance({
      instance, weak: instance.startsWith('addr:') ? 1 : 0, stream, route: protocol && protocol !== 'native' ? `${protocol}:firmware` : 'firmware', reported_version: null, boot_id: null,
      served_version: null, served_sha256: null, address, identity: null, first_seen: now, last_seen: now,
      downloaded_version: version, downloaded_at: now,
    });
  }

  /**
   * Merges outcome changes written by other replicas (an instance may download from one and report
   * to another): a row newer than what this replica holds replaces it. Rows are read with a margin
   * for writes still in flight and clocks a little apart.
   */
  private async syncOutcomes(): Promise<void> {
    const now = Date.now();
    const rows = await this.store.outcomesSince(this.outcomesSyncedAt - OUTCOME_SYNC_MARGIN_MS);
    this.outcomesSyncedAt = now;
    for (const row of rows) {
      const list = this.outcomes.get(row.instance);
      const mine = list?.find((x) => x.stream === row.stream && x.version === row.version);
      if (!mine) this.track(outcomeFromRow(row));
      else if (row.updated_at > mine.updatedAt) Object.assign(mine, outcomeFromRow(row));
    }
  }

  private track(o: Outcome): void {
    const list = this.outcomes.get(o.instance) ?? [];
    list.push(o);
    this.outcomes.set(o.instance, list);
  }

  // ---------------------------------------------------------------- background: flush, refresh, gates

  /** Writes pending check-ins; on failure they stay queued (bounded) for the next flush. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.buffer.size === 0) return Promise.resolve();
    const batch = this.buffer.take();
    this.flushing = deadline(this.store.writeCheckins(batch.instances, batch.outcomes), 'writing check-ins')
      .then(
        () => {
          this.buffer.written += batch.instances.length + batch.outcomes.length;
          this.storeUp();
        },
        (e) => {
          batch.restore();
          this.storeDown(e);
        },
      )
      .finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  /** One background round: reload the decision state, then evaluate the gates. */
  tick(): Promise<void> {
    if (this.ticking) return this.ticking;
    this.ticking = (async () => {
      await deadline(this.refresh(), 'reading the decision state').catch((e) => this.storeDown(e));
      if (this.storeOk) await deadline(this.syncOutcomes(), 'reading outcomes').catch((e) => this.storeDown(e));
      if (this.storeOk && (this.o.leads?.() ?? true)) await deadline(this.gates(), 'evaluating gates').catch((e) => this.storeDown(e));
    })().finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  /** Reloads rollouts, pins, yanks and channels from the store; config channels and labels are added. */
  async refresh(): Promise<void> {
    const s = await this.store.loadDecisionState();
    const channels: Record<string, string[]> = { ...s.channels };
    for (const [ch, instances] of Object.entries(this.o.config.channels ?? {})) {
      for (const i of instances) channels[i] = [...new Set([...(channels[i] ?? []), ch])];
    }
    const labels: Record<string, string[]> = {};
    for (const [label, instances] of Object.entries(this.o.config.labels ?? {})) for (const i of instances) (labels[i] ??= []).push(label);
    const before = this.state;
    const next = { ...s, channels, labels };
    const json = JSON.stringify(next);
    if (json !== this.stateJson) {
      this.stateJson = json;
      this.state = next;
      this.epoch++;
      this.governed = new Map();
      if (JSON.stringify(before.rollouts) !== JSON.stringify(next.rollouts)) for (const l of this.stateListeners) l();
    }
    this.lastRefresh = Date.now();
    this.storeUp();
  }

  private async gates(): Promise<void> {
    const now = Date.now();
    for (const r of this.state.rollouts) {
      if (r.state !== 'running') continue;
      await this.store.timeOut(r.id, now - r.gates.timeoutSeconds * 1000, now);
      for (const stream of this.catalog.keys()) {
        if (r.digests[stream] || !r.selector.streams.some((p) => streamMatches(p, stream))) continue;
        const rel = this.catalog.get(stream)?.find((x) => x.version === r.version);
        if (rel) await this.store.pinRolloutDigest(r.id, stream, rel.sha256);
      }
    }
    this.counts = await this.store.rolloutCounts();
    let changed = false;
    for (const r of this.state.rollouts) {
      const verdict = evaluateGates(r, this.counts.get(r.id) ?? {}, now);
      if (verdict.action === 'none') continue;
      const ok = await this.store.transition(r.id, { state: r.state, step: r.step }, verdict.to, { who: 'gate', why: verdict.why }, `rollout.${verdict.action}`, now);
      if (ok) {
        changed = true;
        this.o.logger.info(`rollout ${verdict.action === 'pause' ? 'paused' : 'advanced'} by its gate`, { rollout: r.id, step: verdict.to.step, state: verdict.to.state, why: verdict.why });
      }
    }
    if (changed) await this.refresh();
  }

  private storeDown(e: unknown): void {
    if (this.storeOk) this.o.logger.warn('fleet store unreachable: deciding from the last known state, queueing check-ins', { store: this.store.where, error: errorMessage(e) });
    this.storeOk = false;
  }

  private storeUp(): void {
    if (!this.storeOk) this.o.logger.info('fleet store reachable again', { store: this.store.where, pending: this.buffer.size });
    this.storeOk = true;
  }

  // ---------------------------------------------------------------- operator actions and views

  /** Config rollouts and pins are created once (by id); later changes go through the operator. */
  private async applyConfig(): Promise<void> {
    const now = Date.now();
    const actor = { who: 'config', why: 'declared in the config file' };
    for (const spec of this.o.config.rollouts ?? []) await this.store.createRollout(rolloutFromSpec(spec, now, randomUUID), actor);
    for (const spec of this.o.config.pins ?? []) await this.store.addPin(pinFromSpec(spec, now, randomUUID), actor);
  }

  async createRollout(spec: RolloutSpec, actor: Actor): Promise<Rollout> {
    const r = rolloutFromSpec(spec, Date.now(), () => `r-${randomUUID().slice(0, 8)}`);
    if (!(await this.guard(() => this.store.createRollout(r, actor)))) throw new FleetConflict(`rollout ${r.id} exists already`);
    await this.refresh();
    return r;
  }

  async rolloutAction(id: string, action: 'pause' | 'resume' | 'advance' | 'abort', actor: Actor): Promise<Rollout> {
    await this.guard(() => this.refresh());
    const r = this.state.rollouts.find((x) => x.id === id);
    if (!r) throw new FleetNotFound(`no rollout '${id}'`);
    const to = manualTransition(r, action);
    if (!to) throw new FleetConflict(`rollout ${id} is ${r.state}: cannot ${action} it`);
    if (!(await this.guard(() => this.store.transition(id, { state: r.state, step: r.step }, to, actor, `rollout.${action}`)))) {
      throw new FleetConflict(`rollout ${id} changed meanwhile; look again`);
    }
    await this.refresh();
    return this.state.rollouts.find((x) => x.id === id) as Rollout;
  }

  async addPin(spec: PinSpec, actor: Actor): Promise<Pin> {
    const p = pinFromSpec(spec, Date.now(), () => `p-${randomUUID().slice(0, 8)}`);
    if (!(await this.guard(() => this.store.addPin(p, actor)))) throw new FleetConflict(`pin ${p.id} exists already`);
    await this.refresh();
    return p;
  }

  async deletePin(id: string, actor: Actor): Promise<void> {
    if (!(await this.guard(() => this.store.deletePin(id, actor)))) throw new FleetNotFound(`no pin '${id}'`);
    await this.refresh();
  }

  async yank(stream: string, version: string, actor: Actor): Promise<void> {
    if (!(await this.guard(() => this.store.yank({ stream, version, ...(actor.why ? { reason: actor.why } : {}), at: Date.now() }, actor)))) {
      throw new FleetConflict(`${stream} ${version} is yanked already`);
    }
    await this.refresh();
  }

  async setChannels(instance: string, channels: string[], actor: Actor): Promise<void> {
    await this.guard(() => this.store.setChannels(instance, channels, actor));
    await this.refresh();
  }

  async rollouts(): Promise<RolloutView[]> {
    await this.guard(() => this.refresh()).catch(() => undefined);
    this.counts = await this.store.rolloutCounts().catch(() => this.counts);
    return this.state.rollouts.map((r) => ({ ...r, counts: exposedCounts(this.counts.get(r.id) ?? {}) }));
  }

  pins(): Pin[] {
    return this.state.pins;
  }

  audit(limit?: number): Promise<AuditEntry[]> {
    return this.guard(() => this.store.audit(limit));
  }

  /** What an instance of a stream would be offered now and why, with its last check-in and outcomes. */
  async explain(stream: string, comp: Composition, newest: Release, instanceId: string | undefined): Promise<{ instance?: string; weak?: boolean; offer: Offer; checkin?: InstanceRow; outcomes: Outcome[]; releases: string[]; newestRollout?: { rollout: string; state: string; step: number; included: boolean; why: string; bucket?: number } }> {
    const releases = this.governs(stream) ? await this.releasesOf(stream, comp, newest) : [newest];
    if (!instanceId) {
      return { offer: { release: newest, version: newest.version, reason: this.governs(stream) ? 'no instance named: the newest release; name one (instance=) to see its rollout placement' : 'newest verified release (no rollout, pin or yank)' }, outcomes: [], releases: releases.map((r) => r.version) };
    }
    const checkin = await this.store.instance(instanceId).catch(() => undefined);
    const running = checkin?.reported_version ?? this.lastVerified(instanceId, stream);
    const o = offer(this.state, stream, releases, { id: instanceId, ...(running ? { running } : {}) }, Date.now());
    // Where the instance stands in the newest release's rollout, also when something else decided.
    const ro = rolloutFor(this.state.rollouts, stream, newest.version);
    const placed = ro ? placement(ro, this.state, instanceId) : undefined;
    return {
      instance: instanceId, weak: instanceId.startsWith('addr:'), offer: o, ...(checkin ? { checkin } : {}),
      ...(ro && placed ? { newestRollout: { rollout: ro.id, state: ro.state, step: ro.step, included: placed.included, why: placed.why, ...(placed.bucket !== undefined ? { bucket: placed.bucket } : {}) } } : {}),
      outcomes: (this.outcomes.get(instanceId) ?? []).filter((x) => x.stream === stream), releases: releases.map((r) => r.version),
    };
  }

  /** The outcomes this replica holds for an instance (protocol front doors decide what to show from them). */
  outcomesOf(instance: string): readonly Outcome[] {
    return this.outcomes.get(instance) ?? [];
  }

  /**
   * An explicit report from a client that sends one (DDI feedback): success makes the outcome
   * verified, failure failed (only for clients that report after the new image booted); canceled is
   * a confirmed cancel of an aborted rollout's deployment. A final outcome is not changed again.
   */
  report(instance: string, stream: string, version: string, result: 'success' | 'failure' | 'canceled'): void {
    const now = Date.now();
    let list = this.outcomes.get(instance);
    if (!list) this.outcomes.set(instance, (list = []));
    let o = list.find((x) => x.stream === stream && x.version === version);
    // A cancel closes a deployment that was offered; it never starts an outcome of its own.
    if (!o && result === 'canceled') return;
    if (!o) list.push((o = { instance, stream, version, state: 'offered', inferred: false, offeredAt: now, updatedAt: now }));
    if (FINAL.has(o.state) && !o.inferred) return;
    o.state = result === 'success' ? 'verified' : result === 'failure' ? 'failed' : 'canceled';
    o.inferred = false;
    o.updatedAt = now;
    this.buffer.outcome(outcomeRow(o));
    if (this.buffer.size >= FLUSH_AT) void this.flush();
  }

  /** Called after a reload that changed a rollout (state, step). */
  onStateChange(listener: () => void): void {
    this.stateListeners.push(listener);
  }

  /**
   * Whether the per-stream notice of a new release (MQTT) must wait: a rollout of that release covers
   * the stream and is not yet at 100 % (an aborted one never lets it out; a yanked release is never announced).
   */
  holdsNotice(stream: string, release: Release): boolean {
    if (this.state.yanks.some((y) => y.version === release.version && streamMatches(y.stream, stream))) return true;
    const ro = rolloutFor(this.state.rollouts, stream, release.version);
    if (!ro) return false;
    if (ro.state === 'done') return false;
    if (ro.state === 'aborted') return true;
    return !(ro.step >= 0 && (ro.steps[ro.step]?.percent ?? 0) >= 100 && (ro.selector.instances?.length ?? 0) === 0 && (ro.selector.labels?.length ?? 0) === 0);
  }

  /** For metrics and status: store health and the check-in buffer. */
  health(): { store: string; kind: string; ok: boolean; pending: number; dropped: number; written: number; lastRefresh: number } {
    return { store: this.store.where, kind: this.store.kind, ok: this.storeOk, pending: this.buffer.size, dropped: this.buffer.dropped, written: this.buffer.written, lastRefresh: this.lastRefresh };
  }

  rolloutCounts(): Map<string, Record<string, number>> {
    return this.counts;
  }

  decisionState(): DecisionState {
    return this.state;
  }

  private async guard<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await deadline(f(), 'an operator change');
    } catch (e) {
      if (e instanceof FleetConflict || e instanceof FleetNotFound) throw e;
      this.storeDown(e);
      throw new FleetUnavailable(`fleet store unreachable (${errorMessage(e)}): the change was not made, retry when it is back`);
    }
  }
}

function manualTransition(r: Rollout, action: 'pause' | 'resume' | 'advance' | 'abort'): { state: RolloutState; step: number; reason?: string } | undefined {
  switch (action) {
    case 'pause':
      return r.state === 'running' ? { state: 'paused', step: r.step, reason: 'paused by the operator' } : undefined;
    case 'resume':
      return r.state === 'paused' ? { state: 'running', step: r.step } : undefined;
    case 'abort':
      return r.state === 'running' || r.state === 'paused' ? { state: 'aborted', step: r.step, reason: 'aborted by the operator' } : undefined;
    case 'advance':
      if (r.state !== 'running' && r.state !== 'paused') return undefined;
      return r.step + 1 >= r.steps.length ? { state: 'done', step: r.steps.length - 1 } : { state: r.state, step: r.step + 1 };
  }
}

/** Whether an outcome of this stream may still move on a poll (downloading, downloaded, verified by inference). */
function hasOpenOutcome(list: readonly Outcome[], stream: string): boolean {
  for (const o of list) if (o.stream === stream && (o.state === 'downloading' || o.state === 'downloaded' || (o.state === 'verified' && o.inferred))) return true;
  return false;
}

/** Rejects when `p` takes longer than STORE_DEADLINE_MS (it may still complete later: writes are upserts). */
function deadline<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the fleet store did not answer within ${STORE_DEADLINE_MS / 1000} s (${what})`)), STORE_DEADLINE_MS);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

function outcomeRow(o: Outcome): OutcomeRow {
  return {
    instance: o.instance, stream: o.stream, version: o.version, rollout_id: o.rolloutId ?? null, state: o.state, inferred: o.inferred ? 1 : 0,
    boot_id: o.bootId ?? null, offered_at: o.offeredAt, downloaded_at: o.downloadedAt ?? null, updated_at: o.updatedAt,
  };
}

function outcomeFromRow(r: OutcomeRow): Outcome {
  return {
    instance: r.instance, stream: r.stream, version: r.version, state: r.state, inferred: r.inferred === 1, offeredAt: r.offered_at, updatedAt: r.updated_at,
    ...(r.rollout_id ? { rolloutId: r.rollout_id } : {}), ...(r.boot_id ? { bootId: r.boot_id } : {}), ...(r.downloaded_at !== null ? { downloadedAt: r.downloaded_at } : {}),
  };
}
