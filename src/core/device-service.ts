/**
 * DeviceService is the device API without HTTP: it validates the device id, finds the device's
 * composition, runs its authenticators, and asks the resolver for its release.
 */
import type { AuthRequest, DeviceRef, DeviceRequest, Logger } from '../plugin.ts';
import type { Composer, Composition } from './composition.ts';
import { deviceRef } from './composition.ts';
import type { Resolver } from './resolver.ts';
import type { Release } from './release.ts';
import { validateDeviceId } from './device-id.ts';
import { AuthenticatorFailed, DeviceError, Forbidden, MissingDevice, NoFirmware, Unauthorized } from './errors.ts';
import { authorize, type Verdict } from './authorize.ts';
import type { AuthAttempts } from './auth-attempts.ts';
import type { QuerySource } from './query-param.ts';

/**
 * A device's request as the core sees it: the plugins' `DeviceRequest` with the device id as the
 * protocol gave it (not validated yet) and which device route asks (`version` when absent, for fleet
 * check-ins). `method` and `path` default to `GET` and `/<route>`.
 */
export interface DeviceQuery extends Omit<DeviceRequest, 'method' | 'path'>, QuerySource {
  device: string | null;
  route?: 'version' | 'firmware';
  method?: string;
  path?: string;
  /** The client protocol that asked (`arduino`, `rauc`, `esp-idf`), for check-ins; absent: the native API. */
  protocol?: string;
  /**
   * How the end of a download is known: from the `/firmware` answer that reaches the last byte
   * (default), or `pieces`: the front door reports it (`FleetService.downloadCompleted`) once every
   * byte was read, over however many Range requests (RAUC streaming).
   */
  download?: 'response' | 'pieces';
}

/**
 * Picks the release an instance of a stream gets, given the stream's newest verified release (the
 * fleet: rollouts, pins, yanks, check-ins). Answers without a promise when it can: it runs on every poll.
 */
export interface ReleaseChooser {
  choose(stream: string, comp: Composition, newest: Release, q: DeviceQuery, identity?: string): Release | Promise<Release>;
}

/** A request let in: which device (the firmware stream), its composition, and who asked. */
export interface Admission {
  deviceId: string;
  composition: Composition;
  /**
   * The authenticated identity (`AuthDecision.identity`: `cert:<CN>`, `token:<owner>`): the
   * instance, where the device id names its firmware stream. Absent for devices with `auth: 'none'`.
   */
  identity?: string;
}

/** How many device ids `DeviceService` remembers the composition of (then it starts over). */
const KNOWN_DEVICES = 10_000;

export class DeviceService {
  /**
   * Valid device ids seen lately that have a composition, with it and their resolver reference: a
   * poll skips the id grammar, the composition rules and a new reference. Ids without a composition
   * are not remembered (made-up ids cannot fill it with refusals).
   */
  private readonly known = new Map<string, { composition: Composition; ref: DeviceRef }>();

  constructor(
    private readonly composer: Composer,
    private readonly resolver: Resolver,
    private readonly repositoryPrefix: string,
    /** Counts, logs and rate-limits refused credentials; without it refusals are only thrown. */
    private readonly attempts?: AuthAttempts,
    /** The fleet; without it every device gets the newest verified release. */
    private readonly chooser?: ReleaseChooser,
    /** Where a failing authenticator is logged (naming it). */
    private readonly logger?: Logger,
  ) {}

  /**
   * The release this device may fetch now; throws a DeviceError otherwise. Answers without a promise
   * when nothing needs waiting for (authenticators that decide at once, a remembered release): the
   * hot path of every poll. Errors before any wait are thrown, after one they reject.
   */
  release(q: DeviceQuery): Release | Promise<Release> {
    const a = this.admit(q);
    if (a instanceof Promise) return a.then((x) => this.chosen(x.deviceId, x.composition, q, x.identity));
    return this.chosen(a.deviceId, a.composition, q, a.identity);
  }

  /** The composition of a valid device id, remembered; a thrown DeviceError for an invalid id or one not served. */
  private composition(device: string): { composition: Composition; ref: DeviceRef } {
    let k = this.known.get(device);
    if (!k) {
      const id = validateDeviceId(device, this.repositoryPrefix);
      const comp = this.composer.for(id);
      if (!comp) throw new NoFirmware(id);
      if (this.known.size >= KNOWN_DEVICES) this.known.clear();
      this.known.set(id, (k = { composition: comp, ref: deviceRef(id, comp) }));
    }
    return k;
  }

  /**
   * Validates the id, finds the composition and runs the authenticators: the admission, or a thrown
   * DeviceError (400, 401, 403, 404, 429). Without a promise while the authenticators decide at once.
   */
  admit(q: DeviceQuery): Admission | Promise<Admission> {
    if (!q.device) throw new MissingDevice();
    const id = q.device;
    const comp = this.composition(id).composition;
    if (comp.auth === 'none') return { deviceId: id, composition: comp };
    // `query` is read from the request only if an authenticator asks for it (it may be parsed then).
    const req: AuthRequest = {
      deviceId: id, method: q.method ?? 'GET', path: q.path ?? `/${q.route ?? 'version'}`, headers: q.headers, get query() { return q.query; }, remoteAddress: q.remoteAddress,
    };
    if (q.peerCertificate) req.peerCertificate = q.peerCertificate;
    // Credentials are checked before the refusal limit: a valid one passes whoever else failed from
    // this address (see auth-attempts.ts for why that helps no brute-forcer).
    if (this.attempts?.limited(q.remoteAddress)) req.rateLimited = true;
    const decision = authorize(comp.auth, req);
    if (decision instanceof Promise) return decision.then((d) => this.admitted(d, q, id, comp));
    return this.admitted(decision, q, id, comp);
  }

  private admitted(decision: Verdict, q: DeviceQuery, id: string, comp: Composition): Admission {
    if (decision.outcome === 'failed') {
      this.logger?.error('authenticator failed', { plugin: decision.by, device: id, remoteAddress: q.remoteAddress, error: decision.error });
      throw withDevice(new AuthenticatorFailed(id, decision.by, decision.error), id);
    }
    if (decision.outcome === 'deny') {
      const limited = this.attempts?.failed({
        device: id, remoteAddress: q.remoteAddress, status: decision.status, reason: decision.reason, plugin: decision.by, ...(decision.presented ? { presented: decision.presented } : {}),
      });
      if (limited) throw withDevice(limited, id);
      throw withDevice(decision.status === 403 ? new Forbidden(decision.reason, decision.by) : new Unauthorized(decision.reason, decision.by, decision.challenge), id);
    }
    return { deviceId: id, composition: comp, identity: decision.identity };
  }

  private chosen(id: string, comp: Composition, q: DeviceQuery, identity?: string): Release | Promise<Release> {
    const k = this.known.get(id);
    const newest = this.resolver.current(k && k.composition === comp ? k.ref : deviceRef(id, comp), comp);
    const chooser = this.chooser;
    if (!chooser) return newest;
    return newest instanceof Promise ? newest.then((r) => chooser.choose(id, comp, r, q, identity)) : chooser.choose(id, comp, newest, q, identity);
  }

  /** Asks the device's source now (webhooks, prefetch), without authentication. */
  async refresh(deviceId: string): Promise<Release> {
    const id = validateDeviceId(deviceId, this.repositoryPrefix);
    const comp = this.composer.for(id);
    if (!comp) throw new NoFirmware(id);
    return this.resolver.refresh(deviceRef(id, comp), comp);
  }
}

function withDevice<E extends DeviceError>(e: E, id: string): E {
  e.device = id;
  return e;
}
