/**
 * What a new operator gets wrong with a registry, through the whole server and the CLI, against
 * Debian's docker-registry: an https:// URL for a plain-HTTP registry, a private CA not passed, a
 * wrong password, a wrong repository prefix. Each gets one log line saying what to change; the
 * device gets 503 (source unavailable) or 404, never 502 (reserved for bad content).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { join } from 'node:path';
import { pushArtifact, startRegistry, type TestRegistry } from '../support/registry.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/tmp.ts';
import { FW_TYPE, randomFirmware } from './helpers.ts';
import type { FlagValues } from '../../src/cli/flags.ts';

const MAIN = join(import.meta.dir, '../../src/main.ts');
let plain: TestRegistry;
let tls: TestRegistry;
let basic: TestRegistry;
const servers: TestServer[] = [];

beforeAll(async () => {
  [plain, tls, basic] = await Promise.all([startRegistry(), startRegistry({ tls: true }), startRegistry({ auth: 'htpasswd' })]);
  const fw = randomFirmware(4096);
  await Promise.all([plain, tls, basic].map((r) => pushArtifact(r, 'fw/dev1', '1.0.0', [{ name: 'firmware.bin', data: fw, mediaType: FW_TYPE }])));
}, 60_000);
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await Promise.all([plain, tls, basic].map((r) => r?.close()));
});

async function serve(flags: FlagValues): Promise<TestServer> {
  const s = await startTestServer({ flags: { 'repository-prefix': 'fw', 'refresh-interval': 60, ...flags }, logLevel: 'info' });
  servers.push(s);
  return s;
}

const parsed = (s: TestServer) => s.logs.map((l) => JSON.parse(l) as Record<string, unknown>);

/** The log lines about the source failing (not the request lines). */
function failureLines(s: TestServer) {
  return parsed(s).filter((p) => p.msg !== 'request' && (p.level === 'warn' || p.level === 'error') && p.source === 'source.oci');
}

test('an https:// URL for a plain-HTTP registry: one line saying it answered plain HTTP and what to use; 503', async () => {
  const s = await serve({ 'registry-url': `https://${plain.host}` });
  const r = await fetch(`${s.url}/version?device=dev1`);
  expect(r.status).toBe(503);
  expect(r.headers.get('retry-after')).toBe('30');
  expect(await r.text()).toBe("Firmware source unavailable for device 'dev1', retry later");
  const lines = failureLines(s);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatchObject({ level: 'warn', msg: 'the registry answered plain HTTP to HTTPS: use an http:// --registry-url, or --registry-insecure with a bare host:port', device: 'dev1' });
  expect(String(lines[0]!.error)).toBe(`listing tags of ${plain.host}/fw/dev1: ${plain.host} answered plain HTTP to an HTTPS request: use an http:// registry URL, or --registry-insecure with a bare host:port`);
  // The start-up check says the same, once.
  expect(parsed(s).find((p) => p.msg === 'registry check failed at start-up')?.error).toContain('answered plain HTTP');
  // The advice works: --registry-insecure with the bare host, or an http:// URL.
  for (const flags of [{ 'registry-url': plain.host, 'registry-insecure': true }, { 'registry-url': `http://${plain.host}` }]) {
    const ok = await serve(flags);
    expect((await fetch(`${ok.url}/version?device=dev1`)).status).toBe(200);
  }
}, 60_000);

test('a registry with a private CA not passed: the line names --registry-ca-cert-path; passing it works', async () => {
  const s = await serve({ 'registry-url': tls.url });
  expect((await fetch(`${s.url}/version?device=dev1`)).status).toBe(503);
  const lines = failureLines(s);
  expect(lines).toHaveLength(1);
  expect(lines[0]!.msg).toBe("the registry's TLS certificate is not trusted: pass its CA with --registry-ca-cert-path");
  expect(String(lines[0]!.error)).toContain(`TLS certificate of ${tls.host} not trusted`);
  expect(String(lines[0]!.error)).toContain('--registry-ca-cert-path');
  const ok = await serve({ 'registry-url': tls.url, 'registry-ca-cert-path': tls.caFile! });
  expect((await fetch(`${ok.url}/version?device=dev1`)).status).toBe(200);
}, 60_000);

test('a wrong registry password: 503 "source unavailable", a line saying the registry refused the credentials', async () => {
  const wrong = 'Wrong-Registry-Pass-8a1c';
  const s = await serve({ 'registry-url': basic.host, 'registry-insecure': true, 'registry-username': basic.username!, 'registry-password': wrong });
  for (let i = 0; i < 3; i++) {
    const r = await fetch(`${s.url}/firmware?device=dev1`);
    expect(r.status).toBe(503);
    expect(await r.text()).toBe("Firmware source unavailable for device 'dev1', retry later");
  }
  const lines = failureLines(s);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatchObject({ level: 'warn', msg: 'the registry refused the credentials: check --registry-username and --registry-password', serving: 'nothing cached' });
  expect(String(lines[0]!.error)).toContain('401 unauthorized (credentials refused');
  for (const l of s.logs) {
    expect(l).not.toContain(wrong);
    expect(l).not.toContain(Buffer.from(`${basic.username}:${wrong}`).toString('base64'));
  }
  const requestLines = parsed(s).filter((p) => p.msg === 'request');
  expect(requestLines.map((p) => p.error)).toEqual(['source-unavailable', 'source-unavailable', 'source-unavailable']);
  // The right password serves.
  const ok = await serve({ 'registry-url': basic.host, 'registry-insecure': true, 'registry-username': basic.username!, 'registry-password': basic.password! });
  expect((await fetch(`${ok.url}/version?device=dev1`)).status).toBe(200);
}, 60_000);

test('a wrong --repository-prefix: 404 for the device, and a line naming the repository looked for', async () => {
  const s = await serve({ 'registry-url': plain.host, 'registry-insecure': true, 'repository-prefix': 'firmware' });
  const r = await fetch(`${s.url}/version?device=dev1`);
  expect(r.status).toBe(404);
  expect(await r.text()).toBe("No firmware for device 'dev1'");
  const line = parsed(s).find((p) => p.msg === 'repository not found in the registry: check --repository-prefix');
  expect(line).toMatchObject({ level: 'info', device: 'dev1', source: 'source.oci' });
  expect(String(line!.error)).toBe(`no firmware for device 'dev1': repository firmware/dev1 does not exist on ${plain.host} (tags/list: 404 name_unknown)`);
  // Readiness: the registry answered, so the source is ready.
  const ready = await fetch(`${s.url}/ready`);
  expect(ready.status).toBe(200);
}, 60_000);

test('otaflux inspect names the missing repository (a wrong prefix) instead of "nothing published"', async () => {
  const cwd = tempDir('otaflux-inspect-');
  const run = (prefix: string) => {
    const p = Bun.spawnSync([process.execPath, MAIN, 'inspect', 'dev1', '--registry-url', plain.host, '--registry-insecure', '--repository-prefix', prefix, '--cache-dir', join(cwd, `cache-${prefix}`)], { cwd, stdout: 'pipe', stderr: 'pipe' });
    return { code: p.exitCode, out: p.stdout.toString() };
  };
  const wrong = run('firmware');
  expect(wrong.code).toBe(1);
  expect(wrong.out).toContain(`  versions: none: repository firmware/dev1 does not exist on ${plain.host} (tags/list: 404 name_unknown)\n  repository not found in the registry: check --repository-prefix\n`);
  const right = run('fw');
  expect(right.code).toBe(0);
  expect(right.out).toContain('1.0.0');
  expect(right.out).not.toContain('does not exist');
}, 60_000);
