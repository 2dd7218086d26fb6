import type { PeerCertificate } from '../plugin.ts';

/** What a client certificate claims, for logs: subject CN (or first SAN) and serial. */
export function describeCert(cert: PeerCertificate): string {
  return `${cert.subject.CN ? `CN=${cert.subject.CN}` : (cert.subjectAltNames[0] ?? 'no subject')} serial=${cert.serialNumber}`;
}
