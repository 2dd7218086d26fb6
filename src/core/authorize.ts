/**
 * Combines a device's authenticators: the first `allow` wins; otherwise a 403 (credentials of
 * someone else) beats a 401 (wrong or missing credentials).
 */
import type { AuthDecision, AuthenticatorPlugin, AuthRequest, PeerCertificate } from '../plugin.ts';

export type Denial = Extract<AuthDecision, { outcome: 'deny' }>;

export async function authorize(auth: readonly AuthenticatorPlugin[], req: AuthRequest): Promise<Extract<AuthDecision, { outcome: 'allow' }> | Denial> {
  let denial: Denial | undefined;
  for (const a of auth) {
    const d = await a.authenticate(req);
    if (d.outcome === 'allow') return d;
    if (d.outcome === 'deny' && (!denial || (d.status === 403 && denial.status === 401))) denial = d;
  }
  return denial ?? { outcome: 'deny', status: 401, reason: `no credentials accepted by ${auth.map((a) => a.id).join(', ')}` };
}

/** Subject CN (or first SAN) and serial: what the certificate claims, for logs. */
export function describeCert(cert: PeerCertificate): string {
  return `${cert.subject.CN ? `CN=${cert.subject.CN}` : (cert.subjectAltNames[0] ?? 'no subject')} serial=${cert.serialNumber}`;
}
