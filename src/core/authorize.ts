/**
 * Combines a device's authenticators: the first `allow` wins; otherwise a 403 (credentials of
 * someone else) beats a 401 (wrong or missing credentials). Every verdict names the plugin that
 * decided (`by`), and an authenticator that throws is a verdict of its own (`failed`), never an
 * exception: the device service answers it with a documented status and a log line naming it.
 */
import type { AuthDecision, AuthenticatorPlugin, DeviceRequest } from '../plugin.ts';
import { errorMessage } from '../sdk/errors.ts';

/** The `WWW-Authenticate` challenge of a 401 when no authenticator has one. */
export const DEFAULT_CHALLENGE = 'Bearer realm="otaflux"';

export type Denial = Extract<AuthDecision, { outcome: 'deny' }> & { by: string; challenge: string };
export type Failure = { outcome: 'failed'; by: string; error: string };
export type Verdict = (Extract<AuthDecision, { outcome: 'allow' }> & { by: string }) | Denial | Failure;

/**
 * The verdict of a device's authenticators, without a promise while each decides at once (mtls and
 * token do: this is on every poll); from the first one that returns a promise on, a promise.
 */
export function authorize(auth: readonly AuthenticatorPlugin[], req: DeviceRequest): Verdict | Promise<Verdict> {
  let denial: Denial | undefined;
  for (let i = 0; i < auth.length; i++) {
    const a = auth[i] as AuthenticatorPlugin;
    let d: AuthDecision | PromiseLike<AuthDecision>;
    try {
      d = a.authenticate(req);
    } catch (e) {
      return failed(a, e);
    }
    if (isPromiseLike(d)) return settleFrom(auth, req, i, d, denial);
    const v = judged(a, d);
    if (v.outcome !== 'deny' && v.outcome !== 'skip') return v;
    denial = weightier(denial, v);
  }
  return denial ?? noneAccepted(auth);
}

async function settleFrom(auth: readonly AuthenticatorPlugin[], req: DeviceRequest, i: number, pending: PromiseLike<AuthDecision>, denial: Denial | undefined): Promise<Verdict> {
  for (;;) {
    const a = auth[i] as AuthenticatorPlugin;
    let v: Verdict | { outcome: 'skip' };
    try {
      v = judged(a, await pending);
    } catch (e) {
      return failed(a, e);
    }
    if (v.outcome !== 'deny' && v.outcome !== 'skip') return v;
    denial = weightier(denial, v);
    if (++i >= auth.length) return denial ?? noneAccepted(auth);
    try {
      pending = Promise.resolve((auth[i] as AuthenticatorPlugin).authenticate(req));
    } catch (e) {
      return failed(auth[i] as AuthenticatorPlugin, e);
    }
  }
}

/** A decision with the plugin that made it; an answer outside the contract is that plugin's failure. */
function judged(a: AuthenticatorPlugin, d: AuthDecision): Verdict | { outcome: 'skip' } {
  if (d?.outcome === 'allow' && typeof d.identity === 'string' && d.identity !== '') return { outcome: 'allow', identity: d.identity, by: a.id };
  if (d?.outcome === 'deny' && (d.status === 401 || d.status === 403)) return { ...d, by: a.id, challenge: d.challenge ?? a.challenge ?? DEFAULT_CHALLENGE };
  if (d?.outcome === 'skip') return d;
  return { outcome: 'failed', by: a.id, error: `authenticate() answered ${JSON.stringify(d)?.slice(0, 100)}, expected allow with an identity, deny 401/403, or skip` };
}

function failed(a: AuthenticatorPlugin, e: unknown): Failure {
  return { outcome: 'failed', by: a.id, error: errorMessage(e) };
}

/** A 403 (credentials of someone else) beats a 401 (wrong or missing credentials). */
function weightier(denial: Denial | undefined, d: Denial | { outcome: 'skip' }): Denial | undefined {
  return d.outcome === 'deny' && (!denial || (d.status === 403 && denial.status === 401)) ? d : denial;
}

function noneAccepted(auth: readonly AuthenticatorPlugin[]): Denial {
  const challenges = auth.flatMap((a) => (a.challenge ? [a.challenge] : []));
  const ids = auth.map((a) => a.id).join(', ');
  return { outcome: 'deny', status: 401, reason: `no credentials accepted by ${ids}`, by: ids, challenge: challenges.length ? challenges.join(', ') : DEFAULT_CHALLENGE };
}

function isPromiseLike<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return typeof (v as { then?: unknown }).then === 'function';
}

export { describeCert } from '../sdk/certificate.ts';
