// Logs of the real server process run with every secret set (admin token, registry password,
// webhook secret, MQTT password), at trace level, through successes, refusals and failures:
// every line parses as JSON, requests get one line each, and no line holds any secret.
import { afterAll, expect, test } from 'bun:test';
import { join } from 'node:path';
import { freePort } from '../support/ports.ts';
import { tempDir } from '../support/tmp.ts';
import { pushArtifact, startRegistry, type TestRegistry } from '../support/registry.ts';
import { createLogger } from '../../src/log.ts';

const MAIN = join(import.meta.dir, '../../src/main.ts');
const SECRETS = {
  registryPassword: 'Reg-Pass-7f3a9c-secret',
  adminToken: 'Admin-Token-51be0d-secret',
  webhookSecret: 'Hook-Secret-c28e44-secret',
  mqttPassword: 'Mqtt-Pass-9d17aa-secret',
  /** A device credential a client put in the query string: never logged either. */
  queryToken: 'Query-Token-0e6b1f-secret',
  /** Wrong credentials presented by clients are not logged either. */
  wrongToken: 'Wrong-Token-a4c2e9-secret',
};

let registry: TestRegistry | undefined;
afterAll(async () => { await registry?.close(); }, 30_000);

async function runServer(format: 'json' | 'text', script: (base: string) => Promise<void>): Promise<{ code: number; lines: string[] }> {
  registry ??= await startRegistry({ auth: 'htpasswd', password: SECRETS.registryPassword });
  await pushArtifact(registry, 'fw/dev1', '1.0.0', [{ name: 'firmware.bin', data: new Uint8Array(2048).fill(7), mediaType: 'application/octet-stream' }]);
  const port = await freePort();
  const mqttPort = await freePort(); // nothing listens: the publisher keeps failing and retrying
  const child = Bun.spawn(
    [
      'bun', MAIN,
      '--registry-url', registry.host, '--registry-insecure', '--repository-prefix', 'fw', '--registry-username', 'ota',
      '--admin-token', SECRETS.adminToken, '--webhook-secret', SECRETS.webhookSecret,
      '--mqtt-url', `mqtt://127.0.0.1:${mqttPort}`, '--mqtt-username', 'otaflux', '--mqtt-password', SECRETS.mqttPassword,
      '--listen-addr', `127.0.0.1:${port}`, '--metrics-listen-addr', '127.0.0.1:0', '--cache-dir', tempDir(),
      '--log-level', 'trace', '--log-format', format, '--refresh-interval', '0',
      // The operator API on the device port (the compatibility switch), no fixed operator port.
      '--admin-on-device-port', '--admin-listen-addr', '127.0.0.1:0',
    ],
    // The registry password comes from its env var, as in a Kubernetes Secret.
    { cwd: tempDir(), stdout: 'pipe', stderr: 'pipe', env: { ...process.env, REGISTRY_PASSWORD: SECRETS.registryPassword } },
  );
  const stderr = new Response(child.stderr).text();
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (await fetch(`${base}/health`).then((r) => r.ok, () => false)) break;
    await Bun.sleep(100);
  }
  await script(base);
  child.kill('SIGTERM');
  const code = await child.exited;
  return { code, lines: (await stderr).split('\n').filter(Boolean) };
}

function expectNoSecret(lines: string[]) {
  const forbidden = Object.values(SECRETS).flatMap((s) => [s, encodeURIComponent(s), Buffer.from(s).toString('base64')]);
  forbidden.push(Buffer.from(`ota:${SECRETS.registryPassword}`).toString('base64'));
  for (const line of lines) for (const secret of forbidden) if (line.includes(secret)) throw new Error(`a log line holds a secret: ${line}`);
}

