/**
 * ESP-IDF `esp_https_ota` against `/firmware`, byte for byte over real sockets, with requests as
 * `esp_http_client` writes them (its default User-Agent, Host, then the Range the OTA code sets):
 * resumption always sends `Range: bytes=N-` (also `bytes=0-`) and needs 206; partial download sends
 * HEAD, then 64 KiB `bytes=a-b` reads on one keep-alive connection. The download counts as whole only
 * when the read that reaches the last byte was written.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { openSocket, parseResponse, readAtLeast, readOneResponse, type RawResponse } from '../support/raw-http.ts';
import { scrapeMetrics } from '../support/metrics.ts';

const CHUNK = 64 * 1024;
const fw = firmwareDir({ 'idf-a': { '1.0.0.bin': 1000, '2.0.0.bin': 200_000 } });
const image = () => Buffer.from(fw.bytes('idf-a', '2.0.0.bin'));
let server: TestServer;

beforeAll(async () => {
  const config = join(tempDir('otaflux-idf-'), 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir } from 'otaflux';
export default defineConfig({
  defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }), extract: 'raw' },
  fleet: { refreshInterval: 0.2 },
});
`);
  server = await startTestServer({ config });
});
afterAll(() => server?.close());

/** A request as esp_http_client writes it. */
function idfRequest(method: string, path: string, range?: string): string {
  return `${method} ${path} HTTP/1.1\r\nUser-Agent: ESP32 HTTP Client/1.0\r\nHost: 127.0.0.1:${server.ports.http}\r\n${range ? `Range: ${range}\r\n` : ''}\r\n`;
}

/** Reads one HEAD answer (a Content-Length, no body). */
async function readHead(s: Socket): Promise<RawResponse> {
  let got = await readAtLeast(s, 1);
  while (got.indexOf('\r\n\r\n') < 0) got = Buffer.concat([got, await readAtLeast(s, 1)]);
  return parseResponse(got);
}

test('resumption: Range: bytes=0- is answered 206 with the whole image and Content-Range bytes 0-(n-1)/n', async () => {
  const s = await openSocket(server.ports.http as number);
  s.write(idfRequest('GET', '/firmware?device=idf-a&instance=idf-resume', 'bytes=0-'));
  const { response } = await readOneResponse(s);
  expect(response.status).toBe(206);
  expect(response.headers['content-range']).toBe(`bytes 0-${image().length - 1}/${image().length}`);
  expect(Buffer.compare(response.body, image())).toBe(0);
  // A resume after 150 000 bytes, on the same connection.
  s.write(idfRequest('GET', '/firmware?device=idf-a&instance=idf-resume', 'bytes=150000-'));
  const rest = await readOneResponse(s);
  expect(rest.response.status).toBe(206);
  expect(rest.response.headers['content-range']).toBe(`bytes 150000-${image().length - 1}/${image().length}`);
  expect(Buffer.compare(rest.response.body, image().subarray(150000))).toBe(0);
  // Past the end: 416 with the size, which esp_https_ota handles.
  s.write(idfRequest('GET', '/firmware?device=idf-a&instance=idf-resume', `bytes=${image().length}-`));
  const past = await readOneResponse(s);
  expect(past.response.status).toBe(416);
  expect(past.response.headers['content-range']).toBe(`bytes */${image().length}`);
  s.destroy();
});

test('partial download: HEAD then 64 KiB ranges on one keep-alive connection; downloaded only after the last piece', async () => {
  const fleet = server.runtime.fleet;
  const instance = 'idf-partial-1';
  const path = `/firmware?device=idf-a&instance=${instance}`;
  const s = await openSocket(server.ports.http as number);
  s.write(idfRequest('HEAD', path));
  const head = await readHead(s);
  expect(head.status).toBe(200);
  const total = Number(head.headers['content-length']);
  expect(total).toBe(image().length);
  const pieces: Buffer[] = [];
  for (let start = 0; start < total; start += CHUNK) {
    const end = Math.min(start + CHUNK, total) - 1;
    s.write(idfRequest('GET', path, `bytes=${start}-${end}`));
    const { response } = await readOneResponse(s);
    expect(response.status).toBe(206);
    expect(response.headers['content-range']).toBe(`bytes ${start}-${end}/${total}`);
    expect(response.headers.connection).toBe('keep-alive');
    pieces.push(response.body);
    await Bun.sleep(20);
    const state = fleet?.outcomesOf(instance).find((o) => o.version === '2.0.0')?.state;
    // Every piece before the last leaves the download open.
    expect(state).toBe(end === total - 1 ? 'downloaded' : 'downloading');
  }
  expect(Buffer.compare(Buffer.concat(pieces), image())).toBe(0);
  s.destroy();
  await fleet?.flush();
  const m = await scrapeMetrics(server.ports.metrics as number);
  expect(m.get('otaflux_device_protocol_requests_total{protocol="esp-idf",status="206"}')).toBeGreaterThanOrEqual(4);
});

test('If-None-Match with the current ETag: 304 (handled by esp_https_ota)', async () => {
  const s = await openSocket(server.ports.http as number);
  s.write(idfRequest('HEAD', '/firmware?device=idf-a'));
  const etag = (await readHead(s)).headers.etag;
  expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
  s.write(`GET /firmware?device=idf-a HTTP/1.1\r\nUser-Agent: ESP32 HTTP Client/1.0\r\nHost: x\r\nIf-None-Match: ${etag}\r\n\r\n`);
  const { response } = await readOneResponse(s);
  expect(response.status).toBe(304);
  s.destroy();
});

test('without protocols.rauc the RAUC manifest endpoints are 404 like any unknown route', async () => {
  expect((await fetch(`${server.url}/api/v1/manifest.json?compatible=Any`)).status).toBe(404);
  expect((await fetch(`${server.url}/api/v1/manifest/Any.json`)).status).toBe(404);
});
