/**
 * Arduino HTTPUpdate and RAUC over HTTPS, byte for byte, with real TLS (openssl-made CA, server and
 * client certificates) and raw requests as those clients write them: the same answers as over plain
 * HTTP (exact Content-Length, never chunked, 0xE9 first byte and `x-MD5` for Arduino; 206 with
 * `Content-Range: bytes 0-3/<total>`, later ranges, 304 on `If-None-Match` for RAUC), and with a
 * client certificate (WiFiClientSecure's `setCertificate`, RAUC's `tls-cert`/`tls-key`) the
 * certificate names the fleet instance; without one, a certificate-bound stream is 401.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { openTlsSocket, parseResponse, readOneResponse, readToEnd, type RawResponse } from '../support/raw-http.ts';
import { TestPki, type ClientCert } from '../auth/pki.ts';

/** An ESP32 app image: magic 0xE9 first. */
function espImage(size: number): Uint8Array {
  const b = randomBytes(size);
  b[0] = 0xe9;
  return b;
}

const fw = firmwareDir({
  'esp32-open': { '1.2.0.bin': espImage(6000) },
  'esp32-tls': { '2.0.0.bin': espImage(5000) },
  'rauc-open': { '1.0.0.raucb': 40_000 },
  'rauc-tls': { '3.0.0.raucb': 50_000 },
});
const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
let pki: TestPki;
let server: TestServer;
let esp: ClientCert;
let unit: ClientCert;

beforeAll(async () => {
  pki = new TestPki();
  esp = pki.client('esp-dev-1', '/CN=esp32-tls:dev-1');
  unit = pki.client('rauc-unit-1', '/CN=rauc-tls:unit-1');
  const config = join(tempDir('otaflux-protocols-tls-'), 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir } from 'otaflux';
export default defineConfig({
  server: { tls: { listenAddr: '127.0.0.1:0', cert: ${JSON.stringify(pki.serverCert)}, key: ${JSON.stringify(pki.serverKey)}, clientCa: ${JSON.stringify(pki.caCert)}, requireClientCert: false } },
  defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }), extract: 'raw' },
  // Open streams: devices that use HTTPS without a client certificate. The others are bound to certificates by the client CA.
  devices: { 'esp32-open': { auth: 'none' }, 'rauc-open': { auth: 'none' } },
  fleet: { refreshInterval: 0.2 },
  protocols: { arduino: {}, rauc: {} },
});
`);
  server = await startTestServer({ config });
}, 60_000);
afterAll(() => server?.close());

const tls = (client?: ClientCert) => openTlsSocket(server.ports.https as number, { ca: pki.caCert, ...(client ? { cert: client.cert, key: client.key } : {}) });

/** The request HTTPClient writes for ESP32 HTTPUpdate (HTTP/1.0), here over WiFiClientSecure. */
function esp32Request(path: string, extra: Record<string, string> = {}): string {
  const headers: Record<string, string> = {
    'Cache-Control': 'no-cache',
    'x-ESP32-STA-MAC': '24:0A:C4:AA:BB:01',
    'x-ESP32-AP-MAC': '24:0A:C4:AA:BB:02',
    'x-ESP32-free-space': '1310720',
    'x-ESP32-sketch-size': '3000',
    'x-ESP32-chip-size': '4194304',
    'x-ESP32-sdk-version': 'v4.4.7',
    'x-ESP32-mode': 'sketch',
    ...extra,
  };
  return `GET ${path} HTTP/1.0\r\nHost: 127.0.0.1:${server.ports.https}\r\nUser-Agent: ESP32-http-Update\r\nConnection: close\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

/** One HTTP/1.0 exchange over TLS, read until the server closes. */
async function closeExchange(s: Socket, request: string): Promise<RawResponse> {
  s.write(request);
  return parseResponse(await readToEnd(s));
}

function expectInstallable(r: RawResponse, image: Uint8Array, version: string): void {
  expect(r.status).toBe(200);
  expect(r.head).not.toMatch(/transfer-encoding/i);
  expect(r.head).not.toMatch(/^location:/im);
  expect(Number(r.headers['content-length'])).toBe(image.length);
  expect(r.body[0]).toBe(0xe9);
  expect(r.headers['x-md5']).toBe(md5(image));
  expect(r.headers['x-version']).toBe(version);
  expect(Buffer.compare(r.body, Buffer.from(image))).toBe(0);
}

test('Arduino over HTTPS without a client certificate: the image with exact Content-Length, x-MD5, x-version; 304 once it runs it', async () => {
  const image = fw.bytes('esp32-open', '1.2.0.bin');
  expectInstallable(await closeExchange(await tls(), esp32Request('/firmware?device=esp32-open', { 'x-ESP32-version': '1.0.0' })), image, '1.2.0');
  const same = await closeExchange(await tls(), esp32Request('/firmware?device=esp32-open', { 'x-ESP32-version': '1.2.0' }));
  expect(same.status).toBe(304);
  expect(same.body.length).toBe(0);
  const version = await closeExchange(await tls(), esp32Request('/firmware?device=esp32-open', { 'x-ESP32-mode': 'version' }));
  expect(version.status).toBe(200);
  expect(version.headers['x-version']).toBe('1.2.0');
  expect(version.headers['content-length']).toBe('0');
});

