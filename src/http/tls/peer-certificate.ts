/**
 * Turns the certificate a TLS socket reports (node's `getPeerCertificate()` shape, which Bun's
 * sockets return too) into the plugin contract's `PeerCertificate`.
 */
import type { PeerCertificate } from '../../plugin.ts';

/** The fields of node's `PeerCertificate` this module reads. */
export interface SocketCertificate {
  subject?: Record<string, string | string[]>;
  issuer?: Record<string, string | string[]>;
  subjectaltname?: string;
  serialNumber?: string;
  fingerprint256?: string;
  valid_from?: string;
  valid_to?: string;
  raw?: Uint8Array;
}

/** Converts a socket's peer certificate; undefined when the client showed none. */
export function toPeerCertificate(c: SocketCertificate | null | undefined): PeerCertificate | undefined {
  if (!c || !c.raw || c.raw.byteLength === 0) return undefined;
  return {
    subject: flatten(c.subject),
    issuer: flatten(c.issuer),
    subjectAltNames: splitAltNames(c.subjectaltname ?? ''),
    serialNumber: normaliseSerial(c.serialNumber ?? ''),
    fingerprint256: (c.fingerprint256 ?? '').toUpperCase(),
    validFrom: new Date(c.valid_from ?? 0),
    validTo: new Date(c.valid_to ?? 0),
    raw: new Uint8Array(c.raw),
  };
}

/** Upper-case hex without leading zeros or separators, so serials compare the same from every source. */
export function normaliseSerial(serial: string): string {
  const hex = serial.replace(/[^0-9a-fA-F]/g, '').toUpperCase().replace(/^0+(?=.)/, '');
  return hex;
}

function flatten(o: Record<string, string | string[]> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o ?? {})) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** Splits OpenSSL's `DNS:a, URI:b, email:c` text; quoted values (node escapes commas) are unquoted. */
function splitAltNames(s: string): string[] {
  const out: string[] = [];
  const re = /(DNS|URI|email|IP Address|Registered ID|othername|DirName):("(?:[^"\\]|\\.)*"|[^,]*)(?:,\s*|$)/g;
  for (let m = re.exec(s); m && m[0] !== ''; m = re.exec(s)) {
    const raw = m[2] as string;
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw.trim();
    out.push(`${m[1]}:${value}`);
  }
  return out;
}
