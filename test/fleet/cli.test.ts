// `otaflux rollout …`, `otaflux device …` against a running server over its operator API (--server,
// ADMIN_TOKEN from the environment), and `otaflux inspect <stream> --instance ID` explaining a decision.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/tmp.ts';
import { ADMIN_TOKEN, expectedBucket, fleetConfigFile, fleetFirmware, fleetOf, pollAll } from './fleet-sim.ts';

const MAIN = join(import.meta.dir, '../../src/main.ts');
const fw = fleetFirmware(['cli-a'], ['1.0.0']);
const config = fleetConfigFile(fw.root, '{ refreshInterval: 0.2 }');
const cacheDir = tempDir('otaflux-fleet-cli-');
const fleet = fleetOf(['cli-a'], 40);
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ config, flags: { 'cache-dir': cacheDir, 'refresh-interval': 1 } });
});
afterAll(() => server?.close());

/** Runs the CLI as a child process (asynchronously: the server answering it runs in this process). */
async function otaflux(args: string[], env: Record<string, string> = { ADMIN_TOKEN }): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([process.execPath, MAIN, ...args], { stdout: 'pipe', stderr: 'pipe', env: { ...process.env, ...env, NO_COLOR: '1' } });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

test('rollout create / list / advance / pause, device pin / show / yank / channels, audit', async () => {
  const s = ['--server', server.url];
  let r = (await otaflux(['rollout', 'create', 'id=cli-r1', 'streams=cli-*', 'version=1.1.0', 'steps=20,100', 'soak=3600', 'canary=cli-a-unit-0', 'reason=from the cli', ...s]));
  expect(r.err).toBe('');
  expect(r.out).toBe('created rollout cli-r1: cli-* → 1.1.0, running\n');
  fw.publish('cli-a', '1.1.0');
  await Bun.sleep(1100);

  r = (await otaflux(['rollout', 'advance', 'cli-r1', ...s]));
  expect(r.out).toBe('rollout cli-r1: running, step 0 (20 %)\n');
  expect((await otaflux(['rollout', 'advance', 'cli-r1', ...s])).out).toBe('rollout cli-r1: running, step 1 (100 %)\n');
  expect((await otaflux(['rollout', 'pause', 'cli-r1', 'reason=night', ...s])).out).toBe('rollout cli-r1: paused, step 1 (100 %)\n');
  r = (await otaflux(['rollout', 'list', ...s]));
  expect(r.out).toStartWith('cli-r1  cli-* → 1.1.0  paused  step 1: 100 %  exposed 0');

  expect((await otaflux(['device', 'pin', 'cli-a', '1.0.0', 'instances=cli-a-unit-3', 'id=cli-pin', ...s])).out).toBe('pin cli-pin: 1 instance(s) of cli-a held on 1.0.0\n');
  await pollAll(server.url, fleet);
  r = (await otaflux(['device', 'show', 'cli-a', '--instance', 'cli-a-unit-3', ...s]));
  expect(r.out).toContain('instance cli-a-unit-3\n');
  expect(r.out).toContain('offered: 1.0.0\n');
  expect(r.out).toContain('decided by: pin cli-pin\n');
  expect(r.out).toContain(`rollout cli-r1 of the newest release (paused): would include it: bucket ${expectedBucket('cli-r1', 'cli-a-unit-3')} < 10000`);
  r = (await otaflux(['device', 'show', 'cli-a', '--instance', 'cli-a-unit-5', ...s]));
  expect(r.out).toContain(`decided by: rollout cli-r1, step 1, bucket ${expectedBucket('cli-r1', 'cli-a-unit-5')}`);

  expect((await otaflux(['device', 'yank', 'cli-a', '1.1.0', 'reason=bad build', ...s])).out).toBe('cli-a 1.1.0 yanked: never offered again\n');
  expect((await otaflux(['device', 'channels', 'cli-a-unit-1', 'beta', ...s])).out).toBe('cli-a-unit-1: channels beta\n');
  expect((await otaflux(['device', 'unpin', 'cli-pin', ...s])).out).toBe('pin cli-pin removed\n');
  const offers = await pollAll(server.url, fleet);
  expect([...offers.values()].every((v) => v === '1.0.0')).toBe(true);

  const audit = (await otaflux(['rollout', 'audit', ...s])).out.trim().split('\n').map((l) => l.split('  ').slice(1, 4).join(' '));
  expect(audit).toEqual([
    'cli:' + (process.env.USER ?? require('node:os').userInfo().username) + ' pin.delete cli-pin',
    expect.stringContaining('channels.set cli-a-unit-1'),
    expect.stringContaining('release.yank cli-a@1.1.0'),
    expect.stringContaining('pin.create cli-pin'),
    expect.stringContaining('rollout.pause cli-r1'),
    expect.stringContaining('rollout.advance cli-r1'),
    expect.stringContaining('rollout.advance cli-r1'),
    expect.stringContaining('rollout.create cli-r1'),
  ]);
}, 120_000);

test('operator mistakes get one line and exit 1 or 2', async () => {
  let r = (await otaflux(['rollout', 'list', '--server', server.url], { ADMIN_TOKEN: 'wrong-token-wrong-token' }));
  expect(r.code).toBe(1);
  expect(r.err).toBe('otaflux: GET /rollouts: 401 unauthorized: send Authorization: Bearer <admin token>\n');
  r = (await otaflux(['rollout', 'pause', 'no-such', '--server', server.url]));
  expect(r.err).toBe("otaflux: POST /rollouts/no-such/pause: 404 no rollout 'no-such'\n");
  r = (await otaflux(['rollout', 'create', 'streams=cli-*', '--server', server.url]));
  expect(r.code).toBe(2);
  expect(r.err).toStartWith('otaflux: rollout create: give streams=…, version=… and steps=');
  // OTAFLUX_SERVER instead of --server; resume, abort, and an abort of an aborted rollout (409).
  const env = { ADMIN_TOKEN, OTAFLUX_SERVER: server.url };
  expect((await otaflux(['rollout', 'resume', 'cli-r1'], env)).out).toBe('rollout cli-r1: running, step 1 (100 %)\n');
  expect((await otaflux(['rollout', 'abort', 'cli-r1', 'reason=enough'], env)).out).toBe('rollout cli-r1: aborted, step 1 (100 %)\n');
  r = await otaflux(['rollout', 'abort', 'cli-r1'], env);
  expect(r.err).toBe('otaflux: POST /rollouts/cli-r1/abort: 409 rollout cli-r1 is aborted: cannot abort it\n');
  r = (await otaflux(['rollout', 'list', '--server', 'http://127.0.0.1:1']));
  expect(r.code).toBe(1);
  expect(r.err).toStartWith('otaflux: cannot reach http://127.0.0.1:1');
  expect(r.err.split('\n')).toHaveLength(2);
}, 60_000);

test('inspect --instance says which rollout, step and bucket decide', async () => {
  const r = (await otaflux(['inspect', 'cli-a', '--config', config, '--cache-dir', cacheDir, '--instance', 'cli-a-unit-9'], {}));
  expect(r.code).toBe(0);
  expect(r.out).toContain('  fleet:\n    instance cli-a-unit-9\n');
  expect(r.out).toContain('yanked 1.1.0');
  expect(r.out).toContain('offered: 1.0.0');
  expect(r.out).toContain('rollout cli-r1 of the newest release (aborted): leaves it out: aborted (aborted by the operator)');
}, 60_000);
