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
}

export class DeviceService {
  constructor(
    private readonly composer: Composer,
    private readonly resolver: Resolver,
    private readonly repositoryPrefix: string,
    /** Counts, logs and rate-limits refused credentials (issue 6); without it refusals are only thrown. */
    private readonly attempts?: AuthAttempts,
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
    if (comp.auth === 'none') return this.resolver.current(deviceRef(id, comp), comp);
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
    return this.resolver.current(deviceRef(id, comp), comp);
  }

  /** Asks the device's source now (webhooks, prefetch), without authentication. */
  async refresh(deviceId: string): Promise<Release> {
    const id = validateDeviceId(deviceId, this.repositoryPrefix);
    const comp = this.composer.for(id);
    if (!comp) throw new NoFirmware(id);
    return this.resolver.refresh(deviceRef(id, comp), comp);
  }
}
