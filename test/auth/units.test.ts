// The pieces of device auth without a server: certificate mapping, token hashes, the request-head
// parser of the TLS listener, the per-address refusal bucket, and CRL checks.
import { expect, test } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mtls } from '../../src/plugins/auth/mtls.ts';
import { token } from '../../src/plugins/auth/token.ts';
import { hashToken, newToken } from '../../src/plugins/auth/token-hash.ts';
import { readHead } from '../../src/http/request-head.ts';
import { loadTlsMaterial, watchTlsFiles } from '../../src/http/tls/tls-material.ts';
import { tempDir } from '../support/tmp.ts';
import { AuthAttempts } from '../../src/core/auth-attempts.ts';
import { CoreEventBus } from '../../src/core/events.ts';
import { TooManyAttempts } from '../../src/core/errors.ts';
import { createLogger } from '../../src/log.ts';
import { PLUGIN_API_VERSION, type AuthDecision, type AuthenticatorPlugin, type DeviceRequest, type PeerCertificate } from '../../src/plugin.ts';
import { authorize } from '../../src/core/authorize.ts';
import { TestPki } from './pki.ts';

function cert(cn: string | undefined, sans: string[] = [], serial = '1A2B', fingerprint = 'AA:BB'): PeerCertificate {
  return { subject: cn ? { CN: cn } : {}, issuer: { CN: 'ca' }, subjectAltNames: sans, serialNumber: serial, fingerprint256: fingerprint, validFrom: new Date(0), validTo: new Date(8e15), raw: new Uint8Array([1]) };
}
function req(deviceId: string, extra: Partial<DeviceRequest> = {}): DeviceRequest {
  return { deviceId, method: 'GET', path: '/version', headers: {}, query: new URLSearchParams(), remoteAddress: '10.0.0.1', ...extra };
}

test('mtls maps CN, templates and regex groups; another device is 403; no certificate is a skip', () => {
  expect(mtls().authenticate(req('esp32-a', { peerCertificate: cert('esp32-a') }))).toMatchObject({ outcome: 'allow' });
  expect(mtls().authenticate(req('esp32-b', { peerCertificate: cert('esp32-a') }))).toMatchObject({ outcome: 'deny', status: 403, presented: 'CN=esp32-a serial=1A2B' });
  expect(mtls().authenticate(req('esp32-a'))).toEqual({ outcome: 'skip' });
  const tpl = mtls({ from: 'dns', device: 'fleet-{value}' });
  expect(tpl.authenticate(req('fleet-x.example', { peerCertificate: cert('nope', ['DNS:x.example']) }))).toMatchObject({ outcome: 'allow' });
  const re = mtls({ from: ['email', 'uri'], match: /^(?<site>[a-z]+)\.(?<n>\d+)@fleet$/, device: '{site}-{n}' });
  expect(re.authenticate(req('berlin-7', { peerCertificate: cert(undefined, ['email:berlin.7@fleet']) }))).toMatchObject({ outcome: 'allow' });
  expect(re.authenticate(req('berlin-7', { peerCertificate: cert('berlin-7', ['email:nope']) }))).toMatchObject({ outcome: 'deny', status: 403, reason: 'client certificate maps to no device' });
});

test('mtls identity names the value that mapped; instances: <device>:<instance> maps to <device> only', () => {
  expect(mtls().authenticate(req('esp32-a', { peerCertificate: cert('esp32-a') }))).toEqual({ outcome: 'allow', identity: 'cert:esp32-a' });
  const inst = mtls({ instances: true });
  expect(inst.authenticate(req('esp32-a', { peerCertificate: cert('esp32-a:0017') }))).toEqual({ outcome: 'allow', identity: 'cert:esp32-a:0017' });
  expect(inst.authenticate(req('esp32-a', { peerCertificate: cert('esp32-a') }))).toEqual({ outcome: 'allow', identity: 'cert:esp32-a' });
  expect(inst.authenticate(req('esp32', { peerCertificate: cert('esp32-a:0017') }))).toMatchObject({ outcome: 'deny', status: 403 });
  for (const cn of ['esp32-a:', ':0017', 'esp32-a-0017']) expect(inst.authenticate(req('esp32-a', { peerCertificate: cert(cn) }))).toMatchObject({ outcome: 'deny', status: 403 });
  // Without instances, the whole CN is the device id.
  expect(mtls().authenticate(req('esp32-a', { peerCertificate: cert('esp32-a:0017') }))).toMatchObject({ outcome: 'deny', status: 403 });
  // With a template, the stream part is {value}; the identity keeps the whole value.
  expect(mtls({ instances: true, device: 'fleet-{value}' }).authenticate(req('fleet-x', { peerCertificate: cert('x:9') }))).toEqual({ outcome: 'allow', identity: 'cert:x:9' });
});

