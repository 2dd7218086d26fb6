/**
 * AuthAttempts counts refused device credentials per source address (issue 6). Each refusal is
 * logged with what was presented (never a secret), emitted as `auth-failed` for metrics, and
 * takes a token from the address's bucket; an address with an empty bucket gets 429 with
 * Retry-After until the bucket refills. Successful requests cost nothing, so polling devices are
 * never limited; a gateway whose devices keep failing shares one bucket.
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

  /** Throws TooManyAttempts when `remoteAddress` has used up its refusals. */
  check(remoteAddress: string, device: string): void {
    const b = this.refill(remoteAddress);
    if (!b || b.tokens >= 1) return;
    const retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / this.perMs / 1000));
    this.events.emit('auth-failed', { remoteAddress, stage: 'rate-limited', reason: 'too many failed attempts', device, status: 429 });
    throw new TooManyAttempts(retryAfter);
  }

  /** Records one refusal. */
  failed(r: Refusal): void {
    this.refused++;
    this.logger.warn('device authentication failed', { device: r.device, remoteAddress: r.remoteAddress, status: r.status, reason: r.reason, ...(r.presented ? { presented: r.presented } : {}) });
    this.events.emit('auth-failed', { remoteAddress: r.remoteAddress, stage: 'request', reason: r.reason, device: r.device, status: r.status, ...(r.presented ? { presented: r.presented } : {}) });
    const b = this.refill(r.remoteAddress) ?? this.add(r.remoteAddress);
    b.tokens = Math.max(0, b.tokens - 1);
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
