// The device listener's bounds over real sockets: heads (leading empty lines count, a deadline
// however slow the trickle), bodies (none on routes that take none, a shared budget on the others),
// and open connections (a cap, counted in /metrics, logged once per interval); each set by flag and
// by config key (server.headerTimeout, server.maxConnections), flags > env > config file.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { openSocket, readOneResponse, readToEnd } from '../support/raw-http.ts';
import { scrapeMetrics, scrapeUntil } from '../support/metrics.ts';
import { tempDir } from '../support/tmp.ts';
import { resolveSettings } from '../../src/config/settings.ts';
import { fromEnv } from '../../src/cli/flags.ts';
import { exchange } from './exchange.ts';

// Real sockets on a shared 2-core machine: room for a loaded moment.
setDefaultTimeout(60_000);

const SECRET = 'webhook-secret-0123';
let fw: ReturnType<typeof firmwareDir>;
let server: TestServer;
const port = () => server.ports.http as number;

beforeAll(async () => {
  fw = firmwareDir({ dev1: { '1.0.0.bin': 100 }, big: { '1.0.0.bin': 16 * 1024 * 1024 } });
  server = await startTestServer({ flags: { 'firmware-dir': fw.root, 'webhook-secret': SECRET, 'header-timeout': 1 } });
});
afterAll(() => server.close());

/** Writes `text` one byte every `everyMs` until the server closes; resolves with what it answered and when. */
async function trickle(p: number, text: string, everyMs: number, prefix = ''): Promise<{ raw: Buffer; ms: number }> {
  const s = await openSocket(p);
  if (prefix) s.write(prefix);
  const started = Date.now();
  const chunks: Buffer[] = [];
  let open = true;
  s.on('data', (c: Buffer) => chunks.push(c));
  // Writing on after the server's close may fail (EPIPE): what it answered is already collected.
  s.on('error', () => {});
  s.once('close', () => (open = false));
  for (let i = 0; open && Date.now() - started < 15_000; i++) {
    if (!s.writableEnded) s.write(text[i % text.length] as string);
    await Bun.sleep(everyMs);
  }
  s.destroy();
  return { raw: Buffer.concat(chunks), ms: Date.now() - started };
}

test('empty lines before the request line count toward the 16 KiB head limit: a CRLF flood is 431 and a close', async () => {
  const flood = await exchange(port(), '\r\n'.repeat(16 * 1024));
  expect([flood.response?.status, flood.response?.headers.connection, flood.closed]).toEqual([431, 'close', true]);
  const late = await exchange(port(), `${'\r\n'.repeat(8200)}GET /health HTTP/1.1\r\nHost: x\r\n\r\n`);
  expect(late.response?.status).toBe(431);
});

test('a head trickled one byte at a time never completes: 408 and a close at the deadline (--header-timeout 1)', async () => {
  const { raw, ms } = await trickle(port(), 'GET /version?device=dev1 HTTP/1.1\r\nX-Slow: ' + 'a'.repeat(10_000), 100);
  expect(raw.toString('latin1')).toStartWith('HTTP/1.1 408 Request Timeout\r\n');
  expect(raw.toString('latin1')).toContain('Connection: close');
  expect(ms).toBeGreaterThanOrEqual(900);
  expect(ms).toBeLessThan(8000);
});

test('empty lines trickled forever are cut at the deadline too; a connection that sends nothing is closed', async () => {
  const { raw, ms } = await trickle(port(), '\r\n', 100);
  expect(raw.toString('latin1')).toStartWith('HTTP/1.1 408 ');
  expect(ms).toBeLessThan(8000);
  const silent = await exchange(port(), '', 10_000);
  expect([silent.closed, silent.raw.length]).toEqual([true, 0]);
  expect(silent.ms).toBeLessThan(8000);
});

test('a body trickled slower than the deadline is 408; an idle keep-alive connection is not cut by the head deadline', async () => {
  const head = `POST /webhooks/harbor HTTP/1.1\r\nHost: x\r\nAuthorization: ${SECRET}\r\nContent-Length: 1000\r\n\r\n`;
  const body = await trickle(port(), 'x', 100, head);
  expect(body.raw.toString('latin1')).toStartWith('HTTP/1.1 408 ');

  const k = await openSocket(port());
  k.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  expect((await readOneResponse(k)).response.status).toBe(200);
  await Bun.sleep(2500);
  k.write('GET /version?device=dev1 HTTP/1.1\r\nHost: x\r\n\r\n');
  expect((await readOneResponse(k)).response.status).toBe(200);
  k.destroy();
});

