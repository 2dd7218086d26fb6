/**
 * Arduino HTTPUpdate (arduino-esp32 `HTTPUpdate.cpp`, esp8266 `ESP8266httpUpdate.cpp`) against
 * `/firmware`, byte for byte over real sockets: requests exactly as those libraries write them
 * (HTTP/1.0, their User-Agent and `x-ESP32-*` / `x-ESP8266-*` headers), answers checked as the
 * libraries read them: 304 = no update; 200 needs Content-Length > 0, first byte 0xE9, `x-MD5`;
 * never chunked, never a redirect. Check-ins go through the fleet with the protocol label.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { openSocket, parseResponse, readOneResponse, readToEnd, type RawResponse } from '../support/raw-http.ts';
import { scrapeMetrics } from '../support/metrics.ts';
import { explanationLines } from '../../src/cli/commands/fleet-explanation.ts';
import { hashToken } from '../../src/plugins/auth/token-hash.ts';

const ADMIN = 'arduino-test-admin-token-0123456789';
const ESP32_MAC = '24:0A:C4:12:34:56';
const ESP8266_MAC = '5C:CF:7F:AB:CD:EF';

/** An ESP32 app image: magic 0xE9, "hash appended" flag at byte 23, and its SHA-256 in the last 32 bytes. */
function espImage(size: number, hashAppended: boolean): Uint8Array {
  const b = randomBytes(size);
  b[0] = 0xe9;
  b[23] = hashAppended ? 1 : 0;
  if (hashAppended) createHash('sha256').update(b.subarray(0, size - 32)).digest().copy(b, size - 32);
  return b;
}

const fw = firmwareDir({
  'esp32-a': { '1.0.0.bin': espImage(3000, true), '1.1.0.bin': espImage(5000, true) },
  'esp32-a-fs': { '1.1.0.bin': 7000 },
  'esp32-nofs': { '2.0.0.bin': espImage(2000, false) },
  'esp8266-b': { '3.0.0.bin': espImage(4000, false) },
  'tok-esp': { '1.0.0.bin': espImage(1500, false) },
});
const TOKEN = 'token-of-tok-esp-0123456789abcdef';
const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
let server: TestServer;

beforeAll(async () => {
  const config = join(tempDir('otaflux-arduino-'), 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir, token } from 'otaflux';
export default defineConfig({
  server: { adminToken: ${JSON.stringify(ADMIN)} },
  defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }), extract: 'raw' },
  devices: { 'tok-*': { auth: token({ devices: { 'tok-esp': ${JSON.stringify(hashToken(TOKEN))} } }) } },
  fleet: { refreshInterval: 0.2 },
  protocols: { arduino: { streams: { '5C:CF:7F:*': 'esp8266-b' } } },
});
`);
  server = await startTestServer({ config });
});
afterAll(() => server?.close());

/** The request HTTPClient writes for HTTPUpdate (ESP32: `Connection: keep-alive`, its default reuse). */
function esp32Request(path: string, extra: Record<string, string> = {}, connection = 'keep-alive'): string {
  const headers: Record<string, string> = {
    'Cache-Control': 'no-cache',
    'x-ESP32-STA-MAC': ESP32_MAC,
    'x-ESP32-AP-MAC': '24:0A:C4:12:34:57',
    'x-ESP32-free-space': '1310720',
    'x-ESP32-sketch-size': '3000',
    'x-ESP32-chip-size': '4194304',
    'x-ESP32-sdk-version': 'v4.4.7-dirty',
    'x-ESP32-mode': 'sketch',
    ...extra,
  };
  return `GET ${path} HTTP/1.0\r\nHost: 127.0.0.1:${server.ports.http}\r\nUser-Agent: ESP32-http-Update\r\nConnection: ${connection}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

