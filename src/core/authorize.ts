/**
 * Combines a device's authenticators: the first `allow` wins; otherwise a 403 (credentials of
 * someone else) beats a 401 (wrong or missing credentials).
 */
import type { AuthDecision, AuthenticatorPlugin, AuthRequest } from '../plugin.ts';

export type Denial = Extract<AuthDecision, { outcome: 'deny' }>;
export type Verdict = Extract<AuthDecision, { outcome: 'allow' }> | Denial;

/**
 * The verdict of a device's authenticators, without a promise while each decides at once (mtls and
 * token do: this is on every poll); from the first one that returns a promise on, a promise.
 */
export function authorize(auth: readonly AuthenticatorPlugin[], req: AuthRequest): Verdict | Promise<Verdict> {
  let denial: Denial | undefined;
  for (let i = 0; i < auth.length; i++) {
    const d = (auth[i] as AuthenticatorPlugin).authenticate(req);
    if (isPromiseLike(d)) return settleFrom(auth, req, i, d, denial);
    if (d.outcome === 'allow') return d;
    denial = weightier(denial, d);
  }
  return denial ?? noneAccepted(auth);
}

async function settleFrom(auth: readonly AuthenticatorPlugin[], req: AuthRequest, i: number, pending: PromiseLike<AuthDecision>, denial: Denial | undefined): Promise<Verdict> {
  for (;;) {
    const d = await pending;
    if (d.outcome === 'allow') return d;
    denial = weightier(denial, d);
    if (++i >= auth.length) return denial ?? noneAccepted(auth);
    pending = Promise.resolve((auth[i] as AuthenticatorPlugin).authenticate(req));
  }
}

/** A 403 (credentials of someone else) beats a 401 (wrong or missing credentials). */
function weightier(denial: Denial | undefined, d: AuthDecision): Denial | undefined {
  return d.outcome === 'deny' && (!denial || (d.status === 403 && denial.status === 401)) ? d : denial;
}

function noneAccepted(auth: readonly AuthenticatorPlugin[]): Denial {
  return { outcome: 'deny', status: 401, reason: `no credentials accepted by ${auth.map((a) => a.id).join(', ')}` };
}

function isPromiseLike<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return typeof (v as { then?: unknown }).then === 'function';
}

export { describeCert } from '../sdk/certificate.ts';
