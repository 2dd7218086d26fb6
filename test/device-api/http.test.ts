// The device API over HTTP: status codes, bodies, HEAD, ETag / If-None-Match, Range / If-Range.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';

let server: TestServer;
let fw: ReturnType<typeof firmwareDir>;
const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => fetch(`${server.url}${path}`, { headers, method });

beforeAll(async () => {
  fw = firmwareDir({
    dev1: { '1.0.0.bin': 5000, 'v1.10.0.bin': 70_000, '1.9.9.bin': 10, '2.0.0-rc.1.bin': 10, 'latest.bin': 10, 'notes.txt': 5 },
    'group/nested-dev': { '0.1.0.bin': 64 },
    empty: {},
  });
  server = await startTestServer({ flags: { 'firmware-dir': fw.root } });
});
afterAll(() => server.close());

describe('/version', () => {
  test('highest semver wins, v prefix dropped, prereleases and non-semver names ignored', async () => {
    const r = await get('/version?device=dev1');
    const image = fw.bytes('dev1', 'v1.10.0.bin');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await r.text()).toBe(`1.10.0\n${Bun.hash.crc32(image) >>> 0}\n70000`);
  });

  test('missing or empty device → 400 with the Rust body', async () => {
    for (const q of ['', '?device=', '?other=1']) {
      const r = await get(`/version${q}`);
      expect(r.status).toBe(400);
      expect(await r.text()).toBe("Missing required query parameter: 'device'");
    }
  });

  test('ids outside the OCI repository grammar → 400, never a path or a 5xx', async () => {
    for (const id of ['../etc', 'dev1/../dev1', 'UPPER', '/abs', 'a//b', 'x'.repeat(256), '%2e%2e%2fetc', 'dev1%00']) {
      const r = await get(`/version?device=${encodeURIComponent(id)}`);
      expect(r.status).toBe(400);
      expect(await r.text()).toStartWith('Invalid device id');
    }
  });

  test('unknown device and device with nothing published → 404 with the Rust body', async () => {
    for (const id of ['nobody', 'empty']) {
      const r = await get(`/version?device=${id}`);
      expect(r.status).toBe(404);
      expect(await r.text()).toBe(`No firmware for device '${id}'`);
    }
  });

  test('nested device ids (OCI repositories with /) work', async () => {
    const r = await get('/version?device=group/nested-dev');
    expect((await r.text()).split('\n')[0]).toBe('0.1.0');
  });

  test('HEAD gives the headers and no body', async () => {
    const r = await get('/version?device=dev1', {}, 'HEAD');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-length')).toBe(String(`1.10.0\n${Bun.hash.crc32(fw.bytes('dev1', 'v1.10.0.bin')) >>> 0}\n70000`.length));
    expect(await r.text()).toBe('');
  });

  test('other methods → 405 with Allow', async () => {
    const r = await get('/version?device=dev1', {}, 'POST');
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('/firmware', () => {
  const image = () => fw.bytes('dev1', 'v1.10.0.bin');

  test('the exact bytes, octet-stream, explicit length, strong ETag of the content', async () => {
    const r = await get('/firmware?device=dev1');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/octet-stream');
    expect(r.headers.get('content-length')).toBe('70000');
    expect(r.headers.get('etag')).toBe(`"${new Bun.CryptoHasher('sha256').update(image()).digest('hex')}"`);
    expect(Buffer.compare(Buffer.from(await r.arrayBuffer()), Buffer.from(image()))).toBe(0);
  });

  test('If-None-Match with the ETag → 304 without a body; another ETag → 200', async () => {
    const etag = (await get('/firmware?device=dev1', {}, 'HEAD')).headers.get('etag') as string;
    const same = await get('/firmware?device=dev1', { 'if-none-match': `"abc", ${etag}` });
    expect(same.status).toBe(304);
    expect(await same.text()).toBe('');
    expect((await get('/firmware?device=dev1', { 'if-none-match': '"other"' })).status).toBe(200);
  });

  test('Range: start-end, open-ended (ESP-IDF resume) and suffix → 206 with Content-Range', async () => {
    const cases: [string, number, number][] = [['bytes=0-99', 0, 99], ['bytes=69000-', 69000, 69999], ['bytes=-10', 69990, 69999], ['bytes=69990-80000', 69990, 69999]];
    for (const [range, start, end] of cases) {
      const r = await get('/firmware?device=dev1', { range });
      expect(r.status).toBe(206);
      expect(r.headers.get('content-range')).toBe(`bytes ${start}-${end}/70000`);
      const body = Buffer.from(await r.arrayBuffer());
      expect(body.length).toBe(end - start + 1);
      expect(Buffer.compare(body, Buffer.from(image().subarray(start, end + 1)))).toBe(0);
    }
  });

  test('unsatisfiable Range → 416 with bytes */size', async () => {
    const r = await get('/firmware?device=dev1', { range: 'bytes=70000-' });
    expect(r.status).toBe(416);
    expect(r.headers.get('content-range')).toBe('bytes */70000');
  });

  test('If-Range with a stale ETag → the whole image (200), never a mixed 206', async () => {
    const r = await get('/firmware?device=dev1', { range: 'bytes=10-', 'if-range': '"stale"' });
    expect(r.status).toBe(200);
    expect((await r.arrayBuffer()).byteLength).toBe(70000);
    const etag = (await get('/firmware?device=dev1', {}, 'HEAD')).headers.get('etag') as string;
    const ok = await get('/firmware?device=dev1', { range: 'bytes=10-', 'if-range': etag });
    expect(ok.status).toBe(206);
  });

  test('several ranges or malformed Range → whole image', async () => {
    for (const range of ['bytes=0-1,5-6', 'items=0-5', 'bytes=9-2']) {
      const r = await get('/firmware?device=dev1', { range });
      expect(r.status).toBe(200);
      expect((await r.arrayBuffer()).byteLength).toBe(70000);
    }
  });

  test('HEAD: length and ETag, no body', async () => {
    const r = await get('/firmware?device=dev1', {}, 'HEAD');
    expect(r.headers.get('content-length')).toBe('70000');
    expect(await r.text()).toBe('');
  });
});

test('/health → 200 with an empty body', async () => {
  const r = await get('/health');
  expect(r.status).toBe(200);
  expect(await r.text()).toBe('');
});