function esp8266Request(path: string, extra: Record<string, string> = {}): string {
  const headers: Record<string, string> = {
    'x-ESP8266-Chip-ID': '11259375',
    'x-ESP8266-STA-MAC': ESP8266_MAC,
    'x-ESP8266-AP-MAC': '5E:CF:7F:AB:CD:EF',
    'x-ESP8266-free-space': '2760704',
    'x-ESP8266-sketch-size': '4000',
    'x-ESP8266-sketch-md5': '0'.repeat(32),
    'x-ESP8266-chip-size': '4194304',
    'x-ESP8266-sdk-version': '2.2.2-dev(38a443e)',
    'x-ESP8266-mode': 'sketch',
    ...extra,
  };
  return `GET ${path} HTTP/1.0\r\nHost: 127.0.0.1:${server.ports.http}\r\nUser-Agent: ESP8266-http-Update\r\nConnection: close\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

/** Sends one request and reads until the server closes (HTTP/1.0, `Connection: close`). */
async function closeExchange(request: string): Promise<RawResponse & { raw: Buffer }> {
  const s = await openSocket(server.ports.http as number);
  s.write(request);
  const raw = await readToEnd(s);
  return { ...parseResponse(raw), raw };
}

/** What the library checks of a 200 before it writes flash. */
function expectInstallable(r: RawResponse, image: Uint8Array, version: string): void {
  expect(r.status).toBe(200);
  expect(r.head).not.toMatch(/transfer-encoding/i);
  expect(Number(r.headers['content-length'])).toBe(image.length);
  expect(r.body.length).toBe(image.length);
  expect(r.body[0]).toBe(0xe9);
  expect(r.headers['x-md5']).toBe(md5(image));
  expect(r.headers['x-version']).toBe(version);
  expect(Buffer.compare(r.body, Buffer.from(image))).toBe(0);
}

test('ESP32 on an old version: 200 with the image, exact Content-Length, x-MD5 and x-version; keep-alive honoured for HTTP/1.0', async () => {
  const s = await openSocket(server.ports.http as number);
  s.write(esp32Request('/firmware?device=esp32-a', { 'x-ESP32-version': '1.0.0' }));
  const { response } = await readOneResponse(s);
  expectInstallable(response, fw.bytes('esp32-a', '1.1.0.bin'), '1.1.0');
  expect(response.headers.connection).toBe('keep-alive');
  // The same connection answers the next poll: the device now runs 1.1.0 → 304, no body.
  s.write(esp32Request('/firmware?device=esp32-a', { 'x-ESP32-version': '1.1.0' }));
  const next = await readOneResponse(s);
  expect(next.response.status).toBe(304);
  expect(next.response.body.length).toBe(0);
  s.destroy();
});

test('ESP32 without a version: 304 when its sketch SHA-256 (the image\'s appended hash) or sketch MD5 is the offered release', async () => {
  const image = fw.bytes('esp32-a', '1.1.0.bin');
  const appended = Buffer.from(image.subarray(image.length - 32)).toString('hex').toUpperCase();
  const bySha = await closeExchange(esp32Request('/firmware?device=esp32-a', { 'x-ESP32-sketch-sha256': appended }, 'close'));
  expect(bySha.status).toBe(304);
  expect(bySha.headers['content-length']).toBeUndefined();
  const byMd5 = await closeExchange(esp32Request('/firmware?device=esp32-a', { 'x-ESP32-sketch-md5': md5(image) }, 'close'));
  expect(byMd5.status).toBe(304);
  // An old image's hash: the update.
  const old = fw.bytes('esp32-a', '1.0.0.bin');
  const oldSha = Buffer.from(old.subarray(old.length - 32)).toString('hex').toUpperCase();
  expectInstallable(await closeExchange(esp32Request('/firmware?device=esp32-a', { 'x-ESP32-sketch-sha256': oldSha }, 'close')), image, '1.1.0');
});

test('ESP32 without hash appended: the file SHA-256 counts as the running image', async () => {
  const image = fw.bytes('esp32-nofs', '2.0.0.bin');
  const r = await closeExchange(esp32Request('/firmware?device=esp32-nofs', { 'x-ESP32-sketch-sha256': sha256(image).toUpperCase() }, 'close'));
  expect(r.status).toBe(304);
});

test('ESP8266 with no device in the URL: the stream from protocols.arduino.streams by STA MAC; Connection: close; 304 by sketch MD5', async () => {
  const image = fw.bytes('esp8266-b', '3.0.0.bin');
  const r = await closeExchange(esp8266Request('/firmware'));
  expectInstallable(r, image, '3.0.0');
  expect(r.headers.connection).toBe('close');
  expect(r.headers.location).toBeUndefined();
  const same = await closeExchange(esp8266Request('/firmware', { 'x-ESP8266-sketch-md5': md5(image) }));
  expect(same.status).toBe(304);
  // A MAC the config does not map, and no device in the URL: the device API's 400, never a redirect.
  const unmapped = await closeExchange(esp8266Request('/firmware', { 'x-ESP8266-STA-MAC': '11:22:33:44:55:66' }));
  expect(unmapped.status).toBe(400);
});

test('mode: version answers only x-version (and x-MD5): 200 with no body, or 304 when it runs it', async () => {
  const image = fw.bytes('esp8266-b', '3.0.0.bin');
  const r = await closeExchange(esp8266Request('/firmware?device=esp8266-b', { 'x-ESP8266-mode': 'version', 'x-ESP8266-version': '2.9.0' }));
  expect(r.status).toBe(200);
  expect(r.headers['content-length']).toBe('0');
  expect(r.body.length).toBe(0);
  expect(r.headers['x-version']).toBe('3.0.0');
  expect(r.headers['x-md5']).toBe(md5(image));
  const same = await closeExchange(esp8266Request('/firmware?device=esp8266-b', { 'x-ESP8266-mode': 'version', 'x-ESP8266-version': '3.0.0' }));
  expect(same.status).toBe(304);
  expect(same.headers['x-version']).toBe('3.0.0');
});

test('mode: spiffs: the filesystem image of the offered release (stream <device>-fs, same version), else 304', async () => {
  const fsImage = fw.bytes('esp32-a-fs', '1.1.0.bin');
  const r = await closeExchange(esp32Request('/firmware?device=esp32-a', { 'x-ESP32-mode': 'spiffs', 'x-ESP32-version': '1.0.0' }, 'close'));
  expect(r.status).toBe(200);
  expect(Number(r.headers['content-length'])).toBe(fsImage.length);
  expect(r.headers['x-md5']).toBe(md5(fsImage));
  expect(Buffer.compare(r.body, Buffer.from(fsImage))).toBe(0);
  // Already on the release: nothing to write.
  expect((await closeExchange(esp32Request('/firmware?device=esp32-a', { 'x-ESP32-mode': 'spiffs', 'x-ESP32-version': '1.1.0' }, 'close'))).status).toBe(304);
  // A release without a filesystem image: 304 (the library's "no update"), the sketch update still goes on.
  const none = await closeExchange(esp32Request('/firmware?device=esp32-nofs', { 'x-ESP32-mode': 'spiffs', 'x-ESP32-version': '1.0.0' }, 'close'));
  expect(none.status).toBe(304);
  // A mode the libraries never send: 403 (the library's "Forbidden").
  expect((await closeExchange(esp32Request('/firmware?device=esp32-a', { 'x-ESP32-mode': 'bootloader' }, 'close'))).status).toBe(403);
});

test('unknown device: the short 404 the library maps to "File Not Found"', async () => {
  const r = await closeExchange(esp32Request('/firmware?device=no-such-thing', {}, 'close'));
  expect(r.status).toBe(404);
  expect(r.body.toString()).toBe("No firmware for device 'no-such-thing'");
});

test('check-ins: the instance is the STA MAC, recorded with the arduino protocol; the download is tracked to verified', async () => {
  const fleet = server.runtime.fleet;
  expect(fleet).toBeDefined();
  const mac = '24:0A:C4:00:00:01';
  const image = fw.bytes('esp32-a', '1.1.0.bin');
  // Poll on 1.0.0 → download of 1.1.0 → next poll reports 1.1.0.
  expectInstallable(await closeExchange(esp32Request('/firmware?device=esp32-a', { 'x-ESP32-STA-MAC': mac, 'x-ESP32-version': '1.0.0' }, 'close')), image, '1.1.0');
  await Bun.sleep(50);
  expect(fleet?.outcomesOf(`mac:${mac.toLowerCase()}`).find((o) => o.version === '1.1.0')?.state).toBe('downloaded');
  expect((await closeExchange(esp32Request('/firmware?device=esp32-a', { 'x-ESP32-STA-MAC': mac, 'x-ESP32-version': '1.1.0' }, 'close'))).status).toBe(304);
  expect(fleet?.outcomesOf(`mac:${mac.toLowerCase()}`).find((o) => o.version === '1.1.0')?.state).toBe('verified');
  await fleet?.flush();
  const res = await fetch(`${server.url}/api/devices/esp32-a?instance=${encodeURIComponent(`mac:${mac.toLowerCase()}`)}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  const view = (await res.json()) as { fleet: { checkin: { route: string; reported_version: string; downloaded_version: string }; offer: { version: string } } };
  expect(view.fleet.checkin.route).toBe('arduino:version');
  expect(view.fleet.checkin.reported_version).toBe('1.1.0');
  expect(view.fleet.checkin.downloaded_version).toBe('1.1.0');
  expect(view.fleet.offer.version).toBe('1.1.0');
  // What `otaflux inspect` and the status API print for it names the protocol.
  expect(explanationLines(view.fleet as never).join('\n')).toContain('(arduino, poll), reports 1.1.0');
  const m = await scrapeMetrics(server.ports.metrics as number);
  expect(m.get('otaflux_device_protocol_requests_total{protocol="arduino",status="200"}')).toBeGreaterThanOrEqual(3);
  expect(m.get('otaflux_device_protocol_requests_total{protocol="arduino",status="304"}')).toBeGreaterThanOrEqual(3);
});

