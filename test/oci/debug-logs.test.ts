/**
 * `--log-level debug` shows the registry path (every request: method, path, status, time, bytes),
 * the resolution (versions seen, skipped and why, chosen) and the verification decisions; `trace`
 * adds the headers, never a credential; `info` shows none of it. A real registry with Basic auth.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { pushArtifact, startRegistry, type TestRegistry } from '../support/registry.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { allowListVerifier } from '../support/test-plugins.ts';
import { Composer } from '../../src/core/composition.ts';
import type { LogLevel } from '../../src/log.ts';
import { FW_TYPE, randomFirmware } from './helpers.ts';

let reg: TestRegistry;
let allowed: string;
const servers: TestServer[] = [];
const DEBUG_MESSAGES = ['registry request', 'tags listed', 'versions found', 'verification', 'version skipped', 'version chosen'];

beforeAll(async () => {
  reg = await startRegistry({ auth: 'htpasswd' });
  const push = (tag: string) => pushArtifact(reg, 'fw/dev1', tag, [{ name: 'firmware.bin', data: randomFirmware(3000), mediaType: FW_TYPE }]);
  allowed = await push('1.0.0');
  await push('1.1.0'); // not on the allow-list: refused
  await push('1.2.0-rc.1'); // a prerelease: skipped
  await push('latest'); // not semver: ignored
}, 60_000);
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await reg.close();
});

async function run(level: LogLevel, again = false): Promise<Record<string, unknown>[]> {
  const s = await startTestServer({
    flags: { 'registry-url': reg.host, 'registry-insecure': true, 'repository-prefix': 'fw', 'registry-username': reg.username!, 'registry-password': reg.password! },
    logLevel: level,
    edit(settings) {
      const comp = settings.composer.for('dev1')!;
      settings.composer = new Composer([], { ...comp, verifier: allowListVerifier(new Set([allowed])) });
    },
  });
  servers.push(s);
  const r = await fetch(`${s.url}/version?device=dev1`);
  expect(r.status).toBe(200);
  expect((await r.text()).split('\n')[0]).toBe('1.0.0');
  // Asked again (as a webhook does): the acceptance is remembered, the rejection asked anew.
  if (again) await s.runtime.devices.refresh('dev1');
  for (const l of s.logs) {
    expect(l).not.toContain(reg.password!);
    expect(l).not.toContain(Buffer.from(`${reg.username}:${reg.password}`).toString('base64'));
  }
  return s.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('debug: each registry request, the versions seen, skipped and chosen, each verification', async () => {
  const lines = await run('debug', true);
  const requests = lines.filter((l) => l.msg === 'registry request');
  const tagList = requests.filter((l) => l.url === '/v2/fw/dev1/tags/list');
  // The start-up check met Basic's challenge on /v2/; later requests send the credentials up front.
  expect(requests.filter((l) => l.url === '/v2/').map((l) => l.status)).toEqual([401, 200]);
  expect(tagList.map((l) => l.status)).toEqual([200, 200]); // the poll, then the refresh
  for (const l of requests) {
    expect(l).toMatchObject({ level: 'debug', method: expect.stringMatching(/^(GET|HEAD)$/), plugin: 'source.oci' });
    expect(typeof l.ms).toBe('number');
    expect(String(l.url)).not.toContain('?');
  }
  expect(typeof tagList[0]!.bytes).toBe('number');
  expect(requests.some((l) => l.url === '/v2/fw/dev1/manifests/1.1.0' && l.status === 200)).toBe(true);
  expect(requests.some((l) => /^\/v2\/fw\/dev1\/blobs\/sha256:[0-9a-f]{64}$/.test(String(l.url)) && l.status === 200)).toBe(true);

  expect(lines.find((l) => l.msg === 'tags listed')).toMatchObject({ repository: 'fw/dev1', tags: 4, ignoredNotSemver: ['latest'] });
  expect(lines.find((l) => l.msg === 'versions found')).toMatchObject({ device: 'dev1', offered: 3, candidates: ['1.1.0', '1.0.0'], skippedPrerelease: ['1.2.0-rc.1'] });
  expect(lines.filter((l) => l.msg === 'verification').map((l) => [l.version, l.ok, l.reason ?? l.by])).toEqual([['1.1.0', false, 'unsigned'], ['1.0.0', true, 'allow-list'], ['1.1.0', false, 'unsigned']]);
  expect(lines.filter((l) => l.msg === 'verification remembered').map((l) => [l.version, l.ok, l.by])).toEqual([['1.0.0', true, 'allow-list']]);
  expect(lines.find((l) => l.msg === 'version skipped')).toMatchObject({ version: '1.1.0', why: 'refused by verifier.allow-list-test: unsigned' });
  expect(lines.find((l) => l.msg === 'version chosen')).toMatchObject({ version: '1.0.0', digest: allowed, verifiedBy: 'allow-list' });
  expect(lines.some((l) => l.msg === 'registry request headers')).toBe(false);
}, 60_000);

test('info: none of the debug lines', async () => {
  const lines = await run('info');
  expect(lines.length).toBeGreaterThan(0);
  for (const l of lines) expect(DEBUG_MESSAGES).not.toContain(l.msg as string);
  for (const l of lines) expect(['info', 'warn', 'error']).toContain(l.level as string);
}, 60_000);

test('trace: the headers of each request and answer, never Authorization', async () => {
  const lines = await run('trace');
  const headers = lines.filter((l) => l.msg === 'registry request headers');
  expect(headers.length).toBeGreaterThan(3);
  const challenge = headers.find((l) => l.url === '/v2/' && (l.response as Record<string, string>)['www-authenticate']);
  expect((challenge!.response as Record<string, string>)['www-authenticate']).toContain('Basic realm=');
  const manifest = headers.find((l) => l.url === '/v2/fw/dev1/manifests/1.0.0')!;
  expect((manifest.request as Record<string, string>).accept).toContain('application/vnd.oci.image.manifest.v1+json');
  expect((manifest.response as Record<string, string>)['docker-content-digest']).toBe(allowed);
  // Basic credentials were sent with it, and are not in the line.
  for (const l of headers) expect(Object.keys(l.request as object)).not.toContain('authorization');
  expect(JSON.stringify(headers)).not.toMatch(/Basic [A-Za-z0-9+/]{8,}/);
}, 60_000);
