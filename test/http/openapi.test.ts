/**
 * The OpenAPI document at /docs/json: every route has its parameters and responses, the device
 * routes' status codes and bodies are README's, and for each case a device can cause, the status,
 * body and headers the real device listener answers are the ones the document lists.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { hashToken } from '../../src/plugins/auth/token-hash.ts';
import { freePort } from '../support/ports.ts';

const README = readFileSync(join(import.meta.dir, '../../README.md'), 'utf8');
const TOKENS = { 'esp32-a': 'token-of-esp32-a-0123456789abcdef', 'esp32-b': 'token-of-esp32-b-0123456789abcdef' };
type Spec = { paths: Record<string, Record<string, any>> };

let server: TestServer;
let spec: Spec;
let image: Uint8Array;

beforeAll(async () => {
  // bad-gz: a gzip file that is not one (502); down-*: a registry nobody listens on (503).
  const fw = firmwareDir({ 'esp32-a': { '1.4.2.bin': 20_000 }, 'bad-gz': { '1.0.0.bin.gz': new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3]) } });
  const closed = await freePort();
  image = fw.bytes('esp32-a', '1.4.2.bin');
  const dir = tempDir('otaflux-openapi-');
  const config = join(dir, 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir, oci, token } from 'otaflux';
const source = dir({ root: ${JSON.stringify(fw.root)} });
export default defineConfig({
  server: { adminToken: 'admin-token-for-the-spec-test', webhookSecret: 'hook-secret-for-the-spec-test' },
  devices: {
    'esp32-*': { source, auth: token({ devices: { 'esp32-a': ${JSON.stringify(hashToken(TOKENS['esp32-a']))}, 'esp32-b': ${JSON.stringify(hashToken(TOKENS['esp32-b']))} } }) },
    'open-*': { source, auth: 'none' },
    'bad-*': { source, auth: 'none' },
    'down-*': { source: oci({ url: 'http://127.0.0.1:${closed}', prefix: 'fw' }), auth: 'none' },
  },
});
`);
  server = await startTestServer({ config });
  const res = await fetch(`${server.url}/docs/json`);
  expect(res.status).toBe(200);
  spec = (await res.json()) as Spec;
}, 60_000);
afterAll(() => server?.close());

const op = (path: string, method = 'get') => spec.paths[path]?.[method];
const params = (path: string) => new Map<string, any>((op(path)?.parameters ?? []).map((p: any) => [`${p.in}:${p.name}`, p]));
/** Device ids and other quoted words differ between examples and cases: compare the rest. */
const shape = (s: string) => s.replace(/'[^']*'/g, "'…'");

