/** Key loading and raw signature checks of verifier.cosign (no registry: keys and bytes only). */
import { describe, expect, test } from 'bun:test';
import { generateKeyPairSync, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkSignature, decodeBase64, isDerEcdsa, loadKeys, parsePem } from '../../src/plugins/verifier/cosign/keys.ts';
import { cosign } from '../../src/plugins/verifier/cosign/index.ts';
import { none } from '../../src/plugins/verifier/none.ts';
import { tempDir } from '../support/tmp.ts';
import { PLUGIN_API_VERSION } from '../../src/plugin.ts';

const message = new TextEncoder().encode('{"critical":{}}');

describe('loading keys', () => {
  test('PEM text and files (relative to the base dir), one or several blocks per file', () => {
    const dir = tempDir();
    const a = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const b = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    writeFileSync(join(dir, 'two.pub'), a + b);
    const keys = loadKeys([a, 'two.pub'], dir);
    expect(keys.map((k) => k.kind)).toEqual(['ecdsa-p256', 'ecdsa-p256', 'ed25519']);
    expect(keys[0]?.origin).toBe('inline key #1');
    expect(keys[1]?.origin).toBe(join(dir, 'two.pub'));
    expect(keys[0]?.fingerprint).toBe(keys[1]?.fingerprint ?? '');
    expect(keys[0]?.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  test('P-384, RSA as SPKI and as PKCS#1 (RSA PUBLIC KEY)', () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    expect(parsePem(p384.export({ type: 'spki', format: 'pem' }).toString(), 'x')[0]?.kind).toBe('ecdsa-p384');
    expect(parsePem(rsa.export({ type: 'spki', format: 'pem' }).toString(), 'x')[0]?.kind).toBe('rsa');
    const pkcs1 = rsa.export({ type: 'pkcs1', format: 'pem' }).toString();
    expect(pkcs1).toContain('BEGIN RSA PUBLIC KEY');
    expect(parsePem(pkcs1, 'x')[0]?.kind).toBe('rsa');
  });

  test('refusals name the key and say what is wrong', () => {
    const dir = tempDir();
    const priv = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => parsePem(priv, 'cosign.key')).toThrow("cosign public key cosign.key: a 'PRIVATE KEY' block is not a public key (give the .pub file)");
    expect(() => parsePem('hello', 'a.pub')).toThrow("cosign public key a.pub: no PEM 'PUBLIC KEY' block found");
    const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => parsePem(p521, 'p521.pub')).toThrow('ECDSA curve secp521r1 is not supported (P-256, P-384)');
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => parsePem(small, 'small.pub')).toThrow('RSA keys under 2048 bits are refused');
    expect(() => parsePem('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----', 'bad.pub')).toThrow('the PUBLIC KEY block cannot be parsed');
    expect(() => loadKeys(['missing.pub'], dir)).toThrow(`cosign public key ${join(dir, 'missing.pub')} cannot be read: ENOENT`);
  });
});

