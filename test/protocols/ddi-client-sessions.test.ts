/**
 * Whole DDI sessions of rauc-hawkbit-updater and Zephyr's hawkBit client, replayed byte for byte over
 * real sockets with the requests their code writes (neither is in Debian), and every answer checked
 * by the rules their code applies:
 *
 * - rauc-hawkbit-updater (`src/hawkbit-client.c`, `src/json-helper.c`): `Accept` and `Content-Type`
 *   `application/json;charset=UTF-8`; anything but 200 fails a REST call; `$.id` and
 *   `$.cancelAction.stopId` read as JSON strings; exactly one chunk and one artifact; `version`,
 *   `name`, `hashes.sha1` strings and `size` an integer; `download` preferred over `download-http`;
 *   downloads with `Accept: application/octet-stream`, resumed with `Range: bytes=N-`, 200/206/416
 *   taken as success; cancel: GET the cancelAction, then feedback `closed` (canceled) or `rejected`
 *   (install already running); feedback bodies carry `time` and `details`.
 * - Zephyr (`subsys/mgmt/hawkbit/hawkbit.c`, `hawkbit_priv.h`): every answer must be 200 with a
 *   Content-Length equal to the body; `sleep` exactly 8 characters; cancelAction, then configData,
 *   then deploymentBase, in that order of precedence; hrefs used without scheme and host; one chunk,
 *   part `bApp`, one artifact, `sha256` of 64 hex digits, `size` in an int32, `download-http`; `id` a
 *   string `strtol` reads as a positive int32; the download is one GET answered 200; success is
 *   reported only when, after the reboot, deploymentBase is offered again with the action id it
 *   stored; cancel: POST `…/cancelAction/{id}/feedback` (no GET), `closed` + `success` (dropped) or
 *   `closed` + `failure` (it installed that action already).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { hashToken } from '../../src/plugins/auth/token-hash.ts';
import { jsonOf, pathOf, raw } from './ddi-raw.ts';

const ADMIN = 'ddi-sessions-admin-token-0123456789';
const TOKEN = 'ddi-sessions-target-token-abcdefghij';
const fw = firmwareDir({ zboard: { '1.0.0.bin': 7000 }, zcancel: { '2.0.0.bin': 900 }, rboard: { '1.0.0.raucb': 9000 }, rcancel: { '2.0.0.raucb': 800 } });
let server: TestServer;

beforeAll(async () => {
  const config = join(tempDir('otaflux-ddi-sessions-'), 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir, token } from 'otaflux';
export default defineConfig({
  server: { adminToken: ${JSON.stringify(ADMIN)} },
  defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }), extract: 'raw' },
  devices: { zboard: { auth: token({ devices: { zboard: ${JSON.stringify(hashToken(TOKEN))} } }) }, rboard: { auth: token({ devices: { rboard: ${JSON.stringify(hashToken(TOKEN))} } }) } },
  fleet: {
    refreshInterval: 0.2,
    rollouts: [
      { id: 'r-zc', streams: 'zcancel', version: '2.0.0', instances: ['ddi:frdm_k64f-c1', 'ddi:frdm_k64f-c2'], steps: [{ percent: 100 }] },
      { id: 'r-rc', streams: 'rcancel', version: '2.0.0', instances: ['ddi:rauc-c1', 'ddi:rauc-c2'], steps: [{ percent: 100 }] },
    ],
  },
  protocols: { ddi: { streams: { 'frdm_k64f-c*': 'zcancel', 'frdm_k64f-*': 'zboard', 'rauc-c*': 'rcancel', 'rauc-*': 'rboard' } } },
});
`);
  server = await startTestServer({ config });
}, 60_000);
afterAll(() => server?.close());

const outcome = (instance: string) => server.runtime.fleet?.outcomesOf(instance)[0];
const api = (method: string, path: string, body?: unknown) =>
  fetch(`${server.url}/api${path}`, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', 'x-operator': 'test' }, ...(body ? { body: JSON.stringify(body) } : {}) });
async function abort(rollout: string): Promise<void> {
  expect((await api('POST', `/rollouts/${rollout}/abort`, { reason: 'test' })).status).toBe(200);
  const end = Date.now() + 10_000;
  while (server.runtime.fleet?.decisionState().rollouts.find((r) => r.id === rollout)?.state !== 'aborted') {
    if (Date.now() > end) throw new Error(`rollout ${rollout} not aborted`);
    await Bun.sleep(50);
  }
}

// ---------------------------------------------------------------- Zephyr

const ZEPHYR = { authorization: `TargetToken ${TOKEN}` };
const ZEPHYR_JSON = { ...ZEPHYR, 'content-type': 'application/json;charset=UTF-8' };
const zephyrStatus = (finished: string) => JSON.stringify({ status: { result: { finished }, execution: 'closed' } });

/** Zephyr's `strtol` on an id, and whether it is a positive int32. */
const zephyrId = (s: string) => {
  const n = Number.parseInt(s, 10);
  return n > 0 && n <= 0x7fffffff && String(n) === s ? n : undefined;
};