test('JSON logs: one line per request, every line parses, no secret anywhere', async () => {
  const { code, lines } = await runServer('json', async (base) => {
    expect((await fetch(`${base}/version?device=dev1`)).status).toBe(200);
    expect((await (await fetch(`${base}/firmware?device=dev1`)).arrayBuffer()).byteLength).toBe(2048);
    expect((await fetch(`${base}/version?device=dev1&token=${SECRETS.queryToken}`)).status).toBe(200);
    expect((await fetch(`${base}/version?device=missing-dev`)).status).toBe(404);
    expect((await fetch(`${base}/api/status`, { headers: { authorization: `Bearer ${SECRETS.adminToken}` } })).status).toBe(200);
    expect((await fetch(`${base}/api/status`, { headers: { authorization: `Bearer ${SECRETS.wrongToken}` } })).status).toBe(401);
    const push = JSON.stringify({ type: 'PUSH_ARTIFACT', event_data: { repository: { name: 'dev1', namespace: 'fw', repo_full_name: 'fw/dev1' } } });
    expect((await fetch(`${base}/webhooks/harbor`, { method: 'POST', body: push, headers: { authorization: SECRETS.webhookSecret } })).status).toBe(202);
    expect((await fetch(`${base}/webhooks/harbor`, { method: 'POST', body: push, headers: { authorization: SECRETS.wrongToken } })).status).toBe(401);
    // The registry goes away: refreshes fail and are logged, the cached release is still served.
    await registry?.stop();
    expect((await fetch(`${base}/version?device=dev1`)).status).toBe(200);
    await registry?.start();
  });
  expect(code).toBe(0);
  expectNoSecret(lines);
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const p of parsed) {
    expect(typeof p.time).toBe('string');
    expect(['error', 'warn', 'info', 'debug', 'trace']).toContain(p.level as string);
    expect(typeof p.msg).toBe('string');
  }
  const requests = parsed.filter((p) => p.msg === 'request');
  expect(requests.find((r) => r.route === '/firmware')).toMatchObject({ level: 'info', method: 'GET', status: 200, bytes: 2048, device: 'dev1' });
  expect(requests.filter((r) => r.route === '/version' && r.device === 'dev1' && r.status === 200)).toHaveLength(3);
  expect(requests.find((r) => r.device === 'missing-dev')).toMatchObject({ status: 404, error: 'no-firmware' });
  expect(requests.filter((r) => r.route === '/api/status').map((r) => r.status).sort()).toEqual([200, 401]);
  for (const r of requests) expect(typeof r.ms).toBe('number');
  expect(parsed.some((p) => p.level === 'warn' && String(p.msg).startsWith('refresh failed'))).toBe(true);
}, 60_000);

test('text logs on request: readable lines, no secret', async () => {
  const { code, lines } = await runServer('text', async (base) => {
    expect((await fetch(`${base}/version?device=dev1&token=${SECRETS.queryToken}`)).status).toBe(200);
    expect((await fetch(`${base}/api/devices`, { headers: { authorization: `Bearer ${SECRETS.wrongToken}` } })).status).toBe(401);
  });
  expect(code).toBe(0);
  expectNoSecret(lines);
  expect(lines.some((l) => /^\S+Z INFO  request method=GET route=\/version status=200 bytes=\d+ ms=[\d.]+ device=dev1 remote=/.test(l))).toBe(true);
}, 60_000);

test('undefined fields are left out of text lines as of JSON lines (no previous=undefined)', () => {
  const lines: string[] = [];
  for (const format of ['text', 'json'] as const) {
    const log = createLogger({ level: 'info', format, sink: { write: (l) => void lines.push(l) } }).child({ plugin: undefined });
    log.info('release changed', { device: 'dev1', previous: undefined, version: '1.0.0' });
  }
  expect(lines[0]).toMatch(/^\S+Z INFO  release changed device=dev1 version=1\.0\.0\n$/);
  expect(JSON.parse(lines[1] as string)).toEqual({ time: expect.any(String), level: 'info', msg: 'release changed', device: 'dev1', version: '1.0.0' });
});
