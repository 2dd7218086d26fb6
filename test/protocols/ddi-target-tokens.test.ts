/**
 * Per-controller TargetTokens for controllers that share a stream: `token({ instances: { 'ddi:<id>':
 * hash } })`, the same hashed tokens as every other token. A controller's token admits only the
 * controller its URL names; the native API takes it only with that instance named.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { hashToken } from '../../src/plugins/auth/token-hash.ts';
import { token } from '../../src/plugins/auth/token.ts';
import { outcomeState } from './ddi-raw.ts';

const T1 = 'controller-sh-1-target-token-abcdef';
const T2 = 'controller-sh-2-target-token-ghijkl';
const T2_NEXT = 'controller-sh-2-rotated-token-mnopq';
const fw = firmwareDir({ shared: { '1.1.0.swu': 2000 } });
let server: TestServer;

beforeAll(async () => {
  const config = join(tempDir('otaflux-ddi-tokens-'), 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir, token } from 'otaflux';
export default defineConfig({
  defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }), extract: 'raw' },
  devices: { shared: { auth: token({ instances: { 'ddi:sh-1': ${JSON.stringify(hashToken(T1))}, 'ddi:sh-2': [${JSON.stringify(hashToken(T2))}, ${JSON.stringify(hashToken(T2_NEXT))}] } }) } },
  protocols: { ddi: { streams: { 'sh-*': 'shared' } } },
});
`);
  server = await startTestServer({ config });
});
afterAll(() => server?.close());

const poll = (controller: string, t?: string, headers: Record<string, string> = {}) =>
  fetch(`${server.url}/DEFAULT/controller/v1/${controller}`, { headers: { ...(t ? { authorization: `TargetToken ${t}` } : {}), ...headers } });

test("each controller's TargetToken admits that controller only; another controller's token is 403", async () => {
  const own = await poll('sh-1', T1);
  expect(own.status).toBe(200);
  expect(((await own.json()) as { _links: Record<string, unknown> })._links.deploymentBase).toBeDefined();
  expect((await poll('sh-2', T2)).status).toBe(200);
  // Rotation: both hashes of sh-2 are valid.
  expect((await poll('sh-2', T2_NEXT)).status).toBe(200);

  const crossed = await poll('sh-2', T1);
  expect(crossed.status).toBe(403);
  expect(await crossed.text()).toBe('Forbidden');
  expect((await poll('sh-3', T1)).status).toBe(403);
  expect((await poll('sh-1', 'not-a-token-of-anyone-0123456789')).status).toBe(401);
  expect((await poll('sh-1')).status).toBe(401);
  // The controller cannot name another instance with a header: the URL names it.
  expect((await poll('sh-2', T1, { 'x-device-instance': 'ddi:sh-1' })).status).toBe(403);
  // The refusal log says whose token it was.
  expect(server.logs.some((l) => l.includes("token of instance 'ddi:sh-1' used for 'ddi:sh-2'"))).toBe(true);
});

test('the controller id stays the instance, and its deployment and download are admitted by its token', async () => {
  const body = (await (await poll('sh-1', T1)).json()) as { _links: { deploymentBase: { href: string } } };
  const d = (await (await fetch(body._links.deploymentBase.href, { headers: { authorization: `TargetToken ${T1}` } })).json()) as any;
  const href = d.deployment.chunks[0].artifacts[0]._links['download-http'].href as string;
  const download = await fetch(href, { headers: { authorization: `TargetToken ${T1}` } });
  expect(download.status).toBe(200);
  expect(Buffer.from(await download.arrayBuffer()).equals(fw.bytes('shared', '1.1.0.swu'))).toBe(true);
  expect((await fetch(href.replace('/sh-1/', '/sh-2/'), { headers: { authorization: `TargetToken ${T1}` } })).status).toBe(403);
  expect(await outcomeState(server, 'ddi:sh-1', 'shared', 'downloaded')).toBe('downloaded');
});

test('the native API takes an instance token only with that instance named', async () => {
  const version = (q: string) => fetch(`${server.url}/version?device=shared${q}`, { headers: { authorization: `Bearer ${T1}` } });
  expect((await version('&instance=ddi:sh-1')).status).toBe(200);
  expect((await version('')).status).toBe(403);
  expect((await version('&instance=ddi:sh-2')).status).toBe(403);
});

test('instances: a bad hash or an empty instance id is refused at start-up, naming the key', () => {
  expect(() => token({ instances: { 'ddi:x': 'plain-text' } })).toThrow(/auth\.token: instances\["ddi:x"\]/);
  expect(() => token({ instances: { '': hashToken(T1) } })).toThrow('auth.token: instances: expected instance ids of 1 to 200 characters');
  expect(() => token({})).toThrow(/instances: \{ "<instance id>": "<hash>" \}/);
});