test('a browser-like client on /firmware gets the native answer (no x-MD5): recognition is by the libraries\' User-Agent only', async () => {
  const r = await closeExchange(`GET /firmware?device=esp32-a HTTP/1.0\r\nHost: x\r\nx-ESP32-version: 1.0.0\r\n\r\n`);
  expect(r.status).toBe(200);
  expect(r.headers['x-md5']).toBeUndefined();
  expect(r.headers['x-firmware-version']).toBe('1.1.0');
});

test('the same auth as the native API: a token device answers 401 without its token, the image with ?token= in the update URL', async () => {
  const without = await closeExchange(esp32Request('/firmware?device=tok-esp', {}, 'close'));
  expect(without.status).toBe(401);
  expect(without.headers['x-md5']).toBeUndefined();
  const wrong = await closeExchange(esp32Request('/firmware?device=tok-esp&token=not-the-token-0123456789abcdef', {}, 'close'));
  expect(wrong.status).toBe(401);
  expectInstallable(await closeExchange(esp32Request(`/firmware?device=tok-esp&token=${TOKEN}`, {}, 'close')), fw.bytes('tok-esp', '1.0.0.bin'), '1.0.0');
});

test('a malformed protocols.arduino.streams key stops start-up with the file, the key and what was expected', async () => {
  const config = join(tempDir('otaflux-arduino-bad-'), 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir } from 'otaflux';
export default defineConfig({
  defaults: { source: dir({ root: '.' }) },
  protocols: { arduino: { streams: { 'not-a-mac': 'esp32-a' } } },
});
`);
  const failed = await startTestServer({ config }).then((s) => (s.close(), ''), (e: Error) => e.message);
  expect(failed).toContain('otaflux.config.ts');
  expect(failed).toContain('protocols.arduino.streams');
  expect(failed).toContain('expected a MAC address');
});
