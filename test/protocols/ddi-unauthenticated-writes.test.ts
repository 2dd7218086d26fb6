/**
 * DDI writes are admitted like reads: on a stream whose controllers need a TargetToken, feedback,
 * cancel feedback and configData from a client without that controller's credential (none, a wrong
 * one, another controller's) are refused with the short device answer (401 / 403) and change
 * nothing: the deployment stays open, the outcome is not written, configData is still asked for.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { hashToken } from '../../src/plugins/auth/token-hash.ts';

const ADMIN = 'ddi-writes-admin-token-0123456789';
const T1 = 'controller-wr-1-target-token-abcdef';
const T2 = 'controller-wr-2-target-token-ghijkl';
const fw = firmwareDir({ guarded: { '1.0.0.swu': 2000 } });
let server: TestServer;

beforeAll(async () => {
  const config = join(tempDir('otaflux-ddi-writes-'), 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir, token } from 'otaflux';
export default defineConfig({
  server: { adminToken: ${JSON.stringify(ADMIN)} },
  defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }), extract: 'raw' },
  devices: { guarded: { auth: token({ instances: { 'ddi:wr-1': ${JSON.stringify(hashToken(T1))}, 'ddi:wr-2': ${JSON.stringify(hashToken(T2))} } }) } },
  fleet: { refreshInterval: 0.2 },
  protocols: { ddi: { streams: { 'wr-*': 'guarded' } } },
});
`);
  server = await startTestServer({ config });
});
afterAll(() => server?.close());

const BASE = '/DEFAULT/controller/v1/wr-1';
const auth = (t?: string): Record<string, string> => (t ? { authorization: `TargetToken ${t}` } : {});

async function links(): Promise<Record<string, { href: string }>> {
  const r = await fetch(`${server.url}${BASE}`, { headers: auth(T1) });
  expect(r.status).toBe(200);
  return ((await r.json()) as { _links: Record<string, { href: string }> })._links;
}

async function outcomes(): Promise<{ state: string }[]> {
  const r = await fetch(`${server.url}/api/devices/guarded?instance=${encodeURIComponent('ddi:wr-1')}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  const body = JSON.stringify(await r.json());
  return [...body.matchAll(/"state":"([a-z_]+)"/g)].map((m) => ({ state: m[1] as string }));
}

test('feedback, cancel feedback and configData without the controller credential: 401 / 403, and nothing changes', async () => {
  const before = await links();
  const action = /(\d+)$/.exec(before.deploymentBase!.href)?.[1] as string;
  expect(before.configData).toBeDefined();
  const failure = JSON.stringify({ id: action, status: { execution: 'closed', result: { finished: 'failure' } } });
  const closed = JSON.stringify({ id: action, status: { execution: 'closed', result: { finished: 'success' } } });
  for (const [credential, status, text] of [[undefined, 401, 'Unauthorized'], ['not-a-token-of-anyone-0123456789', 401, 'Unauthorized'], [T2, 403, 'Forbidden']] as const) {
    const writes = [
      fetch(`${server.url}${BASE}/deploymentBase/${action}/feedback`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth(credential) }, body: failure }),
      fetch(`${server.url}${BASE}/cancelAction/${action}/feedback`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth(credential) }, body: closed }),
      fetch(`${server.url}${BASE}/configData`, { method: 'PUT', headers: { 'content-type': 'application/json', ...auth(credential) }, body: '{"mode":"merge","data":{}}' }),
    ];
    for (const r of await Promise.all(writes)) {
      expect(r.status).toBe(status);
      expect(await r.text()).toBe(text);
    }
  }
  const after = await links();
  expect(after.deploymentBase?.href).toBe(before.deploymentBase!.href);
  expect(after.configData).toBeDefined();
  await Bun.sleep(500);
  expect((await outcomes()).filter((o) => o.state === 'failed' || o.state === 'canceled')).toEqual([]);

  // The controller's own credential: accepted, and the failure is its outcome.
  const own = await fetch(`${server.url}${BASE}/deploymentBase/${action}/feedback`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth(T1) }, body: failure });
  expect(own.status).toBe(200);
  expect((await links()).deploymentBase).toBeUndefined();
});
