// Mutual TLS from flags alone (`--firmware-dir … --tls-cert … --tls-key … --tls-client-ca …`, no
// config file): a certificate of the CA fetches only the device its CN names (`<device>` or
// `<device>:<instance>`), never another device; the plain port beside it serves no device firmware
// without credentials (401); the authenticated identity is the full CN. Real TLS (openssl-made
// certificates, curl, the ESP32 byte sequence), real sockets, once as a child process from env vars,
// and with the client CA in a config file.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { freePort } from '../support/ports.ts';
import { connect } from 'node:net';
import { readToEnd } from '../support/raw-http.ts';
import type { Admission } from '../../src/core/device-service.ts';
import type { DeviceCall } from '../../src/core/device-request.ts';
import { resolveSettings } from '../../src/config/settings.ts';
import { TestPki, type ClientCert } from './pki.ts';
import { curl, esp32Sequence, split } from './tls-clients.ts';
import { startChildServer } from './flood.ts';

let pki: TestPki;
let server: TestServer;
let fw: ReturnType<typeof firmwareDir>;
let devA: ClientCert;
const https = () => server.ports.https as number;
/** Each test from its own loopback address: refusals are limited per address, and these tests refuse on purpose. */
const from = (n: number) => ['--interface', `127.0.0.${n}`];
const tlsFlags = () => ({ 'tls-cert': pki.serverCert, 'tls-key': pki.serverKey, 'tls-client-ca': pki.caCert });

beforeAll(async () => {
  pki = new TestPki();
  devA = pki.client('dev-a', '/CN=esp32-a');
  fw = firmwareDir({ 'esp32-a': { '1.0.0.bin': 3000 }, 'esp32-b': { '2.0.0.bin': 4000 }, esp32: { '9.0.0.bin': 100 }, 'sensor-fleet': { '1.4.0.bin': 2000 } });
  server = await startTestServer({ flags: { 'firmware-dir': fw.root, 'tls-listen-addr': '127.0.0.1:0', ...tlsFlags() } });
}, 60_000);
afterAll(() => server?.close());

test("a device certificate fetches its own device, and gets 403 for another device's version and firmware", async () => {
  const image = fw.bytes('esp32-a', '1.0.0.bin');
  const v = await curl(https(), '/version?device=esp32-a', { ca: pki.caCert, client: devA });
  expect(v.status).toBe(200);
  expect(v.body).toBe(`1.0.0\n${Bun.hash.crc32(image) >>> 0}\n${image.length}`);
  for (const route of ['version', 'firmware']) {
    const other = await curl(https(), `/${route}?device=esp32-b`, { ca: pki.caCert, client: devA });
    expect(other.status).toBe(403);
    expect(other.body).toBe('Forbidden');
  }
  // The device's own sequence, then another device's firmware on the same connection.
  const { version, firmware } = await esp32Sequence(https(), 'esp32-a', devA, 'esp32-b');
  expect(split(version).status).toBe(200);
  expect(split(firmware).status).toBe(403);
  expect(split(firmware).body.toString()).toBe('Forbidden');
}, 60_000);

test('instances of one stream: CN <device>:<instance> fetches <device> and nothing else', async () => {
  const image = fw.bytes('sensor-fleet', '1.4.0.bin');
  for (const serial of ['0017', 'SN-0018']) {
    const inst = pki.client(`fleet-${serial}`, `/CN=sensor-fleet:${serial}`);
    const f = await curl(https(), '/firmware?device=sensor-fleet', { ca: pki.caCert, client: inst, args: [...from(2), '-o', join(pki.dir, `fleet-${serial}.bin`)] });
    expect(f.status).toBe(200);
    expect(Buffer.compare(Buffer.from(await Bun.file(join(pki.dir, `fleet-${serial}.bin`)).arrayBuffer()), Buffer.from(image))).toBe(0);
    expect((await curl(https(), '/version?device=esp32-a', { ca: pki.caCert, client: inst, args: from(2) })).status).toBe(403);
  }
}, 60_000);

test('no prefix matching: CN esp32 does not fetch esp32-a, CN esp32-a-0017 fetches neither, an empty instance maps nothing', async () => {
  const short = pki.client('short', '/CN=esp32');
  expect((await curl(https(), '/version?device=esp32', { ca: pki.caCert, client: short, args: from(3) })).status).toBe(200);
  expect((await curl(https(), '/version?device=esp32-a', { ca: pki.caCert, client: short, args: from(3) })).status).toBe(403);
  const dashed = pki.client('dashed', '/CN=esp32-a-0017');
  expect((await curl(https(), '/version?device=esp32-a', { ca: pki.caCert, client: dashed, args: from(3) })).status).toBe(403);
  expect((await curl(https(), '/version?device=esp32', { ca: pki.caCert, client: dashed, args: from(3) })).status).toBe(403);
  const empty = pki.client('empty-instance', '/CN=esp32-a:');
  expect((await curl(https(), '/version?device=esp32-a', { ca: pki.caCert, client: empty, args: from(3) })).status).toBe(403);
}, 60_000);

