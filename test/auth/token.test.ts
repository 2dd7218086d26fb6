// Bearer tokens end to end: hashes made by `otaflux hash-token`, tokens by header and by query
// parameter, over HTTPS (curl, the ESP32 sequence) and plain HTTP; gateway tokens; a device that
// accepts a certificate or a token; refusals logged without the token and limited per address.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { scrapeMetrics, type Scrape } from '../support/metrics.ts';
import { TestPki, type ClientCert } from './pki.ts';
import { bytesAnswered, curl, esp32Sequence, readToEof, split, tlsConnect } from './tls-clients.ts';

const MAIN = join(import.meta.dir, '../../src/main.ts');
let pki: TestPki;
let server: TestServer;
let fw: ReturnType<typeof firmwareDir>;
let cert1: ClientCert;
const tokens: Record<string, string> = {};
const https = () => server.ports.https as number;

async function hashToken(stdin?: string): Promise<{ token?: string; hash: string }> {
  const p = Bun.spawn(['bun', MAIN, 'hash-token', ...(stdin ? ['-'] : [])], { stdin: stdin ? new TextEncoder().encode(`${stdin}\n`) : 'ignore', stdout: 'pipe', stderr: 'pipe' });
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  expect(code).toBe(0);
  if (stdin) return { hash: out.trim() };
  const m = /^token: (\S+)\nhash: +(\S+)\n$/.exec(out);
  if (!m) throw new Error(`unexpected hash-token output: ${out}`);
  return { token: m[1] as string, hash: m[2] as string };
}