test('routes that take no body refuse one with 413 and a close, before reading it', async () => {
  for (const req of [
    'GET /version?device=dev1 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello',
    'HEAD /firmware?device=dev1 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello',
    'POST /version?device=dev1 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello',
    'GET /health HTTP/1.1\r\nContent-Length: 1048576\r\n\r\n',
    'POST /ready HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello',
    'GET /docs/json HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello',
  ]) {
    const a = await exchange(port(), req);
    expect([req.split('\r\n')[0], a.response?.status, a.response?.headers.connection, a.response?.body.toString()]).toEqual([req.split('\r\n')[0], 413, 'close', 'Content Too Large: this route takes no request body']);
  }
  // A body on a route that takes one is read and answered, and the connection stays open.
  const s = await openSocket(port());
  s.write(`POST /webhooks/harbor HTTP/1.1\r\nHost: x\r\nAuthorization: ${SECRET}\r\nContent-Length: 2\r\n\r\n{}`);
  expect((await readOneResponse(s)).response.status).toBe(200);
  s.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  expect((await readOneResponse(s)).response.status).toBe(200);
  s.destroy();
});

test('request bodies share a 16 MiB budget: beyond it 503 with Retry-After, and the budget comes back when a client leaves', async () => {
  const MiB = 1024 * 1024;
  const big = `POST /webhooks/harbor HTTP/1.1\r\nHost: x\r\nAuthorization: ${SECRET}\r\nContent-Length: ${MiB}\r\n\r\n`;
  const holders: Socket[] = [];
  for (let i = 0; i < 16; i++) {
    const s = await openSocket(port());
    s.write(big);
    s.on('error', () => {});
    holders.push(s);
  }
  const metrics = await scrapeUntil(server.ports.metrics as number, 'otaflux_request_body_bytes_buffered', 16 * MiB);
  expect(metrics.get('otaflux_request_body_bytes_buffered')).toBe(16 * MiB);
  const refused = await exchange(port(), big);
  expect([refused.response?.status, refused.response?.headers['retry-after'], refused.response?.headers.connection]).toEqual([503, '5', 'close']);
  expect((await scrapeMetrics(server.ports.metrics as number)).get('otaflux_request_bodies_refused_total')).toBe(1);
  // A small body does not fit either while the budget is full; once a holder leaves, it does.
  holders.pop()!.destroy();
  await scrapeUntil(server.ports.metrics as number, 'otaflux_request_body_bytes_buffered', 15 * MiB);
  const s = await openSocket(port());
  s.write(`POST /webhooks/harbor HTTP/1.1\r\nHost: x\r\nAuthorization: ${SECRET}\r\nContent-Length: 2\r\n\r\n{}`);
  expect((await readOneResponse(s)).response.status).toBe(200);
  s.destroy();
  for (const h of holders) h.destroy();
  expect((await scrapeUntil(server.ports.metrics as number, 'otaflux_request_body_bytes_buffered', 0)).get('otaflux_request_body_bytes_buffered')).toBe(0);
});

/** Opens `n` connections and makes sure the server has counted each (one answered request each). */
async function holdConnections(p: number, n: number): Promise<Socket[]> {
  const out: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const s = await openSocket(p);
    s.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await readOneResponse(s);
    out.push(s);
  }
  return out;
}

