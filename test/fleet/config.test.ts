// The config file's `fleet` section: declared rollouts (canary, labels), pins and channels decide over
// real sockets; config mistakes name file and key; `enabled: false` and `checkins: false`; the
// database URL from flag, env and file.
import { afterEach, expect, test } from 'bun:test';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/tmp.ts';
import { resolveSettings } from '../../src/config/settings.ts';
import { fromEnv } from '../../src/cli/flags.ts';
import { api, fleetConfigFile, fleetFirmware } from './fleet-sim.ts';

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const version = (s: TestServer, stream: string, instance: string) =>
  fetch(`${s.url}/version?device=${stream}&instance=${instance}`).then(async (r) => (r.status === 200 ? (await r.text()).split('\n')[0] : `status ${r.status}`));

test('declared rollouts, pins, channels and labels decide; the audit log says they came from the config', async () => {
  const fw = fleetFirmware(['cfg-a', 'cfg-b'], ['1.0.0', '1.1.0', '1.2.0-beta.1']);
  const config = fleetConfigFile(fw.root, `{
    rollouts: [
      { id: 'cfg-r', streams: 'cfg-a', version: '1.1.0', canary: ['u-1'], steps: [{ percent: 100 }] },
      { id: 'cfg-l', streams: ['cfg-b'], version: '1.1.0', labels: ['lab'], steps: [{ percent: 100 }] },
    ],
    pins: [{ id: 'cfg-pin', stream: 'cfg-a', instances: ['u-2'], version: '1.0.0', reason: 'bench unit' }],
    channels: { beta: ['u-3'] },
    labels: { lab: ['u-5'] },
  }`, '', 'allowPrerelease: true, ');
  const s = await startTestServer({ config });
  servers.push(s);
  expect(await version(s, 'cfg-a', 'u-1')).toBe('1.1.0'); // canary
  expect(await version(s, 'cfg-a', 'u-2')).toBe('1.0.0'); // pinned
  expect(await version(s, 'cfg-a', 'u-3')).toBe('1.2.0-beta.1'); // on channel beta
  expect(await version(s, 'cfg-a', 'u-4')).toBe('1.0.0'); // canary stage, stable only
  expect(await version(s, 'cfg-b', 'u-5')).toBe('1.1.0'); // labelled 'lab'
  expect(await version(s, 'cfg-b', 'u-6')).toBe('1.0.0'); // not selected
  // The operator subscribes u-4 to beta: it is offered the prerelease from its next poll.
  expect((await api(s.url, 'POST', '/instances/u-4/channels', { channels: ['beta'], reason: 'tester' })).status).toBe(200);
  expect(await version(s, 'cfg-a', 'u-4')).toBe('1.2.0-beta.1');
  const audit = (await (await api(s.url, 'GET', '/audit')).json()) as { actor: string; action: string; target: string }[];
  expect(audit.filter((a) => a.actor === 'config').map((a) => `${a.action} ${a.target}`).sort()).toEqual(['pin.create cfg-pin', 'rollout.create cfg-l', 'rollout.create cfg-r']);
});

test('a config mistake in the fleet section names the file and the key', async () => {
  const fw = fleetFirmware(['x'], ['1.0.0']);
  const bad = async (fleet: string) => resolveSettings({ config: fleetConfigFile(fw.root, fleet) }).then(() => 'accepted', (e: Error) => e.message);
  let msg = await bad(`{ rollouts: [{ id: 'r', streams: 'x', version: '1.1.0', steps: [{ percent: 50 }, { percent: 20 }] }] }`);
  expect(msg).toMatch(/otaflux\.config\.ts: fleet\.rollouts\[0\]\.steps: expected increasing percentages/);
  msg = await bad(`{ pins: [{ id: 'p', stream: 'x', version: 'latest' }] }`);
  expect(msg).toMatch(/otaflux\.config\.ts: fleet\.pins\[0\]\.version: expected a semver version/);
  msg = await bad(`{ databaseUrl: 'mysql://db' }`);
  expect(msg).toMatch(/otaflux\.config\.ts: fleet\.databaseUrl: expected postgres:\/\/user@host:port\/db or sqlite:\/\/FILE/);
  msg = await bad(`{ rollout: [] }`);
  expect(msg).toMatch(/otaflux\.config\.ts: fleet: unknown key 'rollout'/);
});

test('enabled: false: no store, no operator routes, every device gets the newest release', async () => {
  const fw = fleetFirmware(['off-a'], ['1.0.0', '1.1.0']);
  const cache = tempDir('otaflux-fleet-off-');
  const s = await startTestServer({ config: fleetConfigFile(fw.root, '{ enabled: false, rollouts: [{ id: "r", streams: "off-a", version: "1.1.0", steps: [{ percent: 1 }] }] }'), flags: { 'cache-dir': cache } });
  servers.push(s);
  expect(s.runtime.fleet).toBeUndefined();
  expect(await version(s, 'off-a', 'u-1')).toBe('1.1.0');
  expect((await api(s.url, 'GET', '/rollouts')).status).toBe(404);
  expect(existsSync(join(cache, 'fleet.sqlite'))).toBe(false);
});

test('checkins: false: decisions still apply, nothing about the instance is recorded', async () => {
  const fw = fleetFirmware(['quiet-a'], ['1.0.0', '1.1.0']);
  const s = await startTestServer({ config: fleetConfigFile(fw.root, '{ checkins: false, pins: [{ id: "q", stream: "quiet-a", version: "1.0.0" }] }') });
  servers.push(s);
  expect(await version(s, 'quiet-a', 'u-1')).toBe('1.0.0');
  await s.runtime.fleet?.flush();
  const view = (await (await api(s.url, 'GET', '/devices/quiet-a?instance=u-1')).json()) as { fleet: { checkin?: unknown; outcomes: unknown[]; offer: { pin: string } } };
  expect(view.fleet.offer.pin).toBe('q');
  expect(view.fleet.checkin).toBeUndefined();
  expect(view.fleet.outcomes).toEqual([]);
  expect(s.runtime.fleet?.health().written).toBe(0);
});

test('database URL: --database-url beats DATABASE_URL beats fleet.databaseUrl; default beside the cache', async () => {
  const fw = fleetFirmware(['u'], ['1.0.0']);
  const config = fleetConfigFile(fw.root, `{ databaseUrl: 'sqlite:///from/file.sqlite', refreshInterval: 0.5 }`);
  expect((await resolveSettings({ config })).fleet).toMatchObject({ databaseUrl: 'sqlite:///from/file.sqlite', refreshMs: 500 });
  const env = fromEnv({ DATABASE_URL: 'postgres://ota@db:5432/fleet' }, { config });
  expect((await resolveSettings(env)).fleet?.databaseUrl).toBe('postgres://ota@db:5432/fleet');
  const flag = fromEnv({ DATABASE_URL: 'postgres://ota@db:5432/fleet' }, { config, 'database-url': 'postgres://ota@other:5432/fleet' });
  expect((await resolveSettings(flag)).fleet?.databaseUrl).toBe('postgres://ota@other:5432/fleet');
  const cache = tempDir();
  expect((await resolveSettings({ 'firmware-dir': fw.root, 'cache-dir': cache })).fleet).toMatchObject({ databaseUrl: `sqlite://${cache}/fleet.sqlite`, refreshMs: 2000, checkins: true });
  const err = await resolveSettings({ 'firmware-dir': fw.root, 'database-url': 'mysql://x' }).then(() => '', (e: Error) => e.message);
  expect(err).toBe("--database-url: expected postgres://user@host:port/db or sqlite://FILE, got 'mysql://x'");
});