beforeAll(async () => {
  pki = new TestPki();
  cert1 = pki.client('mixed-1', '/CN=mixed-1');
  fw = firmwareDir({ 'gw-1': { '1.0.0.bin': 3000 }, 'gw-2': { '1.1.0.bin': 2000 }, 'site-a': { '3.0.0.bin': 500 }, 'mixed-1': { '0.5.0.bin': 50 } });
  const made = await Promise.all([hashToken(), hashToken(), hashToken()]);
  tokens['gw-1'] = made[0]?.token as string;
  tokens['gw-2'] = made[1]?.token as string;
  tokens.gateway = made[2]?.token as string;
  tokens.mixed = 'a-token-chosen-by-an-operator-0123456789';
  const mixedHash = (await hashToken(tokens.mixed)).hash;
  const dir = tempDir('otaflux-token-config-');
  const config = join(dir, 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir, mtls, token } from 'otaflux';
const source = dir({ root: ${JSON.stringify(fw.root)} });
export default defineConfig({
  server: { tls: { listenAddr: '127.0.0.1:0', cert: ${JSON.stringify(pki.serverCert)}, key: ${JSON.stringify(pki.serverKey)}, clientCa: ${JSON.stringify(pki.caCert)}, requireClientCert: false } },
  devices: {
    'gw-*': { source, auth: token({ devices: { 'gw-1': ${JSON.stringify(made[0]?.hash)}, 'gw-2': ${JSON.stringify(made[1]?.hash)} } }) },
    'site-*': { source, auth: token({ gateway: ${JSON.stringify(made[2]?.hash)} }) },
    'mixed-*': { source, auth: [mtls(), token({ devices: { 'mixed-1': ${JSON.stringify(mixedHash)} }, queryParam: false })] },
  },
});
`);
  server = await startTestServer({ config });
}, 60_000);
afterAll(() => server?.close());

const bearer = (t: string) => ['-H', `Authorization: Bearer ${t}`];

test('the right token by header, over curl and the ESP32 sequence', async () => {
  const image = fw.bytes('gw-1', '1.0.0.bin');
  const v = await curl(https(), '/version?device=gw-1', { ca: pki.caCert, args: bearer(tokens['gw-1'] as string) });
  expect(v.status).toBe(200);
  expect(v.body).toBe(`1.0.0\n${Bun.hash.crc32(image) >>> 0}\n${image.length}`);
  const { version, firmware } = await esp32Sequence(https(), `gw-1&token=${tokens['gw-1']}`);
  expect(split(version).status).toBe(200);
  expect(Buffer.compare(split(firmware).body, Buffer.from(image))).toBe(0);
});

test('the right token as ?token= over plain HTTP', async () => {
  const r = await fetch(`${server.url}/version?device=gw-2&token=${tokens['gw-2']}`);
  expect(r.status).toBe(200);
  expect((await r.text()).split('\n')[0]).toBe('1.1.0');
});

/** How much `otaflux_auth_failures_total{stage,status}` grew between two scrapes. */
const grew = (before: Scrape, after: Scrape, stage: string, status: string) =>
  after.get(`otaflux_auth_failures_total{stage="${stage}",status="${status}"}`) - before.get(`otaflux_auth_failures_total{stage="${stage}",status="${status}"}`);
const authFailureMetrics = () => scrapeMetrics(server.ports.metrics as number);

test('missing → 401 with a challenge; wrong → 401; another device\'s → 403; short bodies', async () => {
  const counted = await authFailureMetrics();
  const missing = await curl(https(), '/version?device=gw-1', { ca: pki.caCert });
  expect(missing.status).toBe(401);
  expect(missing.body).toBe('Unauthorized');
  expect(missing.headers).toMatch(/www-authenticate: Bearer realm="otaflux"/i);
  const wrong = await curl(https(), '/firmware?device=gw-1', { ca: pki.caCert, args: bearer('x'.repeat(43)) });
  expect(wrong.status).toBe(401);
  const other = await curl(https(), '/firmware?device=gw-1', { ca: pki.caCert, args: bearer(tokens['gw-2'] as string) });
  expect(other.status).toBe(403);
  expect(other.body).toBe('Forbidden');
  const otherByQuery = await fetch(`${server.url}/firmware?device=gw-2&token=${tokens['gw-1']}`);
  expect(otherByQuery.status).toBe(403);
  // Logged with who was presented, never the secret.
  const lines = server.logs.filter((l) => l.includes('device authentication failed'));
  expect(lines.some((l) => l.includes('token of gw-2') && l.includes('"device":"gw-1"'))).toBe(true);
  for (const t of Object.values(tokens)) expect(server.logs.some((l) => l.includes(t))).toBe(false);
  // And counted by stage and status.
  const now = await authFailureMetrics();
  expect(grew(counted, now, 'request', '401')).toBe(2);
  expect(grew(counted, now, 'request', '403')).toBe(2);
});

test('a gateway token fetches for every device of its group', async () => {
  const r = await curl(https(), '/version?device=site-a', { ca: pki.caCert, args: bearer(tokens.gateway as string) });
  expect(r.status).toBe(200);
  expect((await curl(https(), '/version?device=gw-1', { ca: pki.caCert, args: bearer(tokens.gateway as string) })).status).toBe(401);
});

test('a device that accepts a certificate or a token (hash of an operator-chosen token, from stdin)', async () => {
  expect((await curl(https(), '/version?device=mixed-1', { ca: pki.caCert, client: cert1 })).status).toBe(200);
  expect((await curl(https(), '/version?device=mixed-1', { ca: pki.caCert, args: bearer(tokens.mixed as string) })).status).toBe(200);
  // queryParam: false: the query is not read.
  expect((await fetch(`${server.url}/version?device=mixed-1&token=${tokens.mixed}`)).status).toBe(401);
});

test('optional client certificates: none is fine, one from another CA is still refused before any HTTP', async () => {
  const foreign = pki.foreignClient('foreign', '/CN=mixed-1');
  const counted = await authFailureMetrics();
  expect((await curl(https(), '/version?device=mixed-1', { ca: pki.caCert, client: foreign, args: bearer(tokens.mixed as string) })).status).toBe(0);
  expect((await bytesAnswered(https(), `mixed-1`, foreign)).length).toBe(0);
  expect(grew(counted, await authFailureMetrics(), 'tls', 'closed')).toBe(2);
  expect((await curl(https(), '/version?device=mixed-1', { ca: pki.caCert, args: bearer(tokens.mixed as string) })).status).toBe(200);
});

test('pipelined requests over TLS are answered in order on one connection', async () => {
  const s = await tlsConnect(https());
  const auth = `Authorization: Bearer ${tokens['gw-1']}\r\n`;
  s.write(`GET /version?device=gw-1 HTTP/1.1\r\nHost: h\r\n${auth}\r\nGET /health HTTP/1.1\r\nHost: h\r\n\r\nGET /version?device=gw-2 HTTP/1.1\r\nHost: h\r\n${auth}Connection: close\r\n\r\n`);
  const raw = (await readToEof(s)).toString('latin1');
  expect([...raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1])).toEqual(['200', '200', '403']);
  expect(raw).toContain('1.0.0\n');
});

test('a client that half-closes after its request still gets the answer', async () => {
  const s = await tlsConnect(https());
  s.end(`GET /version?device=gw-2 HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer ${tokens['gw-2']}\r\n\r\n`);
  const r = split(await readToEof(s));
  expect(r.status).toBe(200);
  expect(r.body.toString().split('\n')[0]).toBe('1.1.0');
});

test('refusals are limited per address: after the burst, wrong credentials get 429, valid ones from the same address still pass', async () => {
  const events: string[] = [];
  const onFailed = (e: { stage: string; status?: number }) => events.push(`${e.stage}:${e.status ?? 0}`);
  server.runtime.events.on('auth-failed', onFailed);
  let limited: Response | undefined;
  for (let i = 0; i < 20 && !limited; i++) {
    const r = await fetch(`${server.url}/version?device=gw-1&token=wrong-token-${i}-xxxxxxxxxxxxxxxxxx`);
    if (r.status === 429) limited = r;
    else expect(r.status).toBe(401);
  }
  expect(limited).toBeDefined();
  expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(await limited?.text()).toBe('Too many failed attempts, retry later');
  const loggedBefore = server.logs.filter((l) => l.includes('device authentication failed')).length;

  // Devices behind the same address (a NAT, a gateway) with valid credentials are not locked out:
  // a token by query over plain HTTP, a bearer token over HTTPS, a client certificate, a gateway token.
  const image = fw.bytes('gw-1', '1.0.0.bin');
  const own = await fetch(`${server.url}/version?device=gw-1&token=${tokens['gw-1']}`);
  expect(own.status).toBe(200);
  expect(await own.text()).toBe(`1.0.0\n${Bun.hash.crc32(image) >>> 0}\n${image.length}`);
  expect((await curl(https(), '/firmware?device=gw-2', { ca: pki.caCert, args: bearer(tokens['gw-2'] as string) })).status).toBe(200);
  expect((await curl(https(), '/version?device=mixed-1', { ca: pki.caCert, client: cert1 })).status).toBe(200);
  expect((await curl(https(), '/version?device=site-a', { ca: pki.caCert, args: bearer(tokens.gateway as string) })).status).toBe(200);

  // Wrong ones keep getting 429: a wrong token, another device's token (no 403: whose it is is not
  // told), a certificate of another device, no credentials at all.
  expect((await fetch(`${server.url}/version?device=gw-1&token=still-wrong-xxxxxxxxxxxxxxxxxxxxxx`)).status).toBe(429);
  expect((await fetch(`${server.url}/version?device=gw-1&token=${tokens['gw-2']}`)).status).toBe(429);
  expect((await curl(https(), '/version?device=mixed-2', { ca: pki.caCert, client: cert1 })).status).toBe(429);
  expect((await fetch(`${server.url}/version?device=gw-1`)).status).toBe(429);
  expect(events).toContain('request:401');
  expect(events.filter((e) => e === 'rate-limited:429').length).toBe(5);
  // Limited refusals are counted, not logged one by one.
  expect(server.logs.filter((l) => l.includes('device authentication failed')).length).toBe(loggedBefore);
  server.runtime.events.off('auth-failed', onFailed);
}, 60_000);