test('Arduino over mTLS: its certificate admits it and names the instance; no certificate is 401, another stream\'s 403', async () => {
  const image = fw.bytes('esp32-tls', '2.0.0.bin');
  expectInstallable(await closeExchange(await tls(esp), esp32Request('/firmware?device=esp32-tls')), image, '2.0.0');
  await Bun.sleep(20);
  // The certificate outranks the STA MAC as the instance.
  expect(server.runtime.fleet?.outcomesOf('cert:esp32-tls:dev-1').find((o) => o.stream === 'esp32-tls')).toMatchObject({ version: '2.0.0', state: 'downloaded' });
  expect(server.runtime.fleet?.outcomesOf('mac:24:0A:C4:AA:BB:01').find((o) => o.stream === 'esp32-tls')).toBeUndefined();
  const none = await closeExchange(await tls(), esp32Request('/firmware?device=esp32-tls'));
  expect(none.status).toBe(401);
  expect(none.head).not.toMatch(/transfer-encoding/i);
  expect(Number(none.headers['content-length'])).toBe(none.body.length);
  expect((await closeExchange(await tls(unit), esp32Request('/firmware?device=esp32-tls'))).status).toBe(403);
});

/** RAUC's first request (libcurl: Host, Accept; no User-Agent), with its `send-headers`. */
function raucFirst(path: string, serial: string, extra: Record<string, string> = {}): string {
  const headers = { 'RAUC-Boot-ID': 'boot-tls-1', 'RAUC-Machine-ID': createHash('md5').update(serial).digest('hex'), 'RAUC-System-Version': '0.9.0', 'RAUC-Serial': serial, 'RAUC-Variant': 'default', 'RAUC-Transaction-ID': crypto.randomUUID(), 'RAUC-Uptime': '77', ...extra };
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${server.ports.https}\r\nRange: bytes=0-3\r\nAccept: */*\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}
const raucRange = (path: string, start: number, end: number) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${server.ports.https}\r\nRange: bytes=${start}-${end}\r\nAccept: */*\r\n\r\n`;

async function exchange(s: Socket, request: string): Promise<RawResponse> {
  s.write(request);
  return (await readOneResponse(s)).response;
}

/** Reads a whole bundle as RAUC streaming does after its first request: 16 KiB Range reads on one connection. */
async function readAll(s: Socket, path: string, total: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let start = 0; start < total; start += 16384) {
    const end = Math.min(start + 16384, total) - 1;
    const r = await exchange(s, raucRange(path, start, end));
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes ${start}-${end}/${total}`);
    expect(Number(r.headers['content-length'])).toBe(end - start + 1);
    pieces.push(r.body);
  }
  return Buffer.concat(pieces);
}

test('RAUC over HTTPS: 206 with Content-Range bytes 0-3/<total>, Range reads of the same bundle, 304 on If-None-Match', async () => {
  const bundle = Buffer.from(fw.bytes('rauc-open', '1.0.0.raucb'));
  const path = '/firmware?device=rauc-open';
  const s = await tls();
  const first = await exchange(s, raucFirst(path, 'open-1'));
  expect(first.status).toBe(206);
  expect(first.head).not.toMatch(/transfer-encoding/i);
  expect(first.headers['content-range']).toBe(`bytes 0-3/${bundle.length}`);
  expect(first.headers['content-length']).toBe('4');
  expect(Buffer.compare(first.body, bundle.subarray(0, 4))).toBe(0);
  expect(Buffer.compare(await readAll(s, path, bundle.length), bundle)).toBe(0);
  const again = await exchange(s, raucFirst(path, 'open-1', { 'If-None-Match': first.headers.etag as string }));
  expect(again.status).toBe(304);
  expect(again.body.length).toBe(0);
  s.destroy();
  await Bun.sleep(20);
  expect(server.runtime.fleet?.outcomesOf('serial:open-1').find((o) => o.stream === 'rauc-open')?.state).toBe('downloaded');
});

test('RAUC over mTLS (tls-cert/tls-key): the certificate names the instance, the whole read makes it downloaded; no certificate is 401', async () => {
  const bundle = Buffer.from(fw.bytes('rauc-tls', '3.0.0.raucb'));
  const path = '/firmware?device=rauc-tls';
  const s = await tls(unit);
  const first = await exchange(s, raucFirst(path, 'unit-serial-1'));
  expect(first.status).toBe(206);
  expect(first.headers['content-range']).toBe(`bytes 0-3/${bundle.length}`);
  const state = () => server.runtime.fleet?.outcomesOf('cert:rauc-tls:unit-1').find((o) => o.stream === 'rauc-tls')?.state;
  expect(state()).toBe('downloading');
  expect(Buffer.compare(await readAll(s, path, bundle.length), bundle)).toBe(0);
  s.destroy();
  await Bun.sleep(20);
  expect(state()).toBe('downloaded');
  // The certificate outranks RAUC-Serial.
  expect(server.runtime.fleet?.outcomesOf('serial:unit-serial-1')).toHaveLength(0);
  await server.runtime.fleet?.flush();
  expect(await server.runtime.fleet?.store.instance('cert:rauc-tls:unit-1')).toMatchObject({ route: 'rauc:firmware', boot_id: 'boot-tls-1', downloaded_version: '3.0.0' });

  const anon = await tls();
  const refused = await exchange(anon, raucFirst(path, 'unit-serial-2'));
  anon.destroy();
  expect(refused.status).toBe(401);
  expect(Number(refused.headers['content-length'])).toBe(refused.body.length);
  const other = await tls(esp);
  expect((await exchange(other, raucFirst(path, 'unit-serial-3'))).status).toBe(403);
  other.destroy();
});