test('connections over --max-connections are closed at once, counted in /metrics and logged once per interval', async () => {
  const capped = await startTestServer({ flags: { 'firmware-dir': fw.root, 'max-connections': 3 } });
  try {
    const p = capped.ports.http as number;
    const held = await holdConnections(p, 3);
    for (let i = 0; i < 4; i++) {
      const a = await exchange(p, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n', 5000);
      expect([a.closed, a.raw.length]).toEqual([true, 0]);
      expect(a.ms).toBeLessThan(3000);
    }
    const m = await scrapeMetrics(capped.ports.metrics as number);
    expect([m.get('otaflux_connections_refused_total'), m.get('otaflux_open_connections{listener="device"}')]).toEqual([4, 3]);
    expect(capped.logs.filter((l) => l.includes('connections refused'))).toHaveLength(1);
    expect(capped.logs.find((l) => l.includes('connections refused'))).toContain('"maxConnections":3');
    // One leaves: a new device is served again.
    held.pop()!.destroy();
    await scrapeUntil(capped.ports.metrics as number, 'otaflux_open_connections{listener="device"}', 2);
    const ok = await exchange(p, 'GET /version?device=dev1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(ok.response?.status).toBe(200);
    for (const s of held) s.destroy();
  } finally {
    await capped.close();
  }
});

test('server.headerTimeout and server.maxConnections from the config file; flags beat env vars beat the file', async () => {
  const dir = tempDir('otaflux-config-');
  const config = join(dir, 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir } from 'otaflux';\nexport default defineConfig({ server: { headerTimeout: 1, maxConnections: 2 }, defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }) } });\n`);
  const fromFile = await startTestServer({ config });
  try {
    const p = fromFile.ports.http as number;
    const { raw, ms } = await trickle(p, 'GET /health HTTP/1.1\r\n', 100);
    expect(raw.toString('latin1')).toStartWith('HTTP/1.1 408 ');
    expect(ms).toBeLessThan(8000);
    const held = await holdConnections(p, 2);
    const refused = await exchange(p, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    expect([refused.closed, refused.raw.length]).toEqual([true, 0]);
    for (const s of held) s.destroy();
  } finally {
    await fromFile.close();
  }
  const env = { HEADER_TIMEOUT: '7', MAX_CONNECTIONS: '70' };
  expect(await resolveSettings(fromEnv(env, {}), dir)).toMatchObject({ headerTimeoutMs: 7000, maxConnections: 70 });
  expect(await resolveSettings(fromEnv(env, { 'header-timeout': 9, 'max-connections': 90 }), dir)).toMatchObject({ headerTimeoutMs: 9000, maxConnections: 90 });
  expect(await resolveSettings(fromEnv({}, {}), dir)).toMatchObject({ headerTimeoutMs: 1000, maxConnections: 2 });
  expect(await resolveSettings({ 'firmware-dir': fw.root })).toMatchObject({ headerTimeoutMs: 60_000, maxConnections: 10_000 });
  await expect(resolveSettings({ 'firmware-dir': fw.root, 'header-timeout': 0 })).rejects.toThrow('--header-timeout: must be at least 1 second');
  writeFileSync(config, `import { defineConfig, dir } from 'otaflux';\nexport default defineConfig({ server: { headerTimeout: -1, maxConnections: 1.5 }, defaults: { source: dir({ root: '.' }) } });\n`);
  const err = await resolveSettings({ config }).then(() => '', (e: Error) => e.message);
  expect(err).toContain('server.headerTimeout: expected a number of seconds above 0');
  expect(err).toContain('server.maxConnections');
});

test('a client far ahead of the answers (pipelining over 32 KiB) gets the answer in progress, then a close', async () => {
  const s = await openSocket(port());
  s.pause();
  s.write('GET /firmware?device=big HTTP/1.1\r\nHost: x\r\n\r\n');
  await Bun.sleep(200);
  // 200 KiB of requests while 16 MiB are still being written to a client that does not read.
  const health = 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n';
  s.write(health.repeat(Math.ceil((200 * 1024) / health.length)));
  await Bun.sleep(300);
  s.resume();
  const raw = await readToEnd(s);
  const head = raw.subarray(0, raw.indexOf('\r\n\r\n')).toString('latin1');
  expect(head).toStartWith('HTTP/1.1 200 OK');
  // The whole image, then the close: what was sent that far ahead was not answered.
  expect(raw.length).toBe(raw.indexOf('\r\n\r\n') + 4 + 16 * 1024 * 1024);
});

test('a client that never closes its side after our close is cut after 5 s', async () => {
  const s = connect({ port: port(), host: '127.0.0.1', allowHalfOpen: true });
  s.on('error', () => {});
  const started = Date.now();
  const got: Buffer[] = [];
  s.on('data', (c: Buffer) => got.push(c));
  const closed = new Promise<number>((r) => s.once('close', () => r(Date.now() - started)));
  s.write('GARBAGE\r\n\r\n');
  const ms = await closed;
  expect(Buffer.concat(got).toString('latin1')).toStartWith('HTTP/1.1 400 ');
  expect(ms).toBeGreaterThanOrEqual(4500);
  expect(ms).toBeLessThan(15_000);
});
