// No 5xx from bad input, anywhere: every route of the app (read from its own OpenAPI document, plus
// the listener's own routes) gets hostile path segments (prototype names, broken escapes, traversal,
// very long), hostile queries, every method, hostile headers, and the webhook hostile JSON bodies.
// Each answer must come (never a silent close) and be below 500.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { exchange } from './exchange.ts';

// Real sockets on a shared 2-core machine: room for a loaded moment.
setDefaultTimeout(60_000);

const ADMIN = 'admin-token-0123456789abcdef';
const SECRET = 'webhook-secret-0123';
let server: TestServer;
let routes: string[];

beforeAll(async () => {
  const fw = firmwareDir({ dev1: { '1.0.0.bin': 5000 } });
  server = await startTestServer({ flags: { 'firmware-dir': fw.root, 'admin-token': ADMIN, 'webhook-secret': SECRET, 'repository-prefix': 'firmware' } });
  const spec = (await (await fetch(`${server.url}/docs/json`)).json()) as { paths: Record<string, unknown> };
  routes = [...new Set(['/version', '/firmware', '/health', '/ready', '/docs', '/docs/json', '/docs/assets/{file}', '/webhooks/harbor', ...Object.keys(spec.paths)])];
});
afterAll(() => server.close());

const SEGMENTS = [
  'constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', '__defineGetter__',
  '%00', '%ff', '%E0%A4%A', '%', '%%', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '..', '.', 'a;b', '%20', '~', '*',
  'x'.repeat(4000),
];
const QUERIES = ['', '?device=constructor', '?device=__proto__', '?device=%', '?device[]=x', '?device=dev1&device=x', '?__proto__[x]=1', '?device=%00', `?device=${'a'.repeat(3000)}`, '?token=constructor&device=dev1'];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'];
const HEADER_SETS = [
  `Authorization: Bearer ${ADMIN}`,
  'Authorization: Bearer constructor',
  'Authorization: __proto__',
  'Range: bytes=constructor\r\nIf-None-Match: __proto__\r\nIf-Range: toString',
  'Range: bytes=99999999999999999999-\r\nAccept: */*',
  'Range: bytes=-0,0-,5-1',
  'Content-Type: application/json; charset=constructor\r\nCookie: __proto__=1',
];

/** Paths to try for one route template: `{param}` and `*` get each hostile segment, others get it appended. */
function pathsFor(route: string): string[] {
  const concrete = route.replace(/\{[^}]+\}|:[^/]+|\*/g, 'dev1');
  const out = [concrete];
  for (const seg of SEGMENTS) {
    out.push(/\{[^}]+\}|:[^/]+|\*/.test(route) ? route.replace(/\{[^}]+\}|:[^/]+|\*/g, seg) : `${concrete.replace(/\/$/, '')}/${seg}`);
  }
  return out;
}

async function expectNo5xx(requests: string[]) {
  const failures: string[] = [];
  for (let i = 0; i < requests.length; i += 16) {
    const batch = requests.slice(i, i + 16);
    const answers = await Promise.all(batch.map((req) => exchange(server.ports.http as number, req)));
    answers.forEach((a, j) => {
      const shown = JSON.stringify(batch[j]!.slice(0, 120));
      if (!a.response) failures.push(`${shown}: no answer (${a.closed ? 'closed silently' : 'timed out'})`);
      else if (a.response.status >= 500) failures.push(`${shown}: ${a.response.status} ${a.response.body.toString().slice(0, 100)}`);
    });
  }
  expect(failures).toEqual([]);
}

test('hostile paths and queries on every route, with every method: an answer below 500', async () => {
  expect(routes.length).toBeGreaterThan(10);
  const requests: string[] = [];
  for (const route of routes) {
    for (const path of pathsFor(route)) {
      for (const method of METHODS) requests.push(`${method} ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN}\r\nConnection: close\r\n\r\n`);
    }
    for (const q of QUERIES) requests.push(`GET ${route.replace(/\{[^}]+\}|\*/g, 'dev1')}${q} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  }
  await expectNo5xx(requests);
});

test('hostile headers on every route: an answer below 500', async () => {
  const requests: string[] = [];
  for (const route of routes) {
    const path = route.replace(/\{[^}]+\}|\*/g, 'dev1');
    for (const h of HEADER_SETS) requests.push(`GET ${path}${path.startsWith('/version') || path.startsWith('/firmware') ? '?device=dev1' : ''} HTTP/1.1\r\nHost: x\r\n${h}\r\nConnection: close\r\n\r\n`);
  }
  await expectNo5xx(requests);
});

test('hostile bodies on every route that takes one, and on those that do not: an answer below 500', async () => {
  const bodies: (string | Buffer)[] = [
    '', 'null', '[]', '"text"', '42', 'true', '{', '{"type":{}}', '{"type":{"toString":1}}', '{"type":{"toString":null,"valueOf":null}}', '{"type":[]}', '{"type":null}', '{"type":123}',
    '{"__proto__":{"type":"PUSH_ARTIFACT"}}', '{"constructor":{"prototype":{"x":1}}}',
    '{"type":"PUSH_ARTIFACT"}', '{"type":"PUSH_ARTIFACT","event_data":null}', '{"type":"PUSH_ARTIFACT","event_data":{"repository":"x"}}',
    '{"type":"PUSH_ARTIFACT","event_data":{"repository":{"name":{}}}}', '{"type":"PUSH_ARTIFACT","event_data":{"repository":{"name":"constructor","namespace":"firmware"}}}',
    '{"type":"PUSH_ARTIFACT","data":{"repository":{"name":["a"],"repo_full_name":{"x":1}}}}', `{"type":"${'x'.repeat(5000)}"}`,
    '['.repeat(100_000), Buffer.from([0xff, 0xfe, 0x00, 0x7b]),
  ];
  const requests: string[] = [];
  for (const route of routes) {
    const path = route.replace(/\{[^}]+\}|\*/g, 'dev1');
    for (const body of bodies) {
      const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
      for (const method of ['POST', 'PUT']) {
        requests.push(`${method} ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${SECRET}\r\nContent-Type: application/json\r\nContent-Length: ${b.length}\r\nConnection: close\r\n\r\n${b.toString('latin1')}`);
      }
    }
  }
  await expectNo5xx(requests);
});

test('the Harbor webhook names what is wrong with a payload of the wrong shape (400)', async () => {
  const r = await fetch(`${server.url}/webhooks/harbor`, { method: 'POST', headers: { authorization: SECRET, 'content-type': 'application/json' }, body: '{"type":{"toString":1}}' });
  expect(r.status).toBe(400);
  expect(((await r.json()) as { error: string }).error).toBe('not a Harbor webhook payload: type: Invalid input: expected string, received object');
});

test('/docs/assets/<prototype name> is a 404, the real assets are served whole', async () => {
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    expect((await fetch(`${server.url}/docs/assets/${name}`)).status).toBe(404);
  }
  const css = await fetch(`${server.url}/docs/assets/swagger-ui.css`);
  expect(css.status).toBe(200);
  const text = await css.text();
  expect(Number(css.headers.get('content-length'))).toBe(Buffer.byteLength(text));
  expect(text.length).toBeGreaterThan(10_000);
});
