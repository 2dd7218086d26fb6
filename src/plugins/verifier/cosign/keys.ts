/**
 * Public keys the operator trusts, as cosign reads them: PEM `PUBLIC KEY` (SPKI) or `RSA PUBLIC KEY`
 * (PKCS#1) blocks, given as file paths or as PEM text. Supported: ECDSA P-256 and P-384, Ed25519,
 * RSA (2048 bits or more, PKCS#1 v1.5 signatures).
 *
 * Hashes follow `cosign verify --key`: ECDSA and RSA signatures are over SHA-256 of the message (cosign's
 * default `--signature-digest-algorithm`); a P-384 signature over SHA-384 is accepted too, since
 * Sigstore tooling pairs that curve with that hash. Ed25519 signs the message itself.
 */
import { createHash, createPublicKey, verify as cryptoVerify, constants, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';

export type KeyKind = 'ecdsa-p256' | 'ecdsa-p384' | 'ed25519' | 'rsa';

export interface TrustedKey {
  kind: KeyKind;
  key: KeyObject;
  /** SHA-256 of the SPKI DER, lowercase hex. */
  fingerprint: string;
  /** Base64 SHA-256 of the SPKI DER: the `hint` cosign writes into bundles. */
  hint: string;
  /** Where the key came from (file path, or `inline key #n`), for messages. */
  origin: string;
}

/** How a signature relates to one key. */
export type SignatureCheck = 'valid' | 'invalid' | 'malformed';

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Reads and parses every key; throws with a message naming the key on any problem. */
export function loadKeys(sources: readonly string[], baseDir: string): TrustedKey[] {
  const keys: TrustedKey[] = [];
  sources.forEach((source, i) => {
    const inline = source.trimStart().startsWith('-----BEGIN');
    const origin = inline ? `inline key #${i + 1}` : isAbsolute(source) ? source : resolve(baseDir, source);
    let text = source;
    if (!inline) {
      try {
        text = readFileSync(origin, 'utf8');
      } catch (e) {
        throw new Error(`cosign public key ${origin} cannot be read: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
      }
    }
    keys.push(...parsePem(text, origin));
  });
  return keys;
}

/** Parses the public key blocks of one PEM text. */
export function parsePem(text: string, origin: string): TrustedKey[] {
  const out: TrustedKey[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    const label = m[1] ?? '';
    if (label !== 'PUBLIC KEY' && label !== 'RSA PUBLIC KEY') {
      throw new Error(`cosign public key ${origin}: a '${label}' block is not a public key (give the .pub file)`);
    }
    let key: KeyObject;
    try {
      key = createPublicKey(m[0]);
    } catch {
      throw new Error(`cosign public key ${origin}: the ${label} block cannot be parsed`);
    }
    out.push(describeKey(key, origin));
  }
  if (out.length === 0) throw new Error(`cosign public key ${origin}: no PEM 'PUBLIC KEY' block found`);
  return out;
}

/** A trusted key from a parsed public key (also used for keys that certificates vouch for). */
export function describeKey(key: KeyObject, origin: string): TrustedKey {
  const kind = kindOf(key, origin);
  const der = key.export({ type: 'spki', format: 'der' });
  const sha = createHash('sha256').update(der).digest();
  return { kind, key, fingerprint: sha.toString('hex'), hint: sha.toString('base64'), origin };
}

function kindOf(key: KeyObject, origin: string): KeyKind {
  const d = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec':
      if (d.namedCurve === 'prime256v1' || d.namedCurve === 'P-256') return 'ecdsa-p256';
      if (d.namedCurve === 'secp384r1' || d.namedCurve === 'P-384') return 'ecdsa-p384';
      throw new Error(`cosign public key ${origin}: ECDSA curve ${d.namedCurve ?? 'unknown'} is not supported (P-256, P-384)`);
    case 'ed25519':
      return 'ed25519';
    case 'rsa':
      if ((d.modulusLength ?? 0) < 2048) throw new Error(`cosign public key ${origin}: RSA keys under 2048 bits are refused`);
      return 'rsa';
    default:
      throw new Error(`cosign public key ${origin}: key type ${key.asymmetricKeyType ?? 'unknown'} is not supported (ECDSA P-256/P-384, Ed25519, RSA)`);
  }
}

/** Checks `signature` over `message` with one key, as cosign does; never throws. */
export function checkSignature(k: TrustedKey, message: Uint8Array, signature: Uint8Array): SignatureCheck {
  try {
    switch (k.kind) {
      case 'ecdsa-p256':
      case 'ecdsa-p384': {
        if (!isDerEcdsa(signature)) return 'malformed';
        const ok = cryptoVerify('sha256', message, { key: k.key, dsaEncoding: 'der' }, signature)
          || (k.kind === 'ecdsa-p384' && cryptoVerify('sha384', message, { key: k.key, dsaEncoding: 'der' }, signature));
        return ok ? 'valid' : 'invalid';
      }
      case 'ed25519':
        if (signature.byteLength !== 64) return 'malformed';
        return cryptoVerify(null, message, k.key, signature) ? 'valid' : 'invalid';
      case 'rsa': {
        const bytes = Math.ceil((k.key.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
        if (signature.byteLength !== bytes) return 'malformed';
        return cryptoVerify('sha256', message, { key: k.key, padding: constants.RSA_PKCS1_PADDING }, signature) ? 'valid' : 'invalid';
      }
    }
  } catch {
    return 'malformed';
  }
}

/** Whether `sig` is exactly one DER `SEQUENCE { INTEGER r, INTEGER s }` (short lengths, as ECDSA uses). */
export function isDerEcdsa(sig: Uint8Array): boolean {
  if (sig.byteLength < 8 || sig[0] !== 0x30) return false;
  let len = sig[1] ?? 0;
  let at = 2;
  if (len === 0x81) {
    len = sig[2] ?? 0;
    at = 3;
  } else if (len > 0x7f) return false;
  if (at + len !== sig.byteLength) return false;
  for (let n = 0; n < 2; n++) {
    if (sig[at] !== 0x02) return false;
    const l = sig[at + 1] ?? 0;
    if (l === 0 || l > 0x7f || at + 2 + l > sig.byteLength) return false;
    at += 2 + l;
  }
  return at === sig.byteLength;
}

/** Whether `sig` has the shape of a signature of some supported key type (whoever's key made it). */
export function looksLikeSignature(sig: Uint8Array): boolean {
  return isDerEcdsa(sig) || sig.byteLength === 64 || sig.byteLength === 256 || sig.byteLength === 384 || sig.byteLength === 512;
}

/** Decodes standard base64 strictly; null when `text` is not base64. */
export function decodeBase64(text: unknown): Uint8Array | null {
  if (typeof text !== 'string' || text.length === 0 || text.length > 16384) return null;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** The short name of a key in verdicts and logs: `SHA256:` and the first 16 hex digits of its fingerprint. */
export function keyLabel(k: TrustedKey): string {
  return `SHA256:${k.fingerprint.slice(0, 16)}`;
}