describe('signature checks', () => {
  test('ECDSA P-256 over SHA-256 (DER), P-384 over SHA-256 or SHA-384, Ed25519, RSA PKCS#1 v1.5', () => {
    const cases = [
      { pair: generateKeyPairSync('ec', { namedCurve: 'P-256' }), sig: (k: import('node:crypto').KeyObject) => sign('sha256', message, k) },
      { pair: generateKeyPairSync('ec', { namedCurve: 'P-384' }), sig: (k: import('node:crypto').KeyObject) => sign('sha256', message, k) },
      { pair: generateKeyPairSync('ec', { namedCurve: 'P-384' }), sig: (k: import('node:crypto').KeyObject) => sign('sha384', message, k) },
      { pair: generateKeyPairSync('ed25519'), sig: (k: import('node:crypto').KeyObject) => sign(null, message, k) },
      { pair: generateKeyPairSync('rsa', { modulusLength: 2048 }), sig: (k: import('node:crypto').KeyObject) => sign('sha256', message, k) },
    ];
    for (const c of cases) {
      const [key] = parsePem(c.pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'k');
      const s = new Uint8Array(c.sig(c.pair.privateKey));
      expect(checkSignature(key!, message, s)).toBe('valid');
      expect(checkSignature(key!, new TextEncoder().encode('{"critical":{ }}'), s)).toBe('invalid');
      expect(checkSignature(key!, message, s.subarray(0, s.length - 1))).toBe('malformed');
    }
  });

  test('P-256 over SHA-512 is not accepted (cosign uses SHA-256)', () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const [key] = parsePem(pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'k');
    expect(checkSignature(key!, message, new Uint8Array(sign('sha512', message, pair.privateKey)))).toBe('invalid');
  });

  test('DER and base64 shape checks', () => {
    expect(isDerEcdsa(new Uint8Array([0x30, 6, 2, 1, 1, 2, 1, 1]))).toBe(true);
    expect(isDerEcdsa(new Uint8Array([0x30, 7, 2, 1, 1, 2, 1, 1, 0]))).toBe(false);
    expect(isDerEcdsa(new Uint8Array([0x31, 6, 2, 1, 1, 2, 1, 1]))).toBe(false);
    expect(decodeBase64('AAEC')).toEqual(new Uint8Array([0, 1, 2]));
    expect(decodeBase64('AAE')).toBeNull();
    expect(decodeBase64('AA-C')).toBeNull();
    expect(decodeBase64(undefined)).toBeNull();
  });
});

describe('factories', () => {
  test('cosign() checks its options up front', () => {
    expect(() => cosign(undefined as never)).toThrow("cosign(): pass the trusted public keys, e.g. cosign({ keys: ['cosign.pub'] })");
    expect(() => cosign({ keys: [] })).toThrow('cosign(): pass the trusted public keys');
    expect(() => cosign({ keys: [''] })).toThrow('cosign(): pass the trusted public keys');
    expect(() => cosign({ keys: ['a.pub'], key: 'x' } as never)).toThrow("cosign(): unknown option 'key' (known: keys, layouts, keyless)");
    expect(() => cosign({ keys: ['a.pub'], layouts: ['v2' as never] })).toThrow("layouts must list 'legacy' and/or 'bundle'");
    const v = cosign({ keys: ['a.pub'] });
    expect([v.kind, v.id, v.apiVersion]).toEqual(['verifier', 'verifier.cosign', PLUGIN_API_VERSION]);
  });

  test('setup stops start-up when a key file is missing', () => {
    const dir = tempDir();
    const noop = () => {};
    const logger = { error: noop, warn: noop, info: noop, debug: noop, trace: noop, child: () => logger };
    const v = cosign({ keys: ['nope.pub'] });
    expect(() => v.setup?.({ logger, configDir: dir, stateDir: dir, signal: new AbortController().signal })).toThrow(`cosign public key ${join(dir, 'nope.pub')} cannot be read`);
  });

  test('an artifact from a non-OCI source is unsupported, never ok', async () => {
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const artifact = { version: '1.0.0', tag: '1.0.0', digest: 'sha256:' + 'a'.repeat(64), open: async () => new ReadableStream<Uint8Array>() };
    const dev = { id: 'dev1', allowPrerelease: false, options: {} };
    expect(await cosign({ keys: [pem] }).verify(dev, artifact)).toMatchObject({ ok: false, reason: 'unsupported-source' });
    expect(await cosign({ keys: [pem] }).verify(dev, { ...artifact, meta: { dir: { path: '/x' } } })).toMatchObject({ ok: false, reason: 'unsupported-source' });
  });

  test('none() vouches for everything as verifier.none', async () => {
    const v = none();
    expect([v.kind, v.id]).toEqual(['verifier', 'verifier.none']);
    const artifact = { version: '1.0.0', tag: '1.0.0', digest: 'sha256:' + 'b'.repeat(64), open: async () => new ReadableStream<Uint8Array>() };
    expect(await v.verify({ id: 'd', allowPrerelease: false, options: {} }, artifact)).toEqual({ ok: true, by: 'verifier.none' });
  });
});
