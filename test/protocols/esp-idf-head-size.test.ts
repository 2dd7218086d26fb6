/**
 * ESP-IDF's `esp_http_client` reads a response head into a 512-byte buffer by default: every answer a
 * device can get on a firmware route (native, ESP-IDF, Arduino HTTPUpdate, RAUC; success, partial,
 * not-modified, no-content and error answers) must have a head under that. Measured over a real
 * socket, byte for byte, with a long version string and keep-alive (the longest Connection headers).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { openSocket, readAtLeast } from '../support/raw-http.ts';
import { hashToken } from '../../src/plugins/auth/token-hash.ts';

const ESP_IDF_HEAD_BUFFER = 512;
const LONG = '10.20.30-beta.12';
const fw = firmwareDir({
  'idf-long': { [`${LONG}.bin`]: 70_000 },
  'idf-long-fs': { [`${LONG}.bin`]: 3000 },
  'tok-dev': { '1.0.0.bin': 100 },
  'idf-only': { '1.0.0.bin': 100 },
});
let server: TestServer;
let etag = '';
const heads: { name: string; status: number; bytes: number }[] = [];

beforeAll(async () => {
  const config = join(tempDir('otaflux-heads-'), 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir, token } from 'otaflux';
export default defineConfig({
  defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }), extract: 'raw' },
  devices: { 'idf-*': { allowPrerelease: true }, 'tok-*': { auth: token({ devices: { 'tok-dev': ${JSON.stringify(hashToken('a-token-for-tok-dev-0123456789'))} } }) } },
  // idf-only's one release goes to serial:unit-1 only: every other system is offered nothing.
  fleet: { refreshInterval: 0.2, rollouts: [{ id: 'only-unit-1', streams: 'idf-only', version: '1.0.0', instances: ['serial:unit-1'], steps: [{ percent: 100 }] }] },
});
`);
  server = await startTestServer({ config });
  etag = (await fetch(`${server.url}/firmware?device=idf-long`, { method: 'HEAD' })).headers.get('etag') ?? '';
});
afterAll(() => server?.close());

/** The head of the answer to `request`, measured up to and including its blank line. */
async function headOf(request: string): Promise<{ status: number; bytes: number }> {
  const s = await openSocket(server.ports.http as number);
  s.write(request);
  let got = await readAtLeast(s, 1);
  while (got.indexOf('\r\n\r\n') < 0) got = Buffer.concat([got, await readAtLeast(s, 1)]);
  s.destroy();
  const end = got.indexOf('\r\n\r\n') + 4;
  return { status: Number(got.subarray(0, end).toString('latin1').split(' ')[1]), bytes: end };
}

const idf = (method: string, path: string, extra = '') => `${method} ${path} HTTP/1.1\r\nUser-Agent: ESP32 HTTP Client/1.0\r\nHost: 127.0.0.1\r\n${extra}\r\n`;
const native = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n${extra}\r\n`;
const arduino = (path: string, extra: string) => `GET ${path} HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: ESP32-http-Update\r\nConnection: keep-alive\r\nx-ESP32-STA-MAC: 24:0A:C4:12:34:56\r\n${extra}\r\n`;
const rauc = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\nRange: bytes=0-3\r\nRAUC-Serial: unit-9\r\nRAUC-Machine-ID: 0123456789abcdef0123456789abcdef\r\n${extra}\r\n`;

const CASES: [name: string, request: () => string, status: number][] = [
  ['native 200', () => native('/firmware?device=idf-long'), 200],
  ['native HEAD', () => `HEAD /firmware?device=idf-long HTTP/1.1\r\nHost: x\r\n\r\n`, 200],
  ['native 304', () => native('/firmware?device=idf-long', `If-None-Match: ${etag}\r\n`), 304],
  ['native 416', () => native('/firmware?device=idf-long', 'Range: bytes=999999-\r\n'), 416],
  ['native 400 (no device)', () => native('/firmware'), 400],
  ['native 401 (no token)', () => native('/firmware?device=tok-dev'), 401],
  ['native 404', () => native('/firmware?device=no-such-device-with-a-long-name'), 404],
  ['ESP-IDF 206 bytes=0-', () => idf('GET', '/firmware?device=idf-long', 'Range: bytes=0-\r\n'), 206],
  ['ESP-IDF 206 64 KiB piece', () => idf('GET', '/firmware?device=idf-long', 'Range: bytes=65536-131071\r\n'), 206],
  ['ESP-IDF HEAD', () => idf('HEAD', '/firmware?device=idf-long'), 200],
  ['Arduino 200', () => arduino('/firmware?device=idf-long', 'x-ESP32-mode: sketch\r\nx-ESP32-version: 0.1.0\r\n'), 200],
  ['Arduino 304', () => arduino('/firmware?device=idf-long', `x-ESP32-mode: sketch\r\nx-ESP32-version: ${LONG}\r\n`), 304],
  ['Arduino mode version', () => arduino('/firmware?device=idf-long', 'x-ESP32-mode: version\r\nx-ESP32-version: 0.1.0\r\n'), 200],
  ['Arduino spiffs 200', () => arduino('/firmware?device=idf-long', 'x-ESP32-mode: spiffs\r\nx-ESP32-version: 0.1.0\r\n'), 200],
  ['Arduino 403 mode', () => arduino('/firmware?device=idf-long', 'x-ESP32-mode: other\r\n'), 403],
  ['RAUC 206 first range', () => rauc('/firmware?device=idf-long').replace('RAUC-Serial: unit-9', 'RAUC-Serial: unit-1'), 206],
  ['RAUC 304 polling', () => rauc('/firmware?device=idf-long', `If-None-Match: ${etag}\r\n`).replace('RAUC-Serial: unit-9', 'RAUC-Serial: unit-2'), 304],
  ['RAUC 204 nothing offered', () => rauc('/firmware?device=idf-only'), 204],
];

for (const [name, request, status] of CASES) {
  test(`${name}: ${status}, head under ${ESP_IDF_HEAD_BUFFER} bytes`, async () => {
    const h = await headOf(request());
    expect(h.status).toBe(status);
    heads.push({ name, ...h });
    expect(h.bytes).toBeLessThan(ESP_IDF_HEAD_BUFFER);
  });
}

test('the largest head measured', () => {
  expect(heads.length).toBe(CASES.length);
  const largest = heads.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  console.log(`largest firmware-route response head: ${largest.bytes} bytes (${largest.name})`);
  expect(largest.bytes).toBeLessThan(ESP_IDF_HEAD_BUFFER);
});
