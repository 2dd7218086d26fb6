/**
 * AuthAttempts counts refused device credentials per source address. Each refusal is logged with
 * what was presented (never a secret), emitted as `auth-failed` for metrics, and takes a token from
 * the address's bucket; once the bucket is empty, that address's refusals are answered 429 with
 * Retry-After (unlogged, counted as `rate-limited`) until it refills.
 *
 * The limit applies to refusals only: credentials are checked first, and a valid certificate or
 * token passes even from a limited address. Many devices share an address (a NAT, a gateway, a
 * proxy): one of them, or an attacker behind the same NAT, failing ten times must not lock the
 * others out. This gives a brute-forcer nothing: what it must guess is a 256-bit random token (at
 * least 128 bits; `otaflux hash-token`) or a certificate's private key, and answering 200 to the
 * one right guess among 2^128 changes no odds. What the limit still does: a limited address's
 * refusals cost no log line, say nothing about whose credential was presented (429, never 403),
 * and authenticators are told (`DeviceRequest.rateLimited`) to skip work that only refines a refusal
 * (`auth.token` does not search other devices' hashes), so a flood of wrong tokens costs little.
 * Timing tells nothing the status does not: a token is compared with the device's and the gateway
 * hashes in constant time whether the address is limited or not, and only the refusal path is
 * shortened, after the comparison has failed.
 */
import type { Logger } from '../plugin.ts';
import type { CoreEventBus } from './events.ts';
import { TooManyAttempts } from './errors.ts';

export interface AuthAttemptsOptions {
  /** Refusals an address may have in a burst. Default 10. */
  burst?: number;
  /** Refusals per minute an address earns back. Default 10. */
  perMinute?: number;
  /** Addresses tracked at most (oldest dropped first). Default 10,000. */
  maxAddresses?: number;
  now?: () => number;
}

interface Bucket { tokens: number; at: number }

export interface Refusal {
  device: string;
  remoteAddress: string;
  status: 401 | 403;
  reason: string;
  presented?: string;
  /** The authenticator(s) that decided. */
  plugin?: string;
}

export class AuthAttempts {
  private readonly buckets = new Map<string, Bucket>();
  private readonly burst: number;
  private readonly perMs: number;
  private readonly maxAddresses: number;
  private readonly now: () => number;
  /** Refusals counted since start (also emitted one by one as `auth-failed`). */
  refused = 0;

  constructor(private readonly events: CoreEventBus, private readonly logger: Logger, opts: AuthAttemptsOptions = {}) {
    this.burst = opts.burst ?? 10;
    this.perMs = (opts.perMinute ?? 10) / 60_000;
    this.maxAddresses = opts.maxAddresses ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** Whether `remoteAddress` has used up its refusals (its next refusal is answered 429). Never refuses anything itself. */
  limited(remoteAddress: string): boolean {
    if (this.buckets.size === 0) return false;
    const b = this.refill(remoteAddress);
    return b !== undefined && b.tokens < 1;
  }

  /**
   * Records one refusal. Returns the 429 to answer instead when the address has used up its
   * refusals (then nothing is logged and the bucket is left as it is), else undefined: answer the
   * refusal's own 401 or 403.
   */
  failed(r: Refusal): TooManyAttempts | undefined {
    const b = this.refill(r.remoteAddress);
    if (b && b.tokens < 1) {
      const retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / this.perMs / 1000));
      this.events.emit('auth-failed', { remoteAddress: r.remoteAddress, stage: 'rate-limited', reason: 'too many failed attempts', device: r.device, status: 429, ...(r.plugin ? { plugin: r.plugin } : {}) });
      return new TooManyAttempts(retryAfter);
    }
    this.refused++;
    this.logger.warn('device authentication failed', {
      device: r.device, remoteAddress: r.remoteAddress, status: r.status, reason: r.reason, ...(r.plugin ? { plugin: r.plugin } : {}), ...(r.presented ? { presented: r.presented } : {}),
    });
    this.events.emit('auth-failed', {
      remoteAddress: r.remoteAddress, stage: 'request', reason: r.reason, device: r.device, status: r.status, ...(r.plugin ? { plugin: r.plugin } : {}), ...(r.presented ? { presented: r.presented } : {}),
    });
    const bucket = b ?? this.add(r.remoteAddress);
    bucket.tokens = Math.max(0, bucket.tokens - 1);
    return undefined;
  }

  private refill(addr: string): Bucket | undefined {
    const b = this.buckets.get(addr);
    if (!b) return undefined;
    const t = this.now();
    b.tokens = Math.min(this.burst, b.tokens + (t - b.at) * this.perMs);
    b.at = t;
    if (b.tokens >= this.burst) {
      this.buckets.delete(addr);
      return undefined;
    }
    return b;
  }

  private add(addr: string): Bucket {
    if (this.buckets.size >= this.maxAddresses) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    const b = { tokens: this.burst, at: this.now() };
    this.buckets.set(addr, b);
    return b;
  }
}
