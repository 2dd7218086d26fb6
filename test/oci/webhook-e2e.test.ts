// POST /webhooks/harbor mounted in the server: a push announced by Harbor reaches devices at once,
// without waiting for the refresh interval; a wrong secret changes nothing.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { pushArtifact, startRegistry, type TestRegistry } from '../support/registry.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { FW_TYPE, randomFirmware } from './helpers.ts';

let reg: TestRegistry;
let s: TestServer;
const SECRET = 'harbor-shared-secret-1';

beforeAll(async () => {
  reg = await startRegistry();
  await pushArtifact(reg, 'fw/hooked', '1.0.0', [{ name: 'firmware.bin', data: randomFirmware(1000), mediaType: FW_TYPE }]);
  s = await startTestServer({ flags: { 'registry-url': reg.host, 'registry-insecure': true, 'repository-prefix': 'fw', 'refresh-interval': 3600, 'webhook-secret': SECRET } });
});
afterAll(async () => { await s.close(); await reg.close(); });

const version = async () => (await (await fetch(`${s.url}/version?device=hooked`)).text()).split('\n')[0];
const push = (auth: string) =>
  fetch(`${s.url}/webhooks/harbor`, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'PUSH_ARTIFACT', event_data: { repository: { name: 'hooked', namespace: 'fw', repo_full_name: 'fw/hooked' }, resources: [{ tag: '1.1.0' }] } }),
  });

test('a Harbor push refreshes the device at once; a wrong secret is refused and changes nothing', async () => {
  expect(await version()).toBe('1.0.0');
  await pushArtifact(reg, 'fw/hooked', '1.1.0', [{ name: 'firmware.bin', data: randomFirmware(1000), mediaType: FW_TYPE }]);
  const refused = await push('wrong-secret');
  expect(refused.status).toBe(401);
  expect(await version()).toBe('1.0.0');
  const accepted = await push(SECRET);
  expect(accepted.status).toBe(202);
  let seen = '';
  for (let i = 0; i < 50 && seen !== '1.1.0'; i++) {
    await Bun.sleep(50);
    seen = (await version()) as string;
  }
  expect(seen).toBe('1.1.0');
});
