/**
 * Reads a certificate revocation list (PEM or DER, X.509 v2 CRL) and checks its signature against
 * the client CA bundle. Only what revocation needs is decoded: the issuer's signature, the
 * `nextUpdate` time and the revoked serial numbers.
 */
import { X509Certificate, verify } from 'node:crypto';
import { normaliseSerial } from './peer-certificate.ts';

export interface RevocationList {
  /** Revoked serials, normalised (upper-case hex, no leading zeros). */
  serials: ReadonlySet<string>;
  nextUpdate?: Date;
}

interface Tlv { tag: number; start: number; end: number; headerStart: number }

/** Parses every CRL in `data` and checks each was signed by one of `caCerts`. Throws on any problem. */
export function parseCrls(data: Buffer, caCerts: readonly X509Certificate[]): RevocationList {
  const ders = pemBlocks(data, 'X509 CRL');
  const list = ders.length > 0 ? ders : [data];
  const serials = new Set<string>();
  let nextUpdate: Date | undefined;
  for (const der of list) {
    const one = parseOne(der, caCerts);
    for (const s of one.serials) serials.add(s);
    if (one.nextUpdate && (!nextUpdate || one.nextUpdate < nextUpdate)) nextUpdate = one.nextUpdate;
  }
  return { serials, ...(nextUpdate ? { nextUpdate } : {}) };
}

/** The DER bodies of every `-----BEGIN <label>-----` block. */
export function pemBlocks(data: Buffer, label: string): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, 'g');
  return [...data.toString('latin1').matchAll(re)].map((m) => Buffer.from((m[1] as string).replace(/\s+/g, ''), 'base64'));
}

function parseOne(der: Buffer, caCerts: readonly X509Certificate[]): { serials: string[]; nextUpdate?: Date } {
  const outer = read(der, 0);
  if (outer.tag !== 0x30) throw new Error('not a DER CRL (expected a SEQUENCE)');
  const tbs = read(der, outer.start);
  const sigAlg = read(der, tbs.end);
  const sigBits = read(der, sigAlg.end);
  if (tbs.tag !== 0x30 || sigAlg.tag !== 0x30 || sigBits.tag !== 0x03) throw new Error('malformed CRL');
  const tbsBytes = der.subarray(tbs.headerStart, tbs.end);
  const signature = der.subarray(sigBits.start + 1, sigBits.end);
  const algOid = oid(der, read(der, sigAlg.start));
  const hash = HASH_OF_SIGALG[algOid];
  if (!hash) throw new Error(`unsupported CRL signature algorithm ${algOid}`);
  const signedBy = caCerts.find((ca) => {
    try {
      return verify(hash === 'none' ? null : hash, tbsBytes, ca.publicKey, signature);
    } catch {
      return false;
    }
  });
  if (!signedBy) throw new Error('CRL signature does not verify against any certificate of the client CA bundle');

  // tbsCertList: version?, signature, issuer, thisUpdate, nextUpdate?, revokedCertificates?, [0] extensions?
  let p = tbs.start;
  let f = read(der, p);
  if (f.tag === 0x02) { p = f.end; f = read(der, p); } // version
  p = f.end; // signature algorithm
  p = read(der, p).end; // issuer
  p = read(der, p).end; // thisUpdate
  let nextUpdate: Date | undefined;
  const serials: string[] = [];
  while (p < tbs.end) {
    const t = read(der, p);
    if (t.tag === 0x17 || t.tag === 0x18) nextUpdate = time(der, t);
    else if (t.tag === 0x30) {
      for (let q = t.start; q < t.end;) {
        const entry = read(der, q);
        const serial = read(der, entry.start);
        if (serial.tag !== 0x02) throw new Error('malformed revoked certificate entry');
        serials.push(normaliseSerial(der.subarray(serial.start, serial.end).toString('hex')));
        q = entry.end;
      }
    }
    p = t.end;
  }
  return { serials, ...(nextUpdate ? { nextUpdate } : {}) };
}

const HASH_OF_SIGALG: Record<string, string> = {
  '1.2.840.10045.4.3.2': 'sha256', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.3.101.112': 'none', // Ed25519
};

function read(der: Buffer, at: number): Tlv {
  if (at + 2 > der.length) throw new Error('truncated CRL');
  const tag = der[at] as number;
  let len = der[at + 1] as number;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error('unsupported DER length in CRL');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (der[start + i] as number);
    start += n;
  }
  if (start + len > der.length) throw new Error('truncated CRL');
  return { tag, start, end: start + len, headerStart: at };
}

function oid(der: Buffer, t: Tlv): string {
  const b = der.subarray(t.start, t.end);
  const first = b[0] as number;
  const parts = [Math.floor(first / 40), first % 40];
  let v = 0;
  for (let i = 1; i < b.length; i++) {
    v = v * 128 + ((b[i] as number) & 0x7f);
    if (!((b[i] as number) & 0x80)) { parts.push(v); v = 0; }
  }
  return parts.join('.');
}

function time(der: Buffer, t: Tlv): Date {
  const s = der.toString('latin1', t.start, t.end);
  const full = t.tag === 0x17 ? `${Number(s.slice(0, 2)) >= 50 ? '19' : '20'}${s}` : s;
  return new Date(`${full.slice(0, 4)}-${full.slice(4, 6)}-${full.slice(6, 8)}T${full.slice(8, 10)}:${full.slice(10, 12)}:${full.slice(12, 14)}Z`);
}
