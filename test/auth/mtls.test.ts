// Mutual TLS end to end: openssl-made CA and certificates, curl and the ESP32 byte sequence over
// TLS. The right device gets its firmware; another device's firmware is 403; no certificate,
// another CA, an expired or a revoked certificate never reach the API; rotated files are picked
// up without a restart.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { copyFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { scrapeUntil } from '../support/metrics.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { TestPki, type ClientCert } from './pki.ts';
import { bytesAnswered, curl, esp32Sequence, split, tlsConnect } from './tls-clients.ts';

let pki: TestPki;
let server: TestServer;
let fw: ReturnType<typeof firmwareDir>;
let devA: ClientCert;
let devB: ClientCert;
const port = () => server.ports.https as number;

beforeAll(async () => {
  pki = new TestPki();
  devA = pki.client('dev-a', '/CN=esp32-a');
  devB = pki.client('dev-b', '/CN=esp32-b');
  fw = firmwareDir({ 'esp32-a': { '1.0.0.bin': 1000, '1.2.0.bin': 70_000 }, 'esp32-b': { '2.0.0.bin': 5000 }, 'uri-x1': { '0.1.0.bin': 100 }, 'open-lab': { '0.0.1.bin': 10 }, 'esp32-big': { '3.0.0.bin': 48 * 1024 * 1024 } });
  const dir = tempDir('otaflux-mtls-config-');
  const config = join(dir, 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir, mtls } from 'otaflux';
const source = dir({ root: ${JSON.stringify(fw.root)} });
export default defineConfig({
  server: { tls: { listenAddr: '127.0.0.1:0', cert: ${JSON.stringify(pki.serverCert)}, key: ${JSON.stringify(pki.serverKey)}, clientCa: ${JSON.stringify(pki.caCert)}, crl: ${JSON.stringify(pki.crl)} } },
  devices: {
    'esp32-*': { source, auth: mtls() },
    'uri-*': { source, auth: mtls({ from: 'uri', match: /^urn:fleet:(?<n>[a-z0-9]+)$/, device: 'uri-{n}' }) },
  },
});
`);
  server = await startTestServer({ config });
}, 60_000);
afterAll(() => server?.close());

test('curl with the device certificate gets its version and firmware', async () => {
  const image = fw.bytes('esp32-a', '1.2.0.bin');
  const v = await curl(port(), '/version?device=esp32-a', { ca: pki.caCert, client: devA });
  expect(v.status).toBe(200);
  expect(v.body).toBe(`1.2.0\n${Bun.hash.crc32(image) >>> 0}\n${image.length}`);
  const f = await curl(port(), '/firmware?device=esp32-a', { ca: pki.caCert, client: devA, args: ['-o', join(pki.dir, 'fw-a.bin')] });
  expect(f.status).toBe(200);
  expect(Buffer.compare(Buffer.from(await Bun.file(join(pki.dir, 'fw-a.bin')).arrayBuffer()), Buffer.from(image))).toBe(0);
});

test('the ESP32 sequence over TLS: version in 1024 bytes, then the firmware to EOF on the same connection', async () => {
  const image = fw.bytes('esp32-a', '1.2.0.bin');
  const { version, firmware } = await esp32Sequence(port(), 'esp32-a', devA);
  const v = split(version);
  expect(v.status).toBe(200);
  expect(v.body.toString()).toBe(`1.2.0\n${Bun.hash.crc32(image) >>> 0}\n${image.length}`);
  const f = split(firmware);
  expect(f.status).toBe(200);
  expect(f.headers).not.toMatch(/transfer-encoding/i);
  expect(f.headers).toMatch(new RegExp(`content-length: ${image.length}`, 'i'));
  expect(Buffer.compare(f.body, Buffer.from(image))).toBe(0);
});

test("another device's firmware is 403 with a short body, over curl and the device sequence", async () => {
  const c = await curl(port(), '/firmware?device=esp32-b', { ca: pki.caCert, client: devA });
  expect(c.status).toBe(403);
  expect(c.body).toBe('Forbidden');
  const { version, firmware } = await esp32Sequence(port(), 'esp32-a', devA, 'esp32-b');
  expect(split(version).status).toBe(200);
  expect(split(firmware).status).toBe(403);
  expect(split(firmware).body.toString()).toBe('Forbidden');
  expect(server.logs.some((l) => l.includes('device authentication failed') && l.includes('CN=esp32-a') && l.includes('esp32-b'))).toBe(true);
});

test('a SAN URI maps to a device through a regex with named groups', async () => {
  const dev = pki.client('uri-dev', '/CN=whatever', { san: 'URI:urn:fleet:x1' });
  expect((await curl(port(), '/version?device=uri-x1', { ca: pki.caCert, client: dev })).status).toBe(200);
  // Its CN maps nothing in esp32-*: mtls() reads the CN there.
  expect((await curl(port(), '/version?device=esp32-a', { ca: pki.caCert, client: dev })).status).toBe(403);
});

test('no certificate, another CA, an expired certificate: the connection is refused before any HTTP', async () => {
  const foreign = pki.foreignClient('foreign', '/CN=esp32-a');
  const expired = pki.client('expired', '/CN=esp32-a', { expired: true });
  const events: string[] = [];
  server.runtime.events.on('auth-failed', (e) => events.push(`${e.stage}:${e.reason}`));
  for (const client of [undefined, foreign, expired]) {
    const c = await curl(port(), '/version?device=esp32-a', { ca: pki.caCert, ...(client ? { client } : {}) });
    expect(c.exitCode).not.toBe(0);
    expect(c.status).toBe(0);
    expect((await bytesAnswered(port(), 'esp32-a', client)).length).toBe(0);
  }
  expect(events.filter((e) => e.startsWith('tls:')).length).toBeGreaterThanOrEqual(3);
});

test('a revoked certificate is refused once the CRL file changes, without a restart', async () => {
  const dev = pki.client('to-revoke', '/CN=esp32-b');
  expect((await curl(port(), '/version?device=esp32-b', { ca: pki.caCert, client: dev })).status).toBe(200);
  pki.revoke(dev);
  await waitFor(() => server.logs.some((l) => l.includes('TLS certificates reloaded') && l.includes('"revoked":1')));
  const c = await curl(port(), '/version?device=esp32-b', { ca: pki.caCert, client: dev });
  expect(c.status).toBe(0);
  expect((await bytesAnswered(port(), 'esp32-b', dev)).length).toBe(0);
  expect(server.logs.some((l) => l.includes('certificate is revoked'))).toBe(true);
  // Others are unaffected.
  expect((await curl(port(), '/version?device=esp32-b', { ca: pki.caCert, client: devB })).status).toBe(200);
});

test('a rotated server certificate is served to new connections without a restart', async () => {
  const before = await serverFingerprint();
  const fingerprint = pki.server('server-rotated');
  // Rotation as tools do it: new files written beside, then renamed over the old ones.
  copyFileSync(join(pki.dir, 'server-rotated.key'), join(pki.dir, 'server.key.tmp'));
  copyFileSync(join(pki.dir, 'server-rotated.crt'), join(pki.dir, 'server.crt.tmp'));
  renameSync(join(pki.dir, 'server.key.tmp'), pki.serverKey);
  renameSync(join(pki.dir, 'server.crt.tmp'), pki.serverCert);
  await waitFor(async () => (await serverFingerprint()) === fingerprint);
  expect(before).not.toBe(fingerprint);
  expect((await curl(port(), '/version?device=esp32-a', { ca: pki.caCert, client: devA })).status).toBe(200);
});

async function serverFingerprint(): Promise<string> {
  const s = await tlsConnect(port(), devA);
  const f = s.getPeerCertificate().fingerprint256;
  s.destroy();
  return f;
}

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await cond()) return;
    await Bun.sleep(50);
  }
  throw new Error('condition not met in time');
}

test('a download over TLS cut by the device is counted and leaves the in-flight gauge', async () => {
  const inFlightBecomes = async (want: number) => (await scrapeUntil(server.ports.metrics as number, 'otaflux_downloads_in_flight', want)).get('otaflux_downloads_in_flight');
  // A device that asks and stops reading (48 MiB outgrow every socket buffer), then hangs up.
  const s = await tlsConnect(port(), pki.client('dev-big', '/CN=esp32-big'));
  s.pause();
  s.write('GET /firmware?device=esp32-big HTTP/1.1\r\nHost: h\r\n\r\n');
  expect(await inFlightBecomes(1)).toBe(1);
  s.destroy();
  expect(await inFlightBecomes(0)).toBe(0);
  expect(server.logs.some((l) => l.includes('esp32-big') && l.includes('aborted'))).toBe(true);
});
