/**
 * DeviceService is the device API without HTTP: it validates the device id, finds the device's
 * composition, runs its authenticators, and asks the resolver for its release.
 */
import type { AuthRequest, PeerCertificate } from '../plugin.ts';
import type { Composer, Composition } from './composition.ts';
import { deviceRef } from './composition.ts';
import type { Resolver } from './resolver.ts';
import type { Release } from './release.ts';
import { validateDeviceId } from './device-id.ts';
import { Forbidden, MissingDevice, NoFirmware, Unauthorized } from './errors.ts';
import { authorize, type Verdict } from './authorize.ts';
import type { AuthAttempts } from './auth-attempts.ts';

export interface DeviceQuery {
  device: string | null;
  headers: Readonly<Record<string, string | undefined>>;
  query: URLSearchParams;
  remoteAddress: string;
  peerCertificate?: PeerCertificate;
  /** Which device route asks (`version` when absent), and its method: for fleet check-ins. */
  route?: 'version' | 'firmware';
  method?: string;
}

/**
 * Picks the release an instance of a stream gets, given the stream's newest verified release (the
 * fleet: rollouts, pins, yanks, check-ins). Answers without a promise when it can: it runs on every poll.
 */
export interface ReleaseChooser {
  choose(stream: string, comp: Composition, newest: Release, q: DeviceQuery, identity?: string): Release | Promise<Release>;
}

export class DeviceService {
  constructor(
    private readonly composer: Composer,
    private readonly resolver: Resolver,
    private readonly repositoryPrefix: string,
    /** Counts, logs and rate-limits refused credentials (issue 6); without it refusals are only thrown. */
    private readonly attempts?: AuthAttempts,
    /** The fleet; without it every device gets the newest verified release. */
    private readonly chooser?: ReleaseChooser,
  ) {}

  /**
   * The release this device may fetch now; throws a DeviceError otherwise. Answers without a promise
   * when nothing needs waiting for (authenticators that decide at once, a remembered release): the
   * hot path of every poll. Errors before any wait are thrown, after one they reject.
   */
  release(q: DeviceQuery): Release | Promise<Release> {
    if (!q.device) throw new MissingDevice();
    const id = validateDeviceId(q.device, this.repositoryPrefix);
    const comp = this.composer.for(id);
    if (!comp) throw new NoFirmware(id);
    if (comp.auth === 'none') return this.chosen(id, comp, q);
    const req: AuthRequest = { deviceId: id, headers: q.headers, query: q.query, remoteAddress: q.remoteAddress };
    if (q.peerCertificate) req.peerCertificate = q.peerCertificate;
    this.attempts?.check(q.remoteAddress, id);
    const decision = authorize(comp.auth, req);
    if (decision instanceof Promise) return decision.then((d) => this.admitted(d, q, id, comp));
    return this.admitted(decision, q, id, comp);
  }

  private admitted(decision: Verdict, q: DeviceQuery, id: string, comp: Composition): Release | Promise<Release> {
    if (decision.outcome === 'deny') {
      this.attempts?.failed({ device: id, remoteAddress: q.remoteAddress, status: decision.status, reason: decision.reason, ...(decision.presented ? { presented: decision.presented } : {}) });
      throw decision.status === 403 ? new Forbidden(decision.reason) : new Unauthorized(decision.reason);
    }
    return this.chosen(id, comp, q, decision.identity);
  }

  private chosen(id: string, comp: Composition, q: DeviceQuery, identity?: string): Release | Promise<Release> {
    const newest = this.resolver.current(deviceRef(id, comp), comp);
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
