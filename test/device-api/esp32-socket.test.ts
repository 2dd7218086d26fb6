// The example ESP32 client (esp32-home-sensor), byte for byte: a leading CRLF before the request
// line, a 1024-byte buffer for status + headers + the 3-line body, then /firmware on the same
// connection with `Connection: close`, read to EOF.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { openSocket, parseResponse, readOneResponse, readToEnd } from '../support/raw-http.ts';

let server: TestServer;
let fw: ReturnType<typeof firmwareDir>;

beforeAll(async () => {
  fw = firmwareDir({ 'esp32-home-sensor': { '0.9.0.bin': 1000, '1.4.2.bin': 942_320 } });
  server = await startTestServer({ flags: { 'firmware-dir': fw.root } });
});
afterAll(() => server.close());

test('leading CRLF, keep-alive /version in 1024 bytes, then /firmware to EOF on the same connection', async () => {
  const image = fw.bytes('esp32-home-sensor', '1.4.2.bin');
  const s = await openSocket(server.ports.http as number);
  s.write('\r\nGET /version?device=esp32-home-sensor HTTP/1.1\r\nHost: ota.local\r\nConnection: keep-alive\r\n\r\n');
  const { raw: first, response: v } = await readOneResponse(s);
  expect(v.status).toBe(200);
  expect(v.headers['transfer-encoding']).toBeUndefined();
  expect(v.headers['content-type']).toBe('text/plain; charset=utf-8');
  const body = `1.4.2\n${Bun.hash.crc32(image) >>> 0}\n${image.length}`;
  expect(v.body.toString()).toBe(body);
  // Status line, headers and the 3-line body all fit the device's 1024-byte buffer.
  expect(first.length).toBeLessThanOrEqual(1024);

  s.write('GET /firmware?device=esp32-home-sensor HTTP/1.1\r\nHost: ota.local\r\nConnection: close\r\n\r\n');
  const raw = await readToEnd(s);
  const f = parseResponse(raw);
  expect(f.status).toBe(200);
  expect(f.headers['content-type']).toBe('application/octet-stream');
  expect(f.headers['transfer-encoding']).toBeUndefined();
  expect(Number(f.headers['content-length'])).toBe(image.length);
  expect(f.body.length).toBe(image.length);
  expect(Buffer.compare(f.body, Buffer.from(image))).toBe(0);
});

test('a bare LF-terminated request and HTTP/1.0 still get exact bodies', async () => {
  const s = await openSocket(server.ports.http as number);
  s.write('GET /version?device=esp32-home-sensor HTTP/1.0\r\n\r\n');
  const r = parseResponse(await readToEnd(s));
  expect(r.status).toBe(200);
  expect(r.body.toString().split('\n')[0]).toBe('1.4.2');
});