test("token: a rate-limited address still passes with a valid token; another device's token is then a 401, unsearched", () => {
  const t1 = newToken(), t2 = newToken();
  const a = token({ devices: { d1: hashToken(t1), d2: hashToken(t2) } });
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  expect(a.authenticate(req('d1', { headers: bearer(t2) }))).toMatchObject({ outcome: 'deny', status: 403 });
  expect(a.authenticate(req('d1', { headers: bearer(t2), rateLimited: true }))).toMatchObject({ outcome: 'deny', status: 401 });
  expect(a.authenticate(req('d1', { headers: bearer(t1), rateLimited: true }))).toEqual({ outcome: 'allow', identity: 'token:d1' });
});

test('authorize: decides at once while authenticators do, waits from the first that returns a promise', async () => {
  const calls: string[] = [];
  const auth = (id: string, d: AuthDecision, wait = false): AuthenticatorPlugin => ({
    kind: 'authenticator', id, apiVersion: PLUGIN_API_VERSION,
    authenticate: () => {
      calls.push(id);
      return wait ? Bun.sleep(1).then(() => d) : d;
    },
  });
  const allow: AuthDecision = { outcome: 'allow', identity: 'd' };
  const deny401: AuthDecision = { outcome: 'deny', status: 401, reason: 'wrong' };
  const deny403: AuthDecision = { outcome: 'deny', status: 403, reason: 'other device' };
  const skip: AuthDecision = { outcome: 'skip' };

  const atOnce = authorize([auth('a', skip), auth('b', allow), auth('c', deny403, true)], req('d'));
  expect(atOnce).not.toBeInstanceOf(Promise);
  expect(atOnce).toMatchObject({ outcome: 'allow' });
  expect(calls.splice(0)).toEqual(['a', 'b']); // the first allow wins; later ones are not asked

  const waited = authorize([auth('a', deny401), auth('b', skip, true), auth('c', deny403), auth('d', deny401, true)], req('d'));
  expect(waited).toBeInstanceOf(Promise);
  expect(await waited).toMatchObject({ outcome: 'deny', status: 403 }); // 403 beats 401, across the wait
  expect(calls.splice(0)).toEqual(['a', 'b', 'c', 'd']);

  expect(await authorize([auth('a', skip, true), auth('b', allow)], req('d'))).toMatchObject({ outcome: 'allow' });
  expect(authorize([auth('a', skip), auth('b', skip)], req('d'))).toMatchObject({ outcome: 'deny', status: 401, reason: 'no credentials accepted by a, b' });
});

test('mtls deny list by serial (any leading zeros, case) and by fingerprint (colons optional)', () => {
  const a = mtls({ deny: { serials: ['001a2b'], fingerprints: ['ccdd'] } });
  expect(a.authenticate(req('d', { peerCertificate: cert('d', [], '1A2B') }))).toMatchObject({ outcome: 'deny', status: 401 });
  expect(a.authenticate(req('d', { peerCertificate: cert('d', [], '99', 'CC:DD') }))).toMatchObject({ outcome: 'deny', status: 401 });
  expect(a.authenticate(req('d', { peerCertificate: cert('d', [], '99', 'CC:DE') }))).toMatchObject({ outcome: 'allow' });
});

test('mtls and token options are checked when the config is built', () => {
  expect(() => mtls({ device: '{nope}' })).toThrow('auth.mtls: device: unknown placeholder {nope}');
  expect(() => mtls({ from: 'serial' as never })).toThrow('auth.mtls: from: expected one of cn, dns, uri, email');
  expect(() => token({ devices: { d: 'plaintext-token-here' } })).toThrow('auth.token: devices["d"]: expected a token hash');
  expect(() => token({})).toThrow('auth.token: give devices');
  expect(() => hashToken('short')).toThrow('token too short');
});

test('token: header beats query, malformed bearer is 401, other schemes are skipped', () => {
  const t = newToken();
  const a = token({ devices: { d: hashToken(t) } });
  expect(a.authenticate(req('d', { headers: { authorization: `Bearer ${t}` } }))).toMatchObject({ outcome: 'allow' });
  expect(a.authenticate(req('d', { query: new URLSearchParams({ token: t }) }))).toMatchObject({ outcome: 'allow' });
  expect(a.authenticate(req('d', { headers: { authorization: 'Bearer' } }))).toMatchObject({ outcome: 'deny', status: 401 });
  expect(a.authenticate(req('d', { headers: { authorization: 'Basic eDp5' } }))).toEqual({ outcome: 'skip' });
  // Two hashes of one token differ (salted) and both match.
  const h1 = hashToken(t), h2 = hashToken(t);
  expect(h1).not.toBe(h2);
  expect(token({ devices: { d: [h1, h2] } }).authenticate(req('d', { query: new URLSearchParams({ token: t }) }))).toMatchObject({ outcome: 'allow' });
});

/** The device listener's head reader, in the shape these expectations were written for. */
function parseRequest(buf: Buffer) {
  const r = readHead(buf, 0, 16 * 1024);
  return r.kind === 'head' ? { kind: 'request', request: r.head, consumed: r.consumed } : r.kind === 'more' ? { kind: 'more' } : r;
}

