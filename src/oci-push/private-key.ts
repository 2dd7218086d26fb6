/**
 * The signing key, read on this machine only: cosign's encrypted private key (`cosign.key`, PEM
 * `ENCRYPTED SIGSTORE PRIVATE KEY`, or `ENCRYPTED COSIGN PRIVATE KEY` from older cosign: JSON with
 * scrypt parameters and a NaCl secretbox around the PKCS#8 key), opened with the password from
 * COSIGN_PASSWORD; or an unencrypted PKCS#8 / SEC1 PEM key. ECDSA P-256 and Ed25519 keys sign as
 * cosign does: ECDSA over SHA-256 (DER signature), Ed25519 over the message itself.
 */
import { createHash, createPrivateKey, createPublicKey, scryptSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import nacl from 'tweetnacl';
import { PublishError } from './errors.ts';

export interface SigningKey {
  /** Signs bytes as cosign does for this key type. */
  sign(message: Uint8Array): Uint8Array;
  /** Base64 SHA-256 of the public key's SPKI DER: the `hint` in Sigstore bundles. */
  hint: string;
  /** `ecdsa-p256` or `ed25519`. */
  kind: string;
  /** PEM of the public key (what `cosign verify --key` is given). */
  publicPem: string;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/;
/** Bounds on scrypt's cost parameters: cosign uses N=65536 (older: 32768), r=8, p=1. */
const MAX_SCRYPT_N = 1 << 20;

export function loadSigningKey(path: string, password: string | undefined): SigningKey {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new PublishError(`--key ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const m = PEM_BLOCK.exec(text);
  if (!m) throw new PublishError(`--key ${path}: no PEM block found (expected cosign.key or a PEM private key)`);
  const label = m[1] ?? '';
  let key: KeyObject;
  if (label === 'ENCRYPTED SIGSTORE PRIVATE KEY' || label === 'ENCRYPTED COSIGN PRIVATE KEY') {
    key = decryptCosignKey(m[2] ?? '', path, password);
  } else if (label === 'PRIVATE KEY' || label === 'EC PRIVATE KEY') {
    try {
      key = createPrivateKey(m[0]);
    } catch {
      throw new PublishError(`--key ${path}: the ${label} block cannot be parsed`);
    }
  } else if (label === 'ENCRYPTED PRIVATE KEY') {
    throw new PublishError(`--key ${path}: a password-protected PKCS#8 key is not supported: give cosign.key (cosign generate-key-pair or import-key-pair) or an unencrypted key`);
  } else {
    throw new PublishError(`--key ${path}: a '${label}' block is not a private key (give cosign.key, not cosign.pub)`);
  }
  return signingKey(key, path);
}

function decryptCosignKey(body: string, path: string, password: string | undefined): KeyObject {
  if (password === undefined) throw new PublishError(`--key ${path} is encrypted: set COSIGN_PASSWORD to its password (empty for none)`);
  let json: { kdf?: { name?: string; params?: { N?: number; r?: number; p?: number }; salt?: string }; cipher?: { name?: string; nonce?: string }; ciphertext?: string };
  try {
    json = JSON.parse(Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8'));
  } catch {
    throw new PublishError(`--key ${path}: the encrypted key is not cosign's JSON`);
  }
  const { kdf, cipher, ciphertext } = json;
  const N = kdf?.params?.N ?? 0, r = kdf?.params?.r ?? 0, p = kdf?.params?.p ?? 0;
  if (kdf?.name !== 'scrypt' || cipher?.name !== 'nacl/secretbox' || !kdf.salt || !cipher.nonce || !ciphertext) {
    throw new PublishError(`--key ${path}: expected scrypt and nacl/secretbox, got ${kdf?.name ?? 'no kdf'} and ${cipher?.name ?? 'no cipher'}`);
  }
  if (!Number.isInteger(N) || N < 2 || N > MAX_SCRYPT_N || (N & (N - 1)) !== 0 || !Number.isInteger(r) || r < 1 || r > 32 || !Number.isInteger(p) || p < 1 || p > 16) {
    throw new PublishError(`--key ${path}: scrypt parameters N=${N} r=${r} p=${p} are out of bounds`);
  }
  const secret = scryptSync(password, Buffer.from(kdf.salt, 'base64'), 32, { N, r, p, maxmem: 256 * N * r + (1 << 20) });
  const nonce = Buffer.from(cipher.nonce, 'base64');
  if (nonce.byteLength !== nacl.secretbox.nonceLength) throw new PublishError(`--key ${path}: the nonce is not ${nacl.secretbox.nonceLength} bytes`);
  const der = nacl.secretbox.open(new Uint8Array(Buffer.from(ciphertext, 'base64')), new Uint8Array(nonce), new Uint8Array(secret));
  if (!der) throw new PublishError(`--key ${path} cannot be decrypted: wrong COSIGN_PASSWORD`);
  try {
    return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
  } catch {
    throw new PublishError(`--key ${path}: the decrypted key is not PKCS#8`);
  }
}

function signingKey(key: KeyObject, path: string): SigningKey {
  const type = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  let kind: string;
  let signFn: (m: Uint8Array) => Uint8Array;
  if (type === 'ec' && (curve === 'prime256v1' || curve === 'P-256')) {
    kind = 'ecdsa-p256';
    signFn = (m) => new Uint8Array(sign('sha256', m, { key, dsaEncoding: 'der' }));
  } else if (type === 'ed25519') {
    kind = 'ed25519';
    signFn = (m) => new Uint8Array(sign(null, m, key));
  } else {
    throw new PublishError(`--key ${path}: ${type === 'ec' ? `ECDSA curve ${curve}` : `key type ${type}`} is not supported for signing (ECDSA P-256, Ed25519)`);
  }
  const pub = createPublicKey(key);
  const spki = pub.export({ type: 'spki', format: 'der' });
  return { sign: signFn, kind, hint: createHash('sha256').update(spki).digest('base64'), publicPem: pub.export({ type: 'spki', format: 'pem' }).toString() };
}