/** What Zephyr's probe does with a poll answer: the first of cancelAction, configData, deploymentBase. */
function zephyrNext(poll: any): [string, string] | undefined {
  expect(poll.config.polling.sleep).toHaveLength(8);
  for (const link of ['cancelAction', 'configData', 'deploymentBase']) if (poll._links[link]) return [link, pathOf(poll._links[link].href)];
  return undefined;
}

test('Zephyr: configData first, then one bApp chunk it can parse, one 200 download, success reported after the reboot: verified', async () => {
  const base = '/DEFAULT/controller/v1/frdm_k64f-0a1b2c';
  expect(zephyrNext(jsonOf(await raw(server, 'GET', base, ZEPHYR)))?.[0]).toBe('configData');
  const cfg = await raw(server, 'PUT', `${base}/configData`, ZEPHYR_JSON, JSON.stringify({ mode: 'merge', data: { VIN: '0a1b2c' } }));
  expect(cfg.status).toBe(200);
  expect(cfg.headers['content-length']).toBe('0');

  const [link, deploymentPath] = zephyrNext(jsonOf(await raw(server, 'GET', base, ZEPHYR))) ?? [];
  expect(link).toBe('deploymentBase');
  const dep = jsonOf(await raw(server, 'GET', deploymentPath as string, ZEPHYR));
  const stored = zephyrId(dep.id);
  expect(stored).toBeDefined();
  expect(dep.deployment.chunks).toHaveLength(1);
  const [chunk] = dep.deployment.chunks;
  expect(chunk.part).toBe('bApp');
  expect(chunk.artifacts).toHaveLength(1);
  const [artifact] = chunk.artifacts;
  expect(artifact.hashes.sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(Number.isInteger(artifact.size) && artifact.size > 0 && artifact.size <= 0x7fffffff).toBe(true);
  const download = await raw(server, 'GET', pathOf(artifact._links['download-http'].href), ZEPHYR);
  expect(download.status).toBe(200);
  expect(download.headers['transfer-encoding']).toBeUndefined();
  expect(Number(download.headers['content-length'])).toBe(artifact.size);
  expect(createHash('sha256').update(download.body).digest('hex')).toBe(artifact.hashes.sha256);
  // Check-ins name the protocol: a download through DDI is `ddi:firmware`, a poll `ddi:version`.
  await server.runtime.fleet?.flush();
  expect((await server.runtime.fleet?.store.instance('ddi:frdm_k64f-0a1b2c'))?.route).toBe('ddi:firmware');

  // After the reboot: the same action must be offered again, or Zephyr never reports.
  const [again, againPath] = zephyrNext(jsonOf(await raw(server, 'GET', base, ZEPHYR))) ?? [];
  expect(again).toBe('deploymentBase');
  expect(zephyrId(jsonOf(await raw(server, 'GET', againPath as string, ZEPHYR)).id)).toBe(stored);
  const report = await raw(server, 'POST', `${base}/deploymentBase/${stored}/feedback`, ZEPHYR_JSON, zephyrStatus('success'));
  expect(report.status).toBe(200);
  expect(report.headers['content-length']).toBe('0');
  expect(outcome('ddi:frdm_k64f-0a1b2c')).toMatchObject({ version: '1.0.0', state: 'verified' });
  expect(zephyrNext(jsonOf(await raw(server, 'GET', base, ZEPHYR)))).toBeUndefined();
  await server.runtime.fleet?.flush();
  expect((await server.runtime.fleet?.store.instance('ddi:frdm_k64f-0a1b2c'))?.route).toBe('ddi:version');
});

test('Zephyr: cancelAction takes precedence; it posts its feedback without a GET; success is canceled, failure (already installed) is not', async () => {
  for (const c of ['c1', 'c2']) {
    const poll = jsonOf(await raw(server, 'GET', `/DEFAULT/controller/v1/frdm_k64f-${c}`));
    expect(poll._links.deploymentBase).toBeDefined();
  }
  await abort('r-zc');
  for (const [c, finished] of [['c1', 'success'], ['c2', 'failure']] as const) {
    const [link, path] = zephyrNext(jsonOf(await raw(server, 'GET', `/DEFAULT/controller/v1/frdm_k64f-${c}`))) ?? [];
    expect(link).toBe('cancelAction');
    // Zephyr reads the action id after "cancelAction/" with strtol: only digits follow.
    expect(path).toMatch(/\/cancelAction\/\d+$/);
    const r = await raw(server, 'POST', `${path}/feedback`, ZEPHYR_JSON, zephyrStatus(finished));
    expect(r.status).toBe(200);
    expect(zephyrNext(jsonOf(await raw(server, 'GET', `/DEFAULT/controller/v1/frdm_k64f-${c}`)))?.[0]).not.toBe('cancelAction');
  }
  expect(outcome('ddi:frdm_k64f-c1')).toMatchObject({ version: '2.0.0', state: 'canceled' });
  expect(outcome('ddi:frdm_k64f-c2')?.state).toBe('offered');
});

// ---------------------------------------------------------------- rauc-hawkbit-updater

const RAUC = { authorization: `TargetToken ${TOKEN}`, accept: 'application/json;charset=UTF-8' };
const RAUC_JSON = { ...RAUC, 'content-type': 'application/json;charset=UTF-8' };
const RAUC_DOWNLOAD = { authorization: `TargetToken ${TOKEN}`, accept: 'application/octet-stream' };
/** The body `json_build_status` writes (`id` a string, when there is one). */
const raucStatus = (id: string | undefined, execution: string, finished: string, detail?: string, data?: Record<string, string>) =>
  JSON.stringify({ ...(id ? { id } : {}), time: '20261202T031500', status: { result: { finished }, execution, ...(detail ? { details: [detail] } : {}) }, ...(data ? { data } : {}) });

/** `json_get_string`: the value must be a JSON string (a number fails). */
const str = (v: unknown) => {
  expect(typeof v).toBe('string');
  return v as string;
};

test('rauc-hawkbit-updater: identify, a deployment it accepts, a resumed download (200, 206, 416), progress and success feedback: verified', async () => {
  const base = '/DEFAULT/controller/v1/rauc-7';
  const first = jsonOf(await raw(server, 'GET', base, RAUC));
  expect(first.config.polling.sleep).toMatch(/^\d\d:\d\d:\d\d$/);
  expect(first._links.configData).toBeDefined();
  const identify = await raw(server, 'PUT', `${base}/configData`, RAUC_JSON, raucStatus(undefined, 'closed', 'success', undefined, { MAC: 'ff:ff:ff:ff:ff:ff', hw_revision: '2' }));
  expect(identify.status).toBe(200);

  const poll = jsonOf(await raw(server, 'GET', base, RAUC));
  const dep = jsonOf(await raw(server, 'GET', pathOf(poll._links.deploymentBase.href), RAUC));
  const id = str(dep.id);
  expect(str(dep.deployment.download)).not.toBe('skip');
  expect(str(dep.deployment.update)).not.toBe('skip');
  expect(dep.deployment.chunks).toHaveLength(1);
  expect(dep.deployment.chunks[0].artifacts).toHaveLength(1);
  const [chunk] = dep.deployment.chunks;
  str(chunk.version);
  str(chunk.name);
  const [artifact] = chunk.artifacts;
  expect(Number.isSafeInteger(artifact.size)).toBe(true);
  expect(str(artifact.hashes.sha1)).toMatch(/^[0-9a-f]{40}$/);
  const url = pathOf(str(artifact._links.download.href));

  // It reports progress with its id as a string.
  expect((await raw(server, 'POST', `${base}/deploymentBase/${id}/feedback`, RAUC_JSON, raucStatus(id, 'proceeding', 'none', 'Download started.'))).status).toBe(200);
  const bytes = Buffer.from(fw.bytes('rboard', '1.0.0.raucb'));
  const whole = await raw(server, 'GET', url, RAUC_DOWNLOAD);
  expect(whole.status).toBe(200);
  expect(whole.body.equals(bytes)).toBe(true);
  expect(createHash('sha1').update(whole.body).digest('hex')).toBe(artifact.hashes.sha1);
  // An interrupted transfer resumes from the bytes it has (CURLOPT_RESUME_FROM_LARGE), up to EOF.
  const resumed = await raw(server, 'GET', url, { ...RAUC_DOWNLOAD, range: 'bytes=5000-' });
  expect(resumed.status).toBe(206);
  expect(resumed.body.equals(bytes.subarray(5000))).toBe(true);
  expect((await raw(server, 'GET', url, { ...RAUC_DOWNLOAD, range: `bytes=${bytes.length}-` })).status).toBe(416);

  const done = await raw(server, 'POST', `${base}/deploymentBase/${id}/feedback`, RAUC_JSON, raucStatus(id, 'closed', 'success', 'Software bundle installed successfully.'));
  expect(done.status).toBe(200);
  expect(outcome('ddi:rauc-7')).toMatchObject({ version: '1.0.0', state: 'verified' });
  expect(jsonOf(await raw(server, 'GET', base, RAUC))._links.deploymentBase).toBeUndefined();
});

test('rauc-hawkbit-updater: cancelAction GET gives a string stopId; closed is canceled, rejected (install running) is not', async () => {
  for (const c of ['c1', 'c2']) expect(jsonOf(await raw(server, 'GET', `/DEFAULT/controller/v1/rauc-${c}`, RAUC))._links.deploymentBase).toBeDefined();
  await abort('r-rc');
  for (const [c, execution] of [['c1', 'closed'], ['c2', 'rejected']] as const) {
    const base = `/DEFAULT/controller/v1/rauc-${c}`;
    const poll = jsonOf(await raw(server, 'GET', base, RAUC));
    const cancel = jsonOf(await raw(server, 'GET', pathOf(poll._links.cancelAction.href), RAUC));
    const stopId = str(cancel.cancelAction.stopId);
    // It builds the feedback URL itself: its configured tenant, `cancelAction/<stopId>/feedback`.
    const r = await raw(server, 'POST', `${base}/cancelAction/${stopId}/feedback`, RAUC_JSON, raucStatus(stopId, execution, 'success', execution === 'closed' ? 'Action canceled.' : 'Cancelation impossible, installation started already.'));
    expect(r.status).toBe(200);
    expect(jsonOf(await raw(server, 'GET', base, RAUC))._links.cancelAction).toBeUndefined();
  }
  expect(outcome('ddi:rauc-c1')).toMatchObject({ version: '2.0.0', state: 'canceled' });
  expect(outcome('ddi:rauc-c2')?.state).toBe('offered');
  await server.runtime.fleet?.flush();
  const r = ((await (await api('GET', '/rollouts')).json()) as { id: string; counts: Record<string, number> }[]).find((x) => x.id === 'r-rc');
  expect(r?.counts).toMatchObject({ canceled: 1, verified: 0, failed: 0 });
});
