/**
 * A RAUC session (per client address and URL) pins which bundle later ranges read, never who may read
 * them: on a stream whose devices need a credential that is not in the URL, a later range from the
 * same address without it (another device behind the same NAT, another process on the host) gets the
 * short 401, not the bundle's bytes; the device with its credential reads on.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { hashToken } from '../../src/plugins/auth/token-hash.ts';

const TOKEN = 'rauc-guard-device-token-0123456789';
const OTHER = 'rauc-open-device-token-9876543210';
const fw = firmwareDir({ 'rauc-guard': { '1.0.0.raucb': 9000 }, 'rauc-open': { '1.0.0.raucb': 100 } });
let server: TestServer;

beforeAll(async () => {
  const config = join(tempDir('otaflux-rauc-auth-'), 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir, token } from 'otaflux';
export default defineConfig({
  defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }), extract: 'raw' },
  devices: {
    'rauc-guard': { auth: token({ devices: { 'rauc-guard': ${JSON.stringify(hashToken(TOKEN))} } }) },
    'rauc-open': { auth: token({ devices: { 'rauc-open': ${JSON.stringify(hashToken(OTHER))} } }) },
  },
  protocols: { rauc: { streams: { 'Guard *': 'rauc-guard' } } },
});
`);
  server = await startTestServer({ config });
});
afterAll(() => server?.close());

const URL_PATH = '/firmware?device=rauc-guard';
const read = (range: string, headers: Record<string, string> = {}) => fetch(`${server.url}${URL_PATH}`, { headers: { range, ...headers } });

test('later ranges of an open RAUC session are admitted like the first: without the credential or with another stream\'s, 401', async () => {
  const first = await read('bytes=0-3', { authorization: `Bearer ${TOKEN}`, 'rauc-serial': 'guard-1' });
  expect(first.status).toBe(206);
  await first.arrayBuffer();

  const anonymous = await read('bytes=4-8999');
  expect(anonymous.status).toBe(401);
  expect(await anonymous.text()).toBe('Unauthorized');
  const wrong = await read('bytes=4-8999', { authorization: 'Bearer not-a-token-of-anyone-0123456789' });
  expect(wrong.status).toBe(401);
  // Another stream's device token is no credential of this stream: the token authenticator's 401.
  const other = await read('bytes=4-8999', { authorization: `Bearer ${OTHER}` });
  expect(other.status).toBe(401);
  expect(await other.text()).toBe('Unauthorized');

  const own = await read('bytes=4-8999', { authorization: `Bearer ${TOKEN}` });
  expect(own.status).toBe(206);
  expect(new Uint8Array(await own.arrayBuffer())).toEqual(new Uint8Array(fw.bytes('rauc-guard', '1.0.0.raucb')).subarray(4));
});
