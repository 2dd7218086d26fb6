/**
 * The staged-rollout suite, run against a store (the embedded SQLite file, or a PostgreSQL database):
 * over real sockets against a running OtaFlux, 300 instances of three streams (instance=, ?current=
 * and X-Firmware-Version clients) go through canary → 10 % → 50 % → 100 %, the expected set at each
 * step computed here from the bucket formula; a rollout pauses itself when its canaries roll back;
 * yank and pins; a restart keeps it all.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/tmp.ts';
import { scrapeMetrics } from '../support/metrics.ts';
import { ADMIN_TOKEN, api, download, expectedBucket, fleetConfigFile, fleetFirmware, fleetOf, pollAll, request, until, type SimInstance } from './fleet-sim.ts';

/** `databaseUrl` undefined: the default store (SQLite beside the cache). */
export function rolloutSuite(databaseUrl: () => Promise<string | undefined>): void {
const STREAMS = ['fleet-a', 'fleet-b', 'fleet-c'];
const fw = fleetFirmware(STREAMS, ['1.0.0']);
const fleet = fleetOf(STREAMS, 100);
const cacheDir = tempDir('otaflux-fleet-cache-');
const config = fleetConfigFile(fw.root, '{ refreshInterval: 0.2 }');
let server: TestServer;
let db: string | undefined;

const start = () => startTestServer({ config, flags: { 'cache-dir': cacheDir, 'refresh-interval': 1, ...(db ? { 'database-url': db } : {}) } });

beforeAll(async () => {
  db = await databaseUrl();
  server = await start();
});
afterAll(() => server?.close());

/** The instances the rollout includes at `percent`, by the bucket formula (canaries always). */
function expectedIncluded(salt: string, percent: number, canary: readonly string[]): Set<string> {
  return new Set(fleet.filter((i) => canary.includes(i.id) || expectedBucket(salt, i.id) < percent * 100).map((i) => i.id));
}

function offeredNew(offers: Map<string, string>, version: string): Set<string> {
  return new Set([...offers].filter(([, v]) => v === version).map(([id]) => id));
}

async function rollout(id: string): Promise<{ state: string; step: number; reason?: string; counts: Record<string, number> }> {
  const list = (await (await api(server.url, 'GET', '/rollouts')).json()) as { id: string; state: string; step: number; counts: Record<string, number> }[];
  return list.find((r) => r.id === id) as never;
}

const canary1 = fleet.filter((i) => i.kind === 'current').slice(0, 3).map((i) => i.id);

test('with no rollout, a new version goes to every instance at once (today\'s behaviour)', async () => {
  const offers = await pollAll(server.url, fleet);
  expect(offeredNew(offers, '1.0.0').size).toBe(fleet.length);
});

test('canary → 10 % → 50 % → 100 %: exactly the instances the bucket formula names', async () => {
  const created = await api(server.url, 'POST', '/rollouts', {
    id: 'r-110', streams: ['fleet-*'], version: '1.1.0', canary: canary1,
    steps: [{ percent: 10, soak: 3600 }, { percent: 50, soak: 3600 }, { percent: 100, soak: 3600 }],
    gates: { successPercent: 100, minSample: 3, failurePercent: 50 }, reason: 'first staged release',
  });
  expect(created.status).toBe(201);
  for (const s of STREAMS) fw.publish(s, '1.1.0');
  await Bun.sleep(1100); // the resolver's refresh interval: 1.1.0 becomes the newest verified release

  // Canary stage: only the canary list.
  let offers = await pollAll(server.url, fleet);
  // The rollout pinned the digest it first saw for each stream.
  const pinned = await until('digests pinned', async () => {
    const list = (await (await api(server.url, 'GET', '/rollouts')).json()) as { id: string; digests: Record<string, string> }[];
    const d = list.find((r) => r.id === 'r-110')?.digests ?? {};
    return Object.keys(d).length === STREAMS.length ? d : undefined;
  });
  expect(pinned['fleet-a']).toBe(new Bun.CryptoHasher('sha256').update(fw.bytes('fleet-a', '1.1.0')).digest('hex'));
  expect(offeredNew(offers, '1.1.0')).toEqual(new Set(canary1));
  expect(offeredNew(offers, '1.0.0').size).toBe(fleet.length - canary1.length);

  // The canaries download it, reboot and report the new version: the gate advances to 10 % by itself.
  for (const id of canary1) {
    const inst = fleet.find((i) => i.id === id) as SimInstance;
    expect(await download(server.url, inst)).toBe('1.1.0');
    await until(`${id}'s download recorded`, async () => {
      const r = await (await api(server.url, 'GET', `/devices/${inst.stream}?instance=${encodeURIComponent(id)}`)).json() as { fleet: { outcomes: { version: string; state: string }[] } };
      return r.fleet.outcomes.some((o) => o.version === '1.1.0' && o.state === 'downloaded');
    });
    inst.running = '1.1.0';
    inst.bootId = `${inst.bootId}-1`;
  }
  await pollAll(server.url, fleet.filter((i) => canary1.includes(i.id)));
  const step0 = await until('the gate to advance r-110 to step 0', async () => {
    const r = await rollout('r-110');
    return r.step === 0 ? r : undefined;
  });
  expect(step0.state).toBe('running');
  expect(step0.counts.verified).toBe(3);

  offers = await pollAll(server.url, fleet);
  const at10 = expectedIncluded('r-110', 10, canary1);
  expect(offeredNew(offers, '1.1.0')).toEqual(at10);
  expect(at10.size).toBeGreaterThan(canary1.length + 10); // about 30 of 300, plus canaries

  expect((await api(server.url, 'POST', '/rollouts/r-110/advance', { reason: 'soak looked fine' })).status).toBe(200);
  offers = await pollAll(server.url, fleet);
  const at50 = expectedIncluded('r-110', 50, canary1);
  expect(offeredNew(offers, '1.1.0')).toEqual(at50);
  for (const id of at10) expect(at50.has(id)).toBe(true); // raising the percentage only adds instances

  expect((await api(server.url, 'POST', '/rollouts/r-110/advance')).status).toBe(200);
  offers = await pollAll(server.url, fleet);
  expect(offeredNew(offers, '1.1.0').size).toBe(fleet.length);

  expect((await api(server.url, 'POST', '/rollouts/r-110/advance')).status).toBe(200);
  expect((await rollout('r-110')).state).toBe('done');
  for (const i of fleet) i.running = '1.1.0';
});

const canary2 = fleet.filter((i) => i.kind !== 'plain').slice(10, 16);

test('rollbacks above the threshold pause the rollout by itself; outside instances keep the last release', async () => {
  const created = await api(server.url, 'POST', '/rollouts', {
    id: 'r-120', streams: 'fleet-*', version: '1.2.0', canary: canary2.map((i) => i.id),
    steps: [{ percent: 50, soak: 3600 }], gates: { successPercent: 90, minSample: 5, failurePercent: 30 },
  });
  expect(created.status).toBe(201);
  for (const s of STREAMS) fw.publish(s, '1.2.0');
  await Bun.sleep(1100);

  let offers = await pollAll(server.url, fleet);
  expect(offeredNew(offers, '1.2.0')).toEqual(new Set(canary2.map((i) => i.id)));
  // Each canary downloads 1.2.0, reboots (new boot id) and comes back on 1.1.0: rolled back.
  for (const inst of canary2) {
    expect(await download(server.url, inst)).toBe('1.2.0');
    inst.bootId = `${inst.bootId}-rb`;
  }
  await Bun.sleep(300);
  await pollAll(server.url, canary2);
  const paused = await until('the gate to pause r-120', async () => {
    const r = await rollout('r-120');
    return r.state === 'paused' ? r : undefined;
  });
  expect(paused.reason).toContain('rolled back');
  expect(paused.counts.rolled_back).toBe(canary2.length);
  const m = await scrapeMetrics(server.ports.metrics as number);
  expect(m.get('otaflux_rollout_instances{rollout="r-120",outcome="rolled_back"}')).toBe(canary2.length);
  expect(m.get('otaflux_rollout_instances{rollout="r-120",outcome="exposed"}')).toBe(canary2.length);
  expect(m.get('otaflux_rollout_state{rollout="r-120",state="paused"}')).toBe(1);
  expect(m.get('otaflux_rollout_state{rollout="r-120",state="running"}')).toBe(0);
  expect(m.get('otaflux_rollout_instances{rollout="r-110",outcome="verified"}')).toBe(3);
  expect(m.get('otaflux_rollout_state{rollout="r-110",state="done"}')).toBe(1);
  expect(m.get('otaflux_fleet_store_up')).toBe(1);

  // Paused: the canaries stay included, nobody else is added.
  offers = await pollAll(server.url, fleet);
  expect(offeredNew(offers, '1.2.0')).toEqual(new Set(canary2.map((i) => i.id)));

  const audit = (await (await api(server.url, 'GET', '/audit')).json()) as { actor: string; action: string; target: string; reason?: string }[];
  expect(audit.find((a) => a.target === 'r-120' && a.action === 'rollout.pause')?.actor).toBe('gate');
  expect(audit.find((a) => a.target === 'r-110' && a.action === 'rollout.create')).toMatchObject({ actor: 'test-operator', reason: 'first staged release' });
});

test('a yanked release is never offered again: who got it is offered the last good one', async () => {
  const r = await api(server.url, 'POST', '/releases/fleet-a/1.2.0/yank', { reason: 'boot loop' });
  expect(r.status).toBe(201);
  expect((await api(server.url, 'POST', '/releases/fleet-a/1.2.0/yank')).status).toBe(409);
  const offers = await pollAll(server.url, fleet);
  for (const inst of canary2) expect(offers.get(inst.id)).toBe(inst.stream === 'fleet-a' ? '1.1.0' : '1.2.0');
  const yanked = canary2.find((i) => i.stream === 'fleet-a') as SimInstance;
  const { path, headers } = request(yanked, 'firmware');
  const fwr = await fetch(`${server.url}${path}`, { headers });
  expect(fwr.headers.get('x-firmware-version')).toBe('1.1.0');
  await fwr.arrayBuffer();
});

test('pins: an instance list and a whole stream held on a version; a pin beats the rollout', async () => {
  const held = fleet.filter((i) => i.stream === 'fleet-b').slice(0, 5);
  const p1 = await api(server.url, 'POST', '/pins', { id: 'hold-b', stream: 'fleet-b', instances: held.map((i) => i.id), version: '1.0.0', reason: 'field trial' });
  expect(p1.status).toBe(201);
  const p2 = await api(server.url, 'POST', '/pins', { id: 'hold-c', stream: 'fleet-c', version: '1.1.0' });
  expect(p2.status).toBe(201);
  const offers = await pollAll(server.url, fleet);
  for (const i of fleet) {
    const want = held.includes(i) ? '1.0.0' : i.stream === 'fleet-c' ? '1.1.0' : canary2.includes(i) && i.stream !== 'fleet-a' ? '1.2.0' : '1.1.0';
    expect(`${i.id} ${offers.get(i.id)}`).toBe(`${i.id} ${want}`);
  }
  const view = (await (await api(server.url, 'GET', `/devices/fleet-b?instance=${held[0]?.id}`)).json()) as { fleet: { offer: { pin?: string; reason: string; version: string } } };
  expect(view.fleet.offer).toMatchObject({ pin: 'hold-b', version: '1.0.0' });
  expect((await api(server.url, 'DELETE', '/pins/nope')).status).toBe(404);
});

test('the store is the one asked for', async () => {
  const h = (await (await api(server.url, 'GET', '/fleet')).json()) as { kind: string; store: string; ok: boolean };
  expect(h.ok).toBe(true);
  expect(h.kind).toBe(db ? 'postgres' : 'sqlite');
  if (!db) expect(h.store).toBe(`${cacheDir}/fleet.sqlite`);
});

test('a restart keeps rollouts, pins, yanks and outcomes: every instance is offered the same', async () => {
  const before = await pollAll(server.url, fleet);
  await server.close();
  server = await start();
  const after = await pollAll(server.url, fleet);
  expect(after).toEqual(before);
  const r = await rollout('r-120');
  expect(r).toMatchObject({ state: 'paused' });
  expect(r.counts.rolled_back).toBe(canary2.length);
  expect((await rollout('r-110')).counts.verified).toBe(3);
});

test('the operator API needs the admin token', async () => {
  expect((await fetch(`${server.url}/api/rollouts`)).status).toBe(401);
  expect((await fetch(`${server.url}/api/rollouts`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}x` } })).status).toBe(401);
  const bad = await api(server.url, 'POST', '/rollouts', { streams: 'fleet-*', version: 'one', steps: [] });
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { error: string }).error).toContain('version: expected a semver version');
});
}
