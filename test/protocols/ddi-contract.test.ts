/**
 * The hawkBit DDI contract as rauc-hawkbit-updater and Zephyr's hawkBit client hold OtaFlux to it
 * (neither is in Debian; their rules are read from their code, see README "hawkBit DDI"), over real
 * sockets: 200 on every call, string ids, one chunk with part bApp and one artifact, download-http,
 * an 8-character sleep, Content-Length on every JSON answer (never chunked).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { jsonOf, pathOf, raw } from './ddi-raw.ts';
import { hashToken } from '../../src/plugins/auth/token-hash.ts';
import { actionId } from '../../src/protocols/ddi/action-id.ts';
import { scrapeMetrics } from '../support/metrics.ts';

const ADMIN = 'ddi-test-admin-token-0123456789';
const TARGET = 'target-token-for-tok-1-abcdefghij';
const GATEWAY = 'gateway-token-for-all-abcdefghijk';
const fw = firmwareDir({ 'ddi-fw': { '1.0.0.swu': 4000, '1.1.0.swu': 6000 }, 'tok-1': { '3.0.0.swu': 100 } });
let server: TestServer;
let replica: TestServer;

function configFile(ddi: string): string {
  const path = join(tempDir('otaflux-ddi-config-'), 'otaflux.config.ts');
  writeFileSync(path, `import { defineConfig, dir, token } from 'otaflux';
export default defineConfig({
  server: { adminToken: ${JSON.stringify(ADMIN)} },
  defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }), extract: 'raw' },
  devices: { 'tok-1': { auth: token({ devices: { 'tok-1': ${JSON.stringify(hashToken(TARGET))} }, gateway: ${JSON.stringify(hashToken(GATEWAY))} }) } },
  fleet: { refreshInterval: 0.2 },
  protocols: { ddi: ${ddi} },
});
`);
  return path;
}

beforeAll(async () => {
  const ddi = `{ streams: { 'ctl-*': 'ddi-fw', 'zephyr-*': 'ddi-fw', 'rauc-*': 'ddi-fw' } }`;
  server = await startTestServer({ config: configFile(ddi) });
  replica = await startTestServer({ config: configFile(`{ tenant: 'acme', pollSleep: 3725, publicUrl: 'https://ota.example.test:8443/', streams: { 'ctl-*': 'ddi-fw' } }`) });
});

afterAll(async () => {
  await server?.close();
  await replica?.close();
});


test('poll: 200, an 8-character sleep, configData at first contact, deploymentBase with a numeric action id', async () => {
  const r = await raw(server, 'GET', '/DEFAULT/controller/v1/ctl-1');
  expect(r.status).toBe(200);
  const body = jsonOf(r);
  expect(body.config.polling.sleep).toBe('00:01:00');
  expect(body._links.configData.href).toBe(`http://127.0.0.1:${server.ports.http}/DEFAULT/controller/v1/ctl-1/configData`);
  expect(pathOf(body._links.deploymentBase.href)).toMatch(/^\/DEFAULT\/controller\/v1\/ctl-1\/deploymentBase\/\d+$/);
  expect(body._links.cancelAction).toBeUndefined();
});

test('tenant: matched case-insensitively; another tenant is 404; pollSleep and tenant from config', async () => {
  expect((await raw(server, 'GET', '/default/controller/v1/ctl-1')).status).toBe(200);
  expect((await raw(server, 'GET', '/other/controller/v1/ctl-1')).status).toBe(404);
  const r = await raw(replica, 'GET', '/ACME/controller/v1/ctl-1');
  expect(jsonOf(r).config.polling.sleep).toBe('01:02:05');
  // publicUrl: the links' scheme, host and port (clients behind TLS or a proxy).
  expect(jsonOf(r)._links.configData.href).toBe('https://ota.example.test:8443/acme/controller/v1/ctl-1/configData');
  expect((await raw(replica, 'GET', '/DEFAULT/controller/v1/ctl-1')).status).toBe(404);
});

test('configData: PUT answers 200 with an empty body, and the link is dropped', async () => {
  expect(jsonOf(await raw(server, 'GET', '/DEFAULT/controller/v1/ctl-cfg'))._links.configData).toBeDefined();
  const put = await raw(server, 'PUT', '/DEFAULT/controller/v1/ctl-cfg/configData', {}, JSON.stringify({ mode: 'merge', data: { hw: 'x' } }));
  expect(put.status).toBe(200);
  expect(put.headers['content-length']).toBe('0');
  expect(jsonOf(await raw(server, 'GET', '/DEFAULT/controller/v1/ctl-cfg'))._links.configData).toBeUndefined();
});

test('deploymentBase: string id, one chunk with part bApp, one artifact with lowercase sha1/md5/sha256 over the served bytes; every replica names it alike', async () => {
  const bytes = fw.bytes('ddi-fw', '1.1.0.swu');
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const poll = jsonOf(await raw(server, 'GET', '/DEFAULT/controller/v1/ctl-2'));
  const r = await raw(server, 'GET', pathOf(poll._links.deploymentBase.href));
  expect(r.status).toBe(200);
  const d = jsonOf(r);
  expect(d.id).toBe(String(actionId('ddi-fw', sha256)));
  expect(typeof d.id).toBe('string');
  expect(d.deployment).toMatchObject({ download: 'forced', update: 'forced' });
  expect(d.deployment.chunks).toHaveLength(1);
  const [chunk] = d.deployment.chunks;
  expect(chunk).toMatchObject({ part: 'bApp', version: '1.1.0', name: 'ddi-fw' });
  expect(chunk.artifacts).toHaveLength(1);
  const [a] = chunk.artifacts;
  expect(a.filename).toBe('ddi-fw-1.1.0.swu');
  expect(a.size).toBe(bytes.length);
  expect(a.hashes).toEqual({
    sha1: createHash('sha1').update(bytes).digest('hex'),
    md5: createHash('md5').update(bytes).digest('hex'),
    sha256,
  });
  expect(a._links['download-http'].href).toBe(a._links.download.href);

  // The other replica (another process state, same release) derives the same action id.
  const other = jsonOf(await raw(replica, 'GET', '/acme/controller/v1/ctl-2'));
  expect(pathOf(other._links.deploymentBase.href).split('/').pop()).toBe(d.id);

  // An action id that is not this controller's deployment.
  expect((await raw(server, 'GET', '/DEFAULT/controller/v1/ctl-2/deploymentBase/12345')).status).toBe(404);
});

test('artifact: HEAD with the size, Range 206 and 416, ETag, explicit Content-Length', async () => {
  const bytes = fw.bytes('ddi-fw', '1.1.0.swu');
  const poll = jsonOf(await raw(server, 'GET', '/DEFAULT/controller/v1/ctl-3'));
  const d = jsonOf(await raw(server, 'GET', pathOf(poll._links.deploymentBase.href)));
  const path = pathOf(d.deployment.chunks[0].artifacts[0]._links['download-http'].href);

  const head = await raw(server, 'HEAD', path);
  expect(head.status).toBe(200);
  expect(head.headers['content-length']).toBe(String(bytes.length));
  expect(head.headers.etag).toBe(`"${createHash('sha256').update(bytes).digest('hex')}"`);

  const full = await fetch(`${server.url}${path}`);
  expect(full.status).toBe(200);
  expect(Buffer.from(await full.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true);

  const part = await raw(server, 'GET', path, { range: 'bytes=100-' });
  expect(part.status).toBe(206);
  expect(part.headers['content-range']).toBe(`bytes 100-${bytes.length - 1}/${bytes.length}`);
  expect(part.body.equals(Buffer.from(bytes.subarray(100)))).toBe(true);

  const beyond = await raw(server, 'GET', path, { range: `bytes=${bytes.length}-` });
  expect(beyond.status).toBe(416);
  expect(beyond.headers['content-range']).toBe(`bytes */${bytes.length}`);
});

test('feedback: id as a number, a string or absent, 200 with an empty body each; closed+success verifies, closed+failure fails', async () => {
  const open = async (ctl: string) => pathOf(jsonOf(await raw(server, 'GET', `/DEFAULT/controller/v1/${ctl}`))._links.deploymentBase.href);
  const progress = { status: { execution: 'proceeding', result: { finished: 'none' } } };

  // Zephyr: no id.
  const zephyr = await open('zephyr-1');
  for (const body of [progress, { status: { execution: 'closed', result: { finished: 'success' } } }]) {
    const r = await raw(server, 'POST', `${zephyr}/feedback`, {}, JSON.stringify(body));
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe('0');
  }
  expect(server.runtime.fleet?.outcomesOf('ddi:zephyr-1').find((o) => o.version === '1.1.0')?.state).toBe('verified');
  expect(jsonOf(await raw(server, 'GET', '/DEFAULT/controller/v1/zephyr-1'))._links.deploymentBase).toBeUndefined();

  // rauc-hawkbit-updater: id as a string; SWUpdate: as a number.
  const rauc = await open('rauc-1');
  const id = rauc.split('/').pop() as string;
  expect((await raw(server, 'POST', `${rauc}/feedback`, {}, JSON.stringify({ id, ...progress }))).status).toBe(200);
  expect(server.runtime.fleet?.outcomesOf('ddi:rauc-1').find((o) => o.version === '1.1.0')?.state).toBe('offered');
  const failed = await raw(server, 'POST', `${rauc}/feedback`, {}, JSON.stringify({ id: Number(id), status: { execution: 'closed', result: { finished: 'failure' } } }));
  expect(failed.status).toBe(200);
  expect(server.runtime.fleet?.outcomesOf('ddi:rauc-1').find((o) => o.version === '1.1.0')?.state).toBe('failed');

  // Not JSON at all: still 200, nothing changes.
  expect((await raw(server, 'POST', `${rauc}/feedback`, {}, 'not json')).status).toBe(200);
});

test('auth: TargetToken and GatewayToken are the token authenticator\'s tokens; anything else is 401', async () => {
  const poll = (auth?: string) => raw(server, 'GET', '/DEFAULT/controller/v1/tok-1', auth ? { authorization: auth } : {});
  expect((await poll()).status).toBe(401);
  expect((await poll('TargetToken wrong-token-wrong-token-xx')).status).toBe(401);
  const byTarget = await poll(`TargetToken ${TARGET}`);
  expect(byTarget.status).toBe(200);
  expect(jsonOf(byTarget)._links.deploymentBase).toBeDefined();
  expect((await poll(`GatewayToken ${GATEWAY}`)).status).toBe(200);
  // A token names the stream; the controller id stays the instance.
  expect(server.runtime.fleet?.outcomesOf('ddi:tok-1').length).toBeGreaterThan(0);
});

test('cancelAction: offered when the instance\'s rollout is aborted; a confirmed cancel is the outcome canceled, counted in the rollout; a rejected one changes nothing; then gone', async () => {
  const api = (method: string, path: string, body?: unknown) =>
    fetch(`${server.url}/api${path}`, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', 'x-operator': 'test' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  expect((await api('POST', '/rollouts', { id: 'r-ddi', streams: ['ddi-fw'], version: '1.1.0', canary: ['ddi:ctl-canary', 'ddi:ctl-refuses'], steps: [{ percent: 1 }, { percent: 100 }] })).status).toBeLessThan(300);
  const until = async (f: () => Promise<boolean>) => {
    const end = Date.now() + 15_000;
    while (!(await f())) {
      if (Date.now() > end) throw new Error('timed out');
      await Bun.sleep(100);
    }
  };
  await until(async () => server.runtime.fleet?.decisionState().rollouts.some((r) => r.id === 'r-ddi') ?? false);
  const first = jsonOf(await raw(server, 'GET', '/DEFAULT/controller/v1/ctl-canary'));
  expect(jsonOf(await raw(server, 'GET', '/DEFAULT/controller/v1/ctl-refuses'))._links.deploymentBase).toBeDefined();
  expect(pathOf(first._links.deploymentBase.href).split('/').pop()).toBe(String(actionId('ddi-fw', createHash('sha256').update(fw.bytes('ddi-fw', '1.1.0.swu')).digest('hex'))));

  expect((await api('POST', '/rollouts/r-ddi/abort', { reason: 'test' })).status).toBeLessThan(300);
  await until(async () => server.runtime.fleet?.decisionState().rollouts.find((r) => r.id === 'r-ddi')?.state === 'aborted');
  const poll = jsonOf(await raw(server, 'GET', '/DEFAULT/controller/v1/ctl-canary'));
  expect(poll._links.deploymentBase).toBeUndefined();
  const cancel = pathOf(poll._links.cancelAction.href);
  const stopId = cancel.split('/').pop();
  const c = jsonOf(await raw(server, 'GET', cancel));
  expect(c).toEqual({ id: stopId, cancelAction: { stopId } });
  const ack = await raw(server, 'POST', `${cancel}/feedback`, {}, JSON.stringify({ id: stopId, status: { execution: 'closed', result: { finished: 'success' } } }));
  expect(ack.status).toBe(200);
  expect(ack.headers['content-length']).toBe('0');
  expect(jsonOf(await raw(server, 'GET', '/DEFAULT/controller/v1/ctl-canary'))._links.cancelAction).toBeUndefined();
  const outcomeOf = (instance: string) => server.runtime.fleet?.outcomesOf(instance).find((o) => o.rolloutId === 'r-ddi');
  expect(outcomeOf('ddi:ctl-canary')).toMatchObject({ version: '1.1.0', state: 'canceled' });

  // A controller that refuses the cancel (hawkBit's `rejected`) is not asked again; its outcome stays as it was.
  const refusing = pathOf(jsonOf(await raw(server, 'GET', '/DEFAULT/controller/v1/ctl-refuses'))._links.cancelAction.href);
  const no = await raw(server, 'POST', `${refusing}/feedback`, {}, JSON.stringify({ id: refusing.split('/').pop(), status: { execution: 'rejected', result: { finished: 'none' } } }));
  expect(no.status).toBe(200);
  expect(jsonOf(await raw(server, 'GET', '/DEFAULT/controller/v1/ctl-refuses'))._links.cancelAction).toBeUndefined();
  expect(outcomeOf('ddi:ctl-refuses')?.state).toBe('offered');

  await server.runtime.fleet?.flush();
  await until(async () => {
    const r = ((await (await api('GET', '/rollouts')).json()) as { id: string; counts: Record<string, number> }[]).find((x) => x.id === 'r-ddi');
    return r?.counts.canceled === 1;
  });
  const m = await scrapeMetrics(server.ports.metrics as number);
  expect(m.get('otaflux_rollout_instances{rollout="r-ddi",outcome="canceled"}')).toBe(1);
});

test('without protocols.ddi the DDI routes are 404', async () => {
  const path = join(tempDir('otaflux-ddi-config-'), 'otaflux.config.ts');
  writeFileSync(path, `import { defineConfig, dir } from 'otaflux';\nexport default defineConfig({ defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }) } });\n`);
  const plain = await startTestServer({ config: path });
  try {
    expect((await raw(plain, 'GET', '/DEFAULT/controller/v1/ctl-1')).status).toBe(404);
  } finally {
    await plain.close();
  }
});

test('metrics label DDI requests by route template, never by controller id, and count them under protocol="ddi"', async () => {
  const series = (status: number) => `otaflux_device_protocol_requests_total{protocol="ddi",status="${status}"}`;
  const before = await scrapeMetrics(server.ports.metrics as number);
  const poll = jsonOf(await raw(server, 'GET', '/DEFAULT/controller/v1/ctl-metrics-7'));
  expect((await raw(server, 'PUT', '/DEFAULT/controller/v1/ctl-metrics-7/configData', {}, '{"data":{"hw":"1"},"mode":"merge"}')).status).toBe(200);
  // A controller whose stream needs a token and sent none.
  expect((await raw(server, 'GET', '/DEFAULT/controller/v1/tok-1')).status).toBe(401);
  const m = await scrapeMetrics(server.ports.metrics as number);
  expect(m.text).toContain('path="/:tenant/controller/v1/:controllerId"');
  expect(m.text).not.toContain('ctl-metrics-7');
  expect(m.get(series(200)) - before.get(series(200))).toBe(2);
  expect(m.get(series(401)) - before.get(series(401))).toBe(1);
  // DDI's own 404 (an action id that is not the controller's) is counted with unknown paths.
  expect((await raw(server, 'GET', `${pathOf(poll._links.deploymentBase.href)}0`)).status).toBe(404);
  expect((await scrapeMetrics(server.ports.metrics as number)).get(series(404))).toBe(before.get(series(404)));
  expect(m.get('otaflux_device_protocol_requests_total{protocol="native",status="200"}')).toBe(before.get('otaflux_device_protocol_requests_total{protocol="native",status="200"}'));
  // The operator API and unknown paths are not device protocols.
  expect(m.text).not.toMatch(/otaflux_device_protocol_requests_total\{protocol="(undefined|unmatched)"/);
});

test('with fleet control off, a reported result still closes the deployment for that controller', async () => {
  const path = join(tempDir('otaflux-ddi-config-'), 'otaflux.config.ts');
  writeFileSync(path, `import { defineConfig, dir } from 'otaflux';
export default defineConfig({
  defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }), extract: 'raw' },
  fleet: { enabled: false },
  protocols: { ddi: { streams: { 'ctl-*': 'ddi-fw' } } },
});
`);
  const plain = await startTestServer({ config: path });
  try {
    expect(plain.runtime.fleet).toBeUndefined();
    const poll = jsonOf(await raw(plain, 'GET', '/DEFAULT/controller/v1/ctl-nofleet'));
    const base = pathOf(poll._links.deploymentBase.href);
    expect(jsonOf(await raw(plain, 'GET', base)).deployment.chunks[0].version).toBe('1.1.0');
    const r = await raw(plain, 'POST', `${base}/feedback`, {}, JSON.stringify({ id: 1, status: { execution: 'closed', result: { finished: 'success' } } }));
    expect(r.status).toBe(200);
    expect(jsonOf(await raw(plain, 'GET', '/DEFAULT/controller/v1/ctl-nofleet'))._links.deploymentBase).toBeUndefined();
    // Another controller of the same stream is still offered it.
    expect(jsonOf(await raw(plain, 'GET', '/DEFAULT/controller/v1/ctl-other'))._links.deploymentBase).toBeDefined();
  } finally {
    await plain.close();
  }
});