describe('OpenAPI document', () => {
  test('every route has a summary and responses; the app serves no undocumented route', () => {
    expect(Object.keys(spec.paths).sort()).toEqual(
      [
        '/api/devices', '/api/devices/*', '/api/ready', '/api/releases', '/api/status', '/firmware', '/health', '/ready', '/version', '/webhooks/harbor',
        // Fleet control (README "Fleet control").
        '/api/audit', '/api/fleet', '/api/instances/*', '/api/pins', '/api/pins/{id}', '/api/releases/*', '/api/rollouts', '/api/rollouts/{id}/{action}', '/api/versions/history',
        // The dashboard (README "Dashboard").
        '/ui/login', '/ui/logout', '/ui/fleet', '/ui/device', '/ui/releases', '/ui/rollouts', '/ui/audit',
        '/ui/releases/upload', '/ui/releases/yank', '/ui/releases/pin', '/ui/pins/delete', '/ui/rollouts/action',
      ].sort(),
    );
    for (const [path, methods] of Object.entries(spec.paths)) {
      for (const [method, o] of Object.entries(methods)) {
        expect(`${method} ${path}: ${typeof o.summary}`).toBe(`${method} ${path}: string`);
        expect(Object.keys(o.responses ?? {}).length).toBeGreaterThan(0);
        for (const r of Object.values<any>(o.responses)) expect(typeof r.description).toBe('string');
      }
    }
  });

  test('the version history takes days and points, optional integers with their bounds', () => {
    const p = params('/api/versions/history');
    expect(p.get('query:days')).toMatchObject({ required: false, schema: { type: 'integer', minimum: 1, default: 7 } });
    expect(p.get('query:points')).toMatchObject({ required: false, schema: { type: 'integer', minimum: 2, maximum: 500, default: 48 } });
  });

  test('the device routes take device (required), token and Authorization; /firmware also Range, If-Range, If-None-Match', () => {
    for (const path of ['/version', '/firmware']) {
      const p = params(path);
      expect(p.get('query:device')).toMatchObject({ required: true, schema: { type: 'string' } });
      expect(p.get('query:token')).toMatchObject({ required: false });
      expect(p.get('header:Authorization')).toMatchObject({ required: false });
    }
    expect([...params('/firmware').keys()].filter((k) => k.startsWith('header:')).sort()).toEqual(['header:Authorization', 'header:If-None-Match', 'header:If-Range', 'header:Range']);
    expect(Object.keys(op('/version').responses).sort()).toEqual(['200', '400', '401', '403', '404', '405', '429', '500', '502', '503']);
    expect(Object.keys(op('/firmware').responses).sort()).toEqual(['200', '204', '206', '304', '400', '401', '403', '404', '405', '416', '429', '500', '502', '503']);
    expect(Object.keys(op('/firmware').responses['200'].headers).sort()).toEqual(['Accept-Ranges', 'Content-Length', 'ETag', 'X-Firmware-Crc32', 'X-Firmware-Version']);
    expect(op('/firmware').responses['206'].headers).toHaveProperty('Content-Range');
    expect(op('/firmware').responses['416'].headers).toHaveProperty('Content-Range');
  });

  test('the operator API needs the admin token and says so; the webhook its secret', () => {
    for (const path of ['/api/status', '/api/devices', '/api/devices/*', '/api/releases', '/api/ready']) {
      expect(op(path).security).toEqual([{ adminToken: [] }]);
      expect(op(path).responses['401'].headers).toHaveProperty('WWW-Authenticate');
    }
    expect(op('/webhooks/harbor', 'post').parameters.map((p: any) => `${p.in}:${p.name}:${p.required}`)).toEqual(['header:Authorization:true']);
    expect(Object.keys(op('/webhooks/harbor', 'post').responses).sort()).toEqual(['200', '202', '400', '401', '404', '413']);
    expect(Object.keys(op('/ready').responses).sort()).toEqual(['200', '503']);
  });

  test("README's status-code table and the document agree, body for body", () => {
    const table = README.slice(README.indexOf('### Status codes'), README.indexOf('When the source fails'));
    // Rows about the device routes; the unknown-route row (`Not Found`) belongs to no documented path.
    const rows = [...table.matchAll(/^\| (\d{3}) \| `([^`]+)`/gm)].map((m) => ({ status: m[1] as string, body: m[2] as string })).filter((r) => r.body !== 'Not Found');
    expect(rows.length).toBeGreaterThanOrEqual(10);
    for (const path of ['/version', '/firmware']) {
      for (const row of rows) {
        const examples = Object.values<any>(op(path).responses[row.status]?.content?.['text/plain; charset=utf-8']?.examples ?? {}).map((e) => shape(e.value));
        const body = shape(row.body.replace(/'ID'/g, "'x'"));
        const hit = body.endsWith('…') ? examples.some((e) => e.startsWith(body.slice(0, -1))) : examples.includes(body);
        expect(`${path} ${row.status} ${row.body}: ${hit}`).toBe(`${path} ${row.status} ${row.body}: true`);
      }
    }
  });
});

/** The real answer to one request, checked against the document's response for its status. */
async function matchesSpec(path: '/version' | '/firmware', query: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(`${server.url}${path}${query}`, init);
  const method = (init.method ?? 'GET').toLowerCase();
  const documented = op(path).responses[String(res.status)];
  expect(`${method} ${path}${query} → ${res.status} documented: ${documented !== undefined}`).toBe(`${method} ${path}${query} → ${res.status} documented: true`);
  for (const name of Object.keys(documented.headers ?? {})) {
    expect(`${res.status} ${name}: ${res.headers.has(name)}`).toBe(`${res.status} ${name}: true`);
  }
  // Failure bodies are fixed texts: the answer must be one of them. A 200's example is a sample.
  const examples = documented.content?.['text/plain; charset=utf-8']?.examples;
  if (examples && method !== 'head' && res.status >= 400) {
    const body = await res.clone().text();
    expect(Object.values<any>(examples).map((e) => shape(e.value))).toContain(shape(body));
  }
  return res;
}

describe('what the listener answers is what the document says', () => {
  const a = { headers: { authorization: `Bearer ${TOKENS['esp32-a']}` } };

  test('/version: each case a device can cause', async () => {
    const ok = await matchesSpec('/version', '?device=esp32-a', a);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe(`1.4.2\n${Bun.hash.crc32(image) >>> 0}\n${image.length}`);
    expect((await matchesSpec('/version', '', a)).status).toBe(400);
    expect((await matchesSpec('/version', '?device=ESP32!', a)).status).toBe(400);
    expect((await matchesSpec('/version', '?device=esp32-a')).status).toBe(401);
    expect((await matchesSpec('/version', '?device=esp32-a', { headers: { authorization: `Bearer ${TOKENS['esp32-b']}` } })).status).toBe(403);
    expect((await matchesSpec('/version', `?device=esp32-a&token=${TOKENS['esp32-a']}`)).status).toBe(200);
    expect((await matchesSpec('/version', '?device=open-nothing')).status).toBe(404);
    expect((await matchesSpec('/version', '?device=bad-gz')).status).toBe(502);
    expect((await matchesSpec('/version', '?device=down-1')).status).toBe(503);
    expect((await matchesSpec('/version', '?device=esp32-a', { ...a, method: 'HEAD' })).status).toBe(200);
    expect((await matchesSpec('/version', '?device=esp32-a', { ...a, method: 'POST' })).status).toBe(405);
  }, 30_000);

  test('/firmware: whole, ranges, conditional requests and failures', async () => {
    const whole = await matchesSpec('/firmware', '?device=esp32-a', a);
    expect(whole.status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer()).equals(Buffer.from(image))).toBe(true);
    const etag = whole.headers.get('etag') as string;
    const h = (extra: Record<string, string>) => ({ headers: { ...a.headers, ...extra } });
    expect((await matchesSpec('/firmware', '?device=esp32-a', h({ range: 'bytes=100-' }))).status).toBe(206);
    expect((await matchesSpec('/firmware', '?device=esp32-a', h({ range: `bytes=${image.length}-` }))).status).toBe(416);
    expect((await matchesSpec('/firmware', '?device=esp32-a', h({ 'if-none-match': etag }))).status).toBe(304);
    expect((await matchesSpec('/firmware', '?device=esp32-a', h({ range: 'bytes=100-', 'if-range': '"stale"' }))).status).toBe(200);
    expect((await matchesSpec('/firmware', '?device=esp32-a', h({ range: 'bytes=100-', 'if-range': etag }))).status).toBe(206);
    expect((await matchesSpec('/firmware', '', a)).status).toBe(400);
    expect((await matchesSpec('/firmware', '?device=esp32-a')).status).toBe(401);
    expect((await matchesSpec('/firmware', '?device=esp32-a', { headers: { authorization: `Bearer ${TOKENS['esp32-b']}` } })).status).toBe(403);
    expect((await matchesSpec('/firmware', '?device=open-nothing')).status).toBe(404);
    expect((await matchesSpec('/firmware', '?device=bad-gz')).status).toBe(502);
    expect((await matchesSpec('/firmware', '?device=down-1')).status).toBe(503);
    expect((await matchesSpec('/firmware', '?device=esp32-a', { ...a, method: 'DELETE' })).status).toBe(405);
  }, 30_000);

  test('repeated refusals: 429 with Retry-After, as documented (run last: it blocks this address)', async () => {
    let last: Response | undefined;
    for (let i = 0; i < 15 && last?.status !== 429; i++) last = await matchesSpec('/version', '?device=esp32-a', { headers: { authorization: 'Bearer wrong-token' } });
    expect(last?.status).toBe(429);
  }, 30_000);
});