test('the plain port serves no device firmware without credentials: 401, no image bytes; /health still answers', async () => {
  const image = Buffer.from(fw.bytes('esp32-a', '1.0.0.bin'));
  for (const route of ['version', 'firmware']) {
    const s = connect({ port: server.ports.http as number, host: '127.0.0.1', localAddress: '127.0.0.4' });
    s.write(`GET /${route}?device=esp32-a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`);
    const raw = await readToEnd(s);
    expect(raw.toString('latin1')).toStartWith('HTTP/1.1 401 ');
    expect(raw.toString('latin1')).toEndWith('\r\n\r\nUnauthorized');
    expect(raw.includes(image.subarray(0, 64))).toBe(false);
  }
  expect(server.logs.some((l) => l.includes('device authentication failed') && l.includes('"remoteAddress":"127.0.0.4"'))).toBe(true);
  expect((await fetch(`${server.url}/health`)).status).toBe(200);
}, 60_000);

test('the authenticated identity is the full CN (the instance), the device id the stream', async () => {
  const svc = server.runtime.devices;
  const seen: (Admission | Promise<Admission>)[] = [];
  const admit = svc.admit.bind(svc);
  svc.admit = (q: DeviceCall) => {
    const a = admit(q);
    seen.push(a);
    return a;
  };
  try {
    const inst = pki.client('fleet-id', '/CN=sensor-fleet:0042');
    expect((await curl(https(), '/version?device=sensor-fleet', { ca: pki.caCert, client: inst })).status).toBe(200);
    expect((await curl(https(), '/version?device=esp32-a', { ca: pki.caCert, client: devA })).status).toBe(200);
  } finally {
    svc.admit = admit;
  }
  const admitted = await Promise.all(seen);
  expect(admitted.map((a) => [a.deviceId, a.identity])).toEqual([['sensor-fleet', 'cert:sensor-fleet:0042'], ['esp32-a', 'cert:esp32-a']]);
}, 60_000);

test('--tls-client-ca without --tls-cert is one line saying what to add', async () => {
  await expect(resolveSettings({ 'firmware-dir': fw.root, 'tls-client-ca': pki.caCert })).rejects.toThrow('--tls-client-ca needs --tls-cert and --tls-key');
}, 60_000);

test('the same from env vars, in a child process: cross-device 403, plain port 401', async () => {
  const tlsPort = await freePort();
  const child = await startChildServer(['--firmware-dir', fw.root], { TLS_CERT: pki.serverCert, TLS_KEY: pki.serverKey, TLS_CLIENT_CA: pki.caCert, TLS_LISTEN_ADDR: `127.0.0.1:${tlsPort}` });
  try {
    expect((await curl(tlsPort, '/version?device=esp32-a', { ca: pki.caCert, client: devA })).status).toBe(200);
    expect((await curl(tlsPort, '/firmware?device=esp32-b', { ca: pki.caCert, client: devA })).status).toBe(403);
    const plain = await fetch(`http://127.0.0.1:${child.port}/firmware?device=esp32-b`);
    expect(plain.status).toBe(401);
    expect(await plain.text()).toBe('Unauthorized');
  } finally {
    await child.stop();
  }
}, 60_000);

test('a client CA in the config file binds devices whose auth is not set the same way; auth: none written out stays open', async () => {
  const dir = tempDir('otaflux-ca-config-');
  const config = join(dir, 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir } from 'otaflux';
export default defineConfig({
  server: { tls: { listenAddr: '127.0.0.1:0', cert: ${JSON.stringify(pki.serverCert)}, key: ${JSON.stringify(pki.serverKey)}, clientCa: ${JSON.stringify(pki.caCert)} } },
  defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }) },
  devices: { 'esp32-b': { auth: 'none' } },
});
`);
  const s = await startTestServer({ config });
  try {
    const port = s.ports.https as number;
    expect((await curl(port, '/version?device=esp32-a', { ca: pki.caCert, client: devA, args: from(5) })).status).toBe(200);
    expect((await curl(port, '/version?device=sensor-fleet', { ca: pki.caCert, client: devA, args: from(5) })).status).toBe(403);
    expect((await curl(port, '/version?device=esp32-b', { ca: pki.caCert, client: devA, args: from(5) })).status).toBe(200);
    expect((await fetch(`${s.url}/version?device=esp32-b`)).status).toBe(200);
    expect(s.settings.unauthenticated).toEqual(['esp32-b']);
  } finally {
    await s.close();
  }
}, 60_000);
