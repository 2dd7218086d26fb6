/**
 * A controller named by its client certificate (client-CA binding, instance `cert:<CN>`) answers the
 * cancelAction of an aborted rollout over real TLS: its confirmation closes its own deployment (the
 * fleet outcome `canceled`) and the cancel is not sent again, as for a controller named by its id.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { TestPki, type ClientCert } from '../auth/pki.ts';

const ADMIN = 'ddi-mtls-cancel-admin-token-012345';
const INSTANCE = 'cert:gateway:gw-9';
let pki: TestPki;
let gw9: ClientCert;
let server: TestServer;
const fw = firmwareDir({ gateway: { '1.0.0.swu': 1000, '2.0.0.swu': 2000 } });

beforeAll(async () => {
  pki = new TestPki();
  gw9 = pki.client('gw9', '/CN=gateway:gw-9');
  const config = join(tempDir('otaflux-ddi-mtls-cancel-'), 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir } from 'otaflux';
export default defineConfig({
  server: { adminToken: ${JSON.stringify(ADMIN)}, tls: { listenAddr: '127.0.0.1:0', cert: ${JSON.stringify(pki.serverCert)}, key: ${JSON.stringify(pki.serverKey)}, clientCa: ${JSON.stringify(pki.caCert)}, requireClientCert: false } },
  defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }), extract: 'raw' },
  fleet: { refreshInterval: 0.2, rollouts: [{ id: 'r-gw9', streams: 'gateway', version: '2.0.0', instances: [${JSON.stringify(INSTANCE)}], steps: [{ percent: 100 }] }] },
  protocols: { ddi: { streams: { 'gw-*': 'gateway' } } },
});
`);
  server = await startTestServer({ config });
}, 60_000);
afterAll(() => server?.close());

/** A request over HTTPS with gw-9's client certificate. */
function tls(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`https://127.0.0.1:${server.ports.https}${path}`, { ...init, tls: { ca: Bun.file(pki.caCert), cert: Bun.file(gw9.cert), key: Bun.file(gw9.key) } } as RequestInit);
}
const poll = async () => ((await (await tls('/DEFAULT/controller/v1/gw-9')).json()) as { _links: Record<string, { href: string }> })._links;

test('the certificate-named controller confirms the cancel of an aborted rollout: outcome canceled, the cancel not sent again', async () => {
  const first = await poll();
  const deployment = await tls(new URL(first.deploymentBase!.href).pathname);
  expect(((await deployment.json()) as { deployment: { chunks: { version: string }[] } }).deployment.chunks[0]!.version).toBe('2.0.0');
  expect(server.runtime.fleet?.outcomesOf(INSTANCE).find((o) => o.version === '2.0.0')).toBeDefined();

  const abort = await fetch(`${server.url}/api/rollouts/r-gw9/abort`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', 'x-operator': 'test' }, body: JSON.stringify({ reason: 'test' }) });
  expect(abort.status).toBe(200);
  const end = Date.now() + 10_000;
  while (server.runtime.fleet?.decisionState().rollouts.find((r) => r.id === 'r-gw9')?.state !== 'aborted') {
    if (Date.now() > end) throw new Error('rollout not aborted');
    await Bun.sleep(50);
  }

  const cancel = (await poll()).cancelAction?.href;
  expect(cancel).toMatch(/\/cancelAction\/\d+$/);
  const path = new URL(cancel as string).pathname;
  const feedback = await tls(`${path}/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: { execution: 'closed', result: { finished: 'success' } } }) });
  expect(feedback.status).toBe(200);
  expect((await poll()).cancelAction).toBeUndefined();
  expect(server.runtime.fleet?.outcomesOf(INSTANCE).find((o) => o.version === '2.0.0')?.state).toBe('canceled');
}, 60_000);
