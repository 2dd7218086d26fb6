/**
 * DeviceService is the device API without HTTP: it makes a device's request (validating its id),
 * finds the device's composition, runs its authenticators, and asks for its release. Every device
 * error it throws after the id is validated carries that id.
 */
import type { DeviceRef, Logger } from '../plugin.ts';
import type { Composer, Composition } from './composition.ts';
import { deviceRef } from './composition.ts';
import type { Resolver } from './resolver.ts';
import type { Release } from './release.ts';
import { validateDeviceId } from './device-id.ts';
import { AuthenticatorFailed, Forbidden, NoFirmware, Unauthorized, ofDevice } from './errors.ts';
import { authorize, type Verdict } from './authorize.ts';
import type { AuthAttempts } from './auth-attempts.ts';
import { deviceCall, type CallPurpose, type DeviceCall, type FactsMaybeWithoutPath } from './device-request.ts';

/**
 * Picks the release an instance of a stream gets, given the stream's newest verified release (the
 * fleet: rollouts, pins, yanks, check-ins). Answers without a promise when it can: it runs on every poll.
 */
export interface ReleaseChooser {
  choose(stream: string, comp: Composition, newest: Release, call: DeviceCall, identity?: string): Release | Promise<Release>;
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

/** How many valid device ids with a composition are remembered (then forgotten all at once). */
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
   * The request of `device` (the id as the protocol gave it), validated: throws `MissingDevice` or
   * `InvalidDevice` (400) otherwise. Front doors make every call they hand the service with it.
   */
  call(device: string | null | undefined, facts: FactsMaybeWithoutPath, purpose: CallPurpose): DeviceCall {
    return deviceCall(device, facts, purpose, this.repositoryPrefix, device ? this.known.has(device) : false);
  }

  /** The composition of a valid device id, remembered; a thrown NoFirmware for an id nothing serves. */
  private composition(id: string): { composition: Composition; ref: DeviceRef } {
    let k = this.known.get(id);
    if (!k) {
      const comp = this.composer.for(id);
      if (!comp) throw ofDevice(new NoFirmware(id), id);
      if (this.known.size >= KNOWN_DEVICES) this.known.clear();
      this.known.set(id, (k = { composition: comp, ref: deviceRef(id, comp) }));
    }
    return k;
  }

  /**
   * The release this device may fetch now; throws a DeviceError otherwise. Answers without a promise
   * when nothing needs waiting for (authenticators that decide at once, a remembered release): the
   * hot path of every poll. Errors before any wait are thrown, after one they reject.
   */
  release(call: DeviceCall): Release | Promise<Release> {
    const id = call.deviceId;
    try {
      const a = this.admit(call);
      const r = a instanceof Promise ? a.then((x) => this.chosen(x, call)) : this.chosen(a, call);
      return r instanceof Promise ? r.catch((e) => Promise.reject(ofDevice(e, id))) : r;
    } catch (e) {
      throw ofDevice(e, id);
    }
  }

  /**
   * Finds the composition and runs the authenticators, which get `call` itself: the admission, or a
   * thrown DeviceError (401, 403, 404, 429, 503). Without a promise while the authenticators decide at once.
   * The admission names the id read before any authenticator ran, whatever one did to the request.
   */
  admit(call: DeviceCall): Admission | Promise<Admission> {
    const id = call.deviceId;
    const comp = this.composition(id).composition;
    if (comp.auth === 'none') return { deviceId: id, composition: comp };
    // Credentials are checked before the refusal limit: a valid one passes whoever else failed from
    // this address (see auth-attempts.ts for why that helps no brute-forcer).
    if (this.attempts?.limited(call.remoteAddress)) call.rateLimited = true;
    const decision = authorize(comp.auth, call);
    if (decision instanceof Promise) return decision.then((d) => this.admitted(d, id, call, comp));
    return this.admitted(decision, id, call, comp);
  }

  private admitted(decision: Verdict, id: string, call: DeviceCall, comp: Composition): Admission {
    if (decision.outcome === 'failed') {
      this.logger?.error('authenticator failed', { plugin: decision.by, device: id, remoteAddress: call.remoteAddress, error: decision.error });
      throw new AuthenticatorFailed(id, decision.by, decision.error);
    }
    if (decision.outcome === 'deny') {
      const limited = this.attempts?.failed({
        device: id, remoteAddress: call.remoteAddress, status: decision.status, reason: decision.reason, plugin: decision.by, ...(decision.presented ? { presented: decision.presented } : {}),
      });
      if (limited) throw ofDevice(limited, id);
      throw ofDevice(decision.status === 403 ? new Forbidden(decision.reason, decision.by) : new Unauthorized(decision.reason, decision.by, decision.challenge), id);
    }
    return { deviceId: id, composition: comp, identity: decision.identity };
  }

  private chosen(a: Admission, call: DeviceCall): Release | Promise<Release> {
    const { deviceId: id, composition: comp, identity } = a;
    const k = this.known.get(id);
    const newest = this.resolver.current(k && k.composition === comp ? k.ref : deviceRef(id, comp), comp);
    const chooser = this.chooser;
    if (!chooser) return newest;
    return newest instanceof Promise ? newest.then((r) => chooser.choose(id, comp, r, call, identity)) : chooser.choose(id, comp, newest, call, identity);
  }

  /**
   * Asks the device's source now (webhooks, prefetch), without authentication. `notBefore`: with
   * workers, an answer another worker found at or after this instant will do.
   */
  async refresh(deviceId: string, notBefore?: number): Promise<Release> {
    const id = validateDeviceId(deviceId, this.repositoryPrefix);
    const comp = this.composer.for(id);
    if (!comp) throw new NoFirmware(id);
    return this.resolver.refresh(deviceRef(id, comp), comp, notBefore);
  }
}
