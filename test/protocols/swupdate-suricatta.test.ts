/**
 * Debian 12's real `swupdate` in suricatta (hawkBit) mode against OtaFlux over a real socket: a
 * successful update confirmed by feedback after the "reboot" (a second run with `-c 2`, as SWUpdate
 * reports from its persisted state), a failing install reported as failure and counted in its
 * rollout's outcomes, and a rollout aborted while swupdate holds an installed, unconfirmed deployment:
 * it is sent cancelAction, confirms it, and the deployment's fleet outcome is `canceled`.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/tmp.ts';
import { buildSwu, HW, signer } from './swu.ts';
import { hashToken } from '../../src/plugins/auth/token-hash.ts';

const TARGET = 'swupdate-target-token-0123456789';
const ADMIN = 'swupdate-test-admin-token-0123456789';

let server: TestServer;
let keys: { cert: string; key: string };
const work = tempDir('otaflux-swupdate-');
const outDir = join(work, 'installed');
const payload = randomBytes(3000);

beforeAll(async () => {
  keys = signer();
  mkdirSync(outDir);
  const root = tempDir('otaflux-swu-fw-');
  mkdirSync(join(root, 'gateway'));
  mkdirSync(join(root, 'gateway-bad'));
  mkdirSync(join(root, 'gateway-cancel'));
  writeFileSync(join(root, 'gateway', '1.1.0.swu'), buildSwu(keys, '1.1.0', join(outDir, 'payload.bin'), payload));
  // Its target folder does not exist: the `files` handler fails, as an install on a device can.
  writeFileSync(join(root, 'gateway-bad', '2.0.0.swu'), buildSwu(keys, '2.0.0', join(work, 'missing-folder', 'payload.bin'), payload));
  writeFileSync(join(root, 'gateway-cancel', '1.2.0.swu'), buildSwu(keys, '1.2.0', join(outDir, 'cancel.bin'), payload));
  const config = join(tempDir('otaflux-ddi-config-'), 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir, token } from 'otaflux';
export default defineConfig({
  server: { adminToken: ${JSON.stringify(ADMIN)} },
  defaults: { source: dir({ root: ${JSON.stringify(root)} }), extract: 'raw' },
  devices: { gateway: { auth: token({ devices: { gateway: ${JSON.stringify(hashToken(TARGET))} } }) } },
  fleet: {
    refreshInterval: 0.2,
    rollouts: [
      { id: 'r-bad', streams: 'gateway-bad', version: '2.0.0', steps: [{ percent: 100 }] },
      { id: 'r-cancel', streams: 'gateway-cancel', version: '1.2.0', steps: [{ percent: 100 }] },
    ],
  },
  protocols: { ddi: { streams: { 'bad-*': 'gateway-bad', 'cancel-*': 'gateway-cancel', 'gw-*': 'gateway' }, pollSleep: 1 } },
});
`);
  server = await startTestServer({ config, logLevel: 'info' });
});

afterAll(async () => {
  await server?.close();
});

/** Runs swupdate in suricatta mode until `done()` holds (or the timeout), then stops it. */
async function suricatta(controller: string, done: () => boolean, extra: string[] = [], timeoutMs = 60_000): Promise<string> {
  // The gateway stream needs its token: SWUpdate sends it as `Authorization: TargetToken …`.
  if (controller.startsWith('gw-')) extra = ['-k', TARGET, ...extra];
  const tmp = tempDir('otaflux-swupdate-run-');
  const args = ['-t', 'default', '-u', server.url, '-i', controller, '-p', '1', '-r', '1', '-w', '1', ...extra];
  const child = Bun.spawn(['swupdate', '-v', '-k', keys.cert, '-H', HW, '-u', args.join(' ')], {
    cwd: tmp,
    env: { ...process.env, TMPDIR: tmp },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const output: string[] = [];
  const collect = async (s: ReadableStream<Uint8Array>) => {
    for await (const c of s) output.push(Buffer.from(c).toString());
  };
  const reading = Promise.all([collect(child.stdout), collect(child.stderr)]);
  const end = Date.now() + timeoutMs;
  while (!done() && Date.now() < end && child.exitCode === null) await Bun.sleep(200);
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await child.exited;
  clearTimeout(killer);
  await reading;
  return output.join('');
}

const api = (method: string, path: string, body?: unknown) =>
  fetch(`${server.url}/api${path}`, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', 'x-operator': 'test' }, ...(body ? { body: JSON.stringify(body) } : {}) });
const rollout = async (id: string) => ((await (await api('GET', '/rollouts')).json()) as { id: string; state: string; counts: Record<string, number> }[]).find((r) => r.id === id);

const outcome = (instance: string, stream: string) => server.runtime.fleet?.outcomesOf(instance).find((o) => o.stream === stream);

test('real swupdate installs a release over DDI and confirms it after the reboot: the fleet counts it verified', async () => {
  const target = join(outDir, 'payload.bin');
  const first = await suricatta('gw-1', () => existsSync(target) && readFileSync(target).equals(payload) && outcome('ddi:gw-1', 'gateway')?.state === 'downloaded');
  expect(readFileSync(target).equals(payload), first).toBe(true);
  expect(outcome('ddi:gw-1', 'gateway')?.state, first).toBe('downloaded');
  // Its HEAD (for the size before the GET) was answered with one.
  expect(first).not.toContain('Failed to get total download size');

  // After the reboot: SWUpdate reports the persisted state; -c 2 is "installed and booted".
  const second = await suricatta('gw-1', () => outcome('ddi:gw-1', 'gateway')?.state === 'verified', ['-c', '2']);
  expect(outcome("ddi:gw-1", "gateway"), second).toMatchObject({ version: '1.1.0', state: 'verified', inferred: false });

  // Confirmed: the deployment is no longer offered.
  expect((await fetch(`${server.url}/DEFAULT/controller/v1/gw-1`)).status).toBe(401);
  const poll = await fetch(`${server.url}/DEFAULT/controller/v1/gw-1`, { headers: { authorization: `TargetToken ${TARGET}` } });
  const body = (await poll.json()) as { _links: Record<string, unknown> };
  expect(body._links.deploymentBase).toBeUndefined();

  await server.runtime.fleet?.flush();
  const rows = await server.runtime.fleet?.store.allOutcomes();
  expect(rows?.find((r) => r.instance === 'ddi:gw-1')).toMatchObject({ version: '1.1.0', state: 'verified' });
}, 150_000);

test('real swupdate reports a failed install: the fleet counts it failed in its rollout and stops offering it', async () => {
  const log = await suricatta('bad-1', () => outcome('ddi:bad-1', 'gateway-bad')?.state === 'failed');
  expect(outcome('ddi:bad-1', 'gateway-bad'), log).toMatchObject({ version: '2.0.0', state: 'failed', rolloutId: 'r-bad', inferred: false });
  await server.runtime.fleet?.flush();
  // The rollout's outcome counts: one exposed, failed; none verified.
  expect((await rollout('r-bad'))?.counts).toMatchObject({ exposed: 1, failed: 1, verified: 0 });
  expect(existsSync(join(work, 'missing-folder'))).toBe(false);
  const poll = await fetch(`${server.url}/default/controller/v1/bad-1`);
  expect(((await poll.json()) as { _links: Record<string, unknown> })._links.deploymentBase).toBeUndefined();
}, 90_000);

test('real swupdate holding an installed, unconfirmed deployment is sent cancelAction when its rollout is aborted, confirms it, and the outcome is canceled', async () => {
  const target = join(outDir, 'cancel.bin');
  const cancelFeedback: string[] = [];
  const watch = (e: { method: string; route: string; status: number }) => {
    if (e.method === 'POST' && /\/cancelAction\/\d+\/feedback$/.test(e.route)) cancelFeedback.push(`${e.route} ${e.status}`);
  };
  server.runtime.events.on('http-request', watch);
  let abort: Promise<Response> | undefined;
  const log = await suricatta('cancel-1', () => {
    // Installed, not rebooted: SWUpdate keeps polling with the deployment open. Now the operator aborts.
    if (!abort && existsSync(target) && outcome('ddi:cancel-1', 'gateway-cancel')?.state === 'downloaded') abort = api('POST', '/rollouts/r-cancel/abort', { reason: 'bad batch' });
    return cancelFeedback.length > 0;
  });
  server.runtime.events.off('http-request', watch);
  expect((await abort)?.status, log).toBe(200);
  expect(cancelFeedback, log).toHaveLength(1);
  expect(cancelFeedback[0]).toEndWith(' 200');
  // SWUpdate found the cancelAction link, read its stopId and told its installer the update is cancelled.
  const stopId = /cancelAction\/(\d+)\/feedback/.exec(cancelFeedback[0] as string)?.[1];
  expect(log).toContain(`Cancel action available at ${server.url}/DEFAULT/controller/v1/cancel-1/cancelAction/${stopId}`);
  expect(log).toContain(`"stopId" : "${stopId}"`);

  // The confirmed cancel is the deployment's outcome, counted in the aborted rollout (never verified or failed).
  expect(outcome('ddi:cancel-1', 'gateway-cancel')).toMatchObject({ version: '1.2.0', rolloutId: 'r-cancel', state: 'canceled', inferred: false });
  await server.runtime.fleet?.flush();
  expect(await rollout('r-cancel')).toMatchObject({ state: 'aborted', counts: { canceled: 1, verified: 0, failed: 0 } });
  const rows = await server.runtime.fleet?.store.allOutcomes();
  expect(rows?.find((r) => r.instance === 'ddi:cancel-1')).toMatchObject({ version: '1.2.0', state: 'canceled' });
  // Acknowledged: neither cancelAction nor the aborted release is offered to it again.
  const poll = await fetch(`${server.url}/DEFAULT/controller/v1/cancel-1`);
  expect(poll.status).toBe(200);
  expect(((await poll.json()) as { _links: Record<string, unknown> })._links).not.toContainAnyKeys(['cancelAction', 'deploymentBase']);
}, 90_000);
