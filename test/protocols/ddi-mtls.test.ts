/**
 * DDI routes see what the device listener knows about the connection: the client certificate (so
 * `mtls(...)` and the client-CA binding admit controllers over HTTPS) and the peer address (so the
 * refused-credential limit counts per address, and check-ins record it). Real TLS with openssl-made
 * certificates and curl, real sockets, each client from its own loopback address.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { hashToken } from '../../src/plugins/auth/token-hash.ts';
import { TestPki, type ClientCert } from '../auth/pki.ts';
import { outcomeState } from './ddi-raw.ts';

const TOKEN = 'ddi-mtls-test-target-token-0123456';
let pki: TestPki;
let server: TestServer;
let gw7: ClientCert;
const fw = firmwareDir({ gateway: { '1.1.0.swu': 5000 }, sensor: { '2.0.0.swu': 3000 }, tokened: { '1.0.0.swu': 100 } });

beforeAll(async () => {
  pki = new TestPki();
  gw7 = pki.client('gw7', '/CN=gateway:gw-7');
  const config = join(tempDir('otaflux-ddi-mtls-'), 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir, mtls, token } from 'otaflux';
export default defineConfig({
  server: { tls: { listenAddr: '127.0.0.1:0', cert: ${JSON.stringify(pki.serverCert)}, key: ${JSON.stringify(pki.serverKey)}, clientCa: ${JSON.stringify(pki.caCert)}, requireClientCert: false } },
  defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }), extract: 'raw' },
  devices: {
    sensor: { auth: mtls({ from: 'dns' }) },
    tokened: { auth: token({ devices: { tokened: ${JSON.stringify(hashToken(TOKEN))} } }) },
  },
  protocols: { ddi: { streams: { 'gw-*': 'gateway', 'sensor-*': 'sensor', 'tok-*': 'tokened' } } },
});
`);
  server = await startTestServer({ config });
}, 60_000);
afterAll(() => server?.close());

interface Answer { status: number; body: Buffer }

/** curl from a given loopback address, over HTTPS (with an optional client certificate) or plain HTTP. */
async function curl(url: string, from: number, opts: { client?: ClientCert; headers?: Record<string, string>; head?: boolean } = {}): Promise<Answer> {
  const out = join(tempDir('otaflux-ddi-mtls-out-'), 'body');
  const p = Bun.spawn(['curl', '-sS', '--max-time', '5', '--interface', `127.0.0.${from}`, '--cacert', pki.caCert, '-o', out, '-w', '%{http_code}',
    ...(opts.client ? ['--cert', opts.client.cert, '--key', opts.client.key] : []),
    ...Object.entries(opts.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), url], { stdout: 'pipe', stderr: 'pipe' });
  const [code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  const file = Bun.file(out);
  return { status: Number(code), body: (await file.exists()) ? Buffer.from(await file.arrayBuffer()) : Buffer.alloc(0) };
}

const https = (path: string) => `https://127.0.0.1:${server.ports.https}${path}`;
const http = (path: string) => `http://127.0.0.1:${server.ports.http}${path}`;
const links = (a: Answer) => (JSON.parse(a.body.toString()) as { _links: Record<string, { href: string }> })._links;

test('client-CA binding: a certificate CN gateway:gw-7 polls, fetches the deployment and downloads over DDI; the certificate names the instance', async () => {
  const poll = await curl(https('/DEFAULT/controller/v1/gw-7'), 2, { client: gw7 });
  expect(poll.status).toBe(200);
  const base = links(poll).deploymentBase?.href as string;
  expect(base).toBeDefined();
  const deployment = JSON.parse((await curl(https(new URL(base).pathname), 2, { client: gw7 })).body.toString());
  const artifact = new URL(deployment.deployment.chunks[0].artifacts[0]._links['download-http'].href).pathname;
  const download = await curl(https(artifact), 2, { client: gw7 });
  expect(download.status).toBe(200);
  expect(download.body.equals(fw.bytes('gateway', '1.1.0.swu'))).toBe(true);
  // The certificate, not the controller id it claims, names the instance; its check-in has its address.
  expect(await outcomeState(server, 'cert:gateway:gw-7', 'gateway', 'downloaded')).toBe('downloaded');
  await server.runtime.fleet?.flush();
  expect((await server.runtime.fleet?.store.instance('cert:gateway:gw-7'))?.address).toBe('127.0.0.2');
}, 60_000);

test('client-CA binding: no certificate is 401, a certificate of another stream 403, on the poll and the download', async () => {
  expect((await curl(https('/DEFAULT/controller/v1/gw-8'), 3)).status).toBe(401);
  const other = pki.client('sensor-cn', '/CN=sensor:s-1');
  expect((await curl(https('/DEFAULT/controller/v1/gw-8'), 3, { client: other })).status).toBe(403);
  const id = new URL(links(await curl(https('/DEFAULT/controller/v1/gw-7'), 3, { client: gw7 })).deploymentBase?.href as string).pathname.split('/').pop();
  const artifact = `/DEFAULT/controller/v1/gw-8/softwaremodules/${id}/artifacts/gateway-1.1.0.swu`;
  expect((await curl(https(artifact), 3, { client: other })).status).toBe(403);
  expect((await curl(https(artifact), 3)).status).toBe(401);
  // Plain HTTP shows no certificate: the same controller is refused there.
  expect((await curl(http('/DEFAULT/controller/v1/gw-7'), 3)).status).toBe(401);
}, 60_000);

test('an mtls(...) authenticator of the stream admits the certificate it maps (a DNS SAN), and only that one', async () => {
  const bySan = pki.client('sensor-san', '/CN=unrelated', { san: 'DNS:sensor' });
  const poll = await curl(https('/DEFAULT/controller/v1/sensor-1'), 4, { client: bySan });
  expect(poll.status).toBe(200);
  expect(links(poll).deploymentBase).toBeDefined();
  expect((await curl(https('/DEFAULT/controller/v1/sensor-1'), 4, { client: gw7 })).status).toBe(403);
}, 60_000);

test('refused TargetTokens are limited per peer address: one address reaching 429 leaves another at 401', async () => {
  const wrong = { authorization: 'TargetToken wrong-token-wrong-token-wrong' };
  const statuses: number[] = [];
  for (let i = 0; i < 11; i++) statuses.push((await curl(http('/DEFAULT/controller/v1/tok-1'), 5, { headers: wrong })).status);
  expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
  expect(statuses[10]).toBe(429);
  // Another address is not held back by the first one's refusals.
  expect((await curl(http('/DEFAULT/controller/v1/tok-1'), 6, { headers: wrong })).status).toBe(401);
  const ok = await curl(http('/DEFAULT/controller/v1/tok-1'), 6, { headers: { authorization: `TargetToken ${TOKEN}` } });
  expect(ok.status).toBe(200);
  // The check-in records the controller's own address.
  await server.runtime.fleet?.flush();
  expect((await server.runtime.fleet?.store.instance('ddi:tok-1'))?.address).toBe('127.0.0.6');
}, 60_000);