test('request heads: leading CRLF, bare LF, HTTP/1.0 keep-alive; chunked 411, oversized 431, HTTP/2 505', () => {
  const first = '\r\nGET /version?device=x HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n';
  const ok = parseRequest(Buffer.from(`${first}GET`));
  expect(ok).toMatchObject({ kind: 'request', request: { method: 'GET', path: '/version', query: 'device=x', keepAlive: true, headers: { host: 'h' } } });
  expect(ok.kind === 'request' && ok.consumed).toBe(Buffer.byteLength(first));
  expect(parseRequest(Buffer.from('GET / HTTP/1.0\n\n'))).toMatchObject({ kind: 'request', request: { keepAlive: false } });
  expect(parseRequest(Buffer.from('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'))).toMatchObject({ kind: 'request', request: { keepAlive: true } });
  expect(parseRequest(Buffer.from('GET / HTTP/1.1\r\nHost: h\r\n'))).toEqual({ kind: 'more' });
  expect(parseRequest(Buffer.from('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n'))).toMatchObject({ kind: 'error', status: 411 });
  expect(parseRequest(Buffer.from(`GET / HTTP/1.1\r\nX: ${'a'.repeat(17000)}`))).toMatchObject({ kind: 'error', status: 431 });
  expect(parseRequest(Buffer.from('GET / HTTP/2\r\n\r\n'))).toMatchObject({ kind: 'error', status: 505 });
});

test('refusals: a burst of 10 per address, then 429 with Retry-After until a token refills; the limit never refuses by itself', () => {
  let now = 0;
  const events = new CoreEventBus();
  const seen: string[] = [];
  events.on('auth-failed', (e) => seen.push(`${e.stage}:${e.status}`));
  const a = new AuthAttempts(events, createLogger({ level: 'off' }), { now: () => now });
  const wrong = (addr: string) => a.failed({ device: 'd', remoteAddress: addr, status: 401, reason: 'unknown token' });
  for (let i = 0; i < 10; i++) {
    expect(a.limited('10.0.0.1')).toBe(false);
    expect(wrong('10.0.0.1')).toBeUndefined();
  }
  expect(a.limited('10.0.0.1')).toBe(true);
  const limited = wrong('10.0.0.1');
  expect(limited).toBeInstanceOf(TooManyAttempts);
  expect(limited?.headers['retry-after']).toBe('6');
  expect(a.limited('10.0.0.2')).toBe(false); // other addresses are not affected
  expect(wrong('10.0.0.2')).toBeUndefined();
  now += 6000;
  expect(a.limited('10.0.0.1')).toBe(false);
  expect(wrong('10.0.0.1')).toBeUndefined();
  expect(wrong('10.0.0.1')).toBeInstanceOf(TooManyAttempts);
  expect(seen.filter((s) => s === 'request:401').length).toBe(12);
  expect(seen.filter((s) => s === 'rate-limited:429').length).toBe(2);
  expect(a.refused).toBe(12);
});

test('TLS files: a CRL not signed by the client CA, a key of another certificate, a missing file are refused with the file named', () => {
  const pki = new TestPki();
  const other = new TestPki();
  const base = { cert: pki.serverCert, key: pki.serverKey, clientCa: pki.caCert };
  expect(loadTlsMaterial({ ...base, crl: pki.crl }, pki.dir).revoked?.serials.size).toBe(0);
  expect(() => loadTlsMaterial({ ...base, crl: other.crl }, pki.dir)).toThrow(`reading TLS CRL ${other.crl}: CRL signature does not verify`);
  expect(() => loadTlsMaterial({ ...base, key: other.serverKey }, pki.dir)).toThrow('the key does not match the certificate');
  expect(() => loadTlsMaterial({ ...base, clientCa: 'nope.pem' }, pki.dir)).toThrow(`reading TLS client CA ${join(pki.dir, 'nope.pem')}: ENOENT`);
  // A revoked serial shows up normalised like the peer certificate's.
  const c = pki.client('r', '/CN=r');
  pki.revoke(c);
  const m = loadTlsMaterial({ ...base, crl: pki.crl }, pki.dir);
  expect([...(m.revoked?.serials ?? [])]).toEqual([c.serial.toUpperCase().replace(/^0+/, '')]);
  // A CRL in DER form works too.
  writeFileSync(join(pki.dir, 'crl.der'), Buffer.from(readFileSync(pki.crl).toString().replace(/-----[^-]+-----|\s/g, ''), 'base64'));
  expect(loadTlsMaterial({ ...base, crl: 'crl.der' }, pki.dir).revoked?.serials.size).toBe(1);
});

test('SIGHUP and a change of a watched file each trigger one (debounced) reload', async () => {
  const dir = tempDir('otaflux-watch-');
  const file = join(dir, 'server.crt');
  writeFileSync(file, 'a');
  const reasons: string[] = [];
  const stop = watchTlsFiles([file], createLogger({ level: 'off' }), (why) => reasons.push(why));
  try {
    process.emit('SIGHUP', 'SIGHUP');
    await Bun.sleep(300);
    expect(reasons).toEqual(['SIGHUP']);
    writeFileSync(join(dir, 'unrelated.txt'), 'x');
    writeFileSync(file, 'b');
    await Bun.sleep(400);
    expect(reasons).toEqual(['SIGHUP', 'server.crt changed']);
  } finally {
    stop();
  }
});
