// Two OtaFlux processes on one PostgreSQL database (one given --database-url, the other DATABASE_URL),
// each with its own cache: a rollout created on one, advanced on the other, a yank and a pin, and at
// every stage both make the same decision for every instance; check-ins from both land in the database.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { SQL } from 'bun';
import { join } from 'node:path';
import { freePort } from '../support/ports.ts';
import { tempDir } from '../support/tmp.ts';
import { sharedPostgres } from '../support/postgres.ts';
import { api, download, expectedBucket, fleetConfigFile, fleetFirmware, fleetOf, pollAll, until, type SimInstance } from './fleet-sim.ts';

const MAIN = join(import.meta.dir, '../../src/main.ts');
const STREAMS = ['rep-a', 'rep-b'];
const fw = fleetFirmware(STREAMS, ['1.0.0']);
const fleet = fleetOf(STREAMS, 120);
const config = fleetConfigFile(fw.root, '{ refreshInterval: 0.2 }');
const children: { url: string; child: ReturnType<typeof Bun.spawn> }[] = [];
let db = '';

async function spawnOtaFlux(how: 'flag' | 'env'): Promise<{ url: string; child: ReturnType<typeof Bun.spawn> }> {
  const port = await freePort();
  const args = [process.execPath, MAIN, '--config', config, '--listen-addr', `127.0.0.1:${port}`, '--metrics-listen-addr', '127.0.0.1:0', '--cache-dir', tempDir(), '--refresh-interval', '1', '--log-level', 'error',
    // The operator API on the device port (the compatibility switch), no fixed operator port.
    '--admin-on-device-port', '--admin-listen-addr', '127.0.0.1:0'];
  if (how === 'flag') args.push('--database-url', db);
  const env: Record<string, string> = { ...(process.env as Record<string, string>) };
  delete env.DATABASE_URL;
  delete env.PGDATABASE;
  if (how === 'env') env.DATABASE_URL = db;
  const child = Bun.spawn(args, { env, stdout: 'ignore', stderr: 'inherit' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) break;
    await Bun.sleep(100);
  }
  const s = { url, child };
  children.push(s);
  return s;
}

beforeAll(async () => {
  db = await (await sharedPostgres()).createDatabase('fleet_replicas');
}, 120_000);
afterAll(async () => {
  for (const c of children) c.child.kill('SIGTERM');
  await Promise.all(children.map((c) => c.child.exited));
});

async function bothAgree(a: string, b: string): Promise<Map<string, string>> {
  // Each replica reloads the decision state every 0.2 s: give both time to see the last change.
  await Bun.sleep(600);
  const [fromA, fromB] = await Promise.all([pollAll(a, fleet), pollAll(b, fleet)]);
  expect(fromB).toEqual(fromA);
  return fromA;
}

test('two processes on one database decide the same for every instance at every stage', async () => {
  const [a, b] = await Promise.all([spawnOtaFlux('flag'), spawnOtaFlux('env')]);
  let offers = await bothAgree(a.url, b.url);
  expect([...offers.values()].every((v) => v === '1.0.0')).toBe(true);

  const canary = [fleet[1]?.id as string, fleet[200]?.id as string];
  const created = await api(a.url, 'POST', '/rollouts', { id: 'rep-110', streams: 'rep-*', version: '1.1.0', canary, steps: [{ percent: 25, soak: 3600 }, { percent: 100, soak: 3600 }], gates: { minSample: 1000 } });
  expect(created.status).toBe(201);
  for (const s of STREAMS) fw.publish(s, '1.1.0');
  await Bun.sleep(1100);

  offers = await bothAgree(a.url, b.url);
  expect(new Set([...offers].filter(([, v]) => v === '1.1.0').map(([id]) => id))).toEqual(new Set(canary));

  expect((await api(b.url, 'POST', '/rollouts/rep-110/advance')).status).toBe(200);
  offers = await bothAgree(a.url, b.url);
  const want = new Set(fleet.filter((i) => canary.includes(i.id) || expectedBucket('rep-110', i.id) < 2500).map((i) => i.id));
  expect(new Set([...offers].filter(([, v]) => v === '1.1.0').map(([id]) => id))).toEqual(want);

  expect((await api(a.url, 'POST', '/pins', { id: 'rep-pin', stream: 'rep-a', instances: [fleet[5]?.id, fleet[6]?.id], version: '1.0.0' })).status).toBe(201);
  expect((await api(b.url, 'POST', '/releases/rep-b/1.1.0/yank', { reason: 'bad sensor driver' })).status).toBe(201);
  offers = await bothAgree(a.url, b.url);
  expect(offers.get(fleet[5]?.id as string)).toBe('1.0.0');
  expect([...offers].filter(([id]) => id.startsWith('rep-b')).every(([, v]) => v === '1.0.0')).toBe(true);

  // An instance downloads from one process and reports its new version to the other: verified.
  const mover = fleet.find((i) => i.stream === 'rep-a' && i.kind === 'current' && offers.get(i.id) === '1.1.0') as SimInstance;
  expect(await download(a.url, mover)).toBe('1.1.0');
  await Bun.sleep(1500); // A writes the download; B picks it up at its next reload
  mover.running = '1.1.0';
  await pollAll(b.url, [mover]);
  const outcome = await until('the outcome to be verified', async () => {
    const v = (await (await api(a.url, 'GET', `/devices/rep-a?instance=${mover.id}`)).json()) as { fleet: { outcomes: { version: string; state: string }[] } };
    return v.fleet.outcomes.find((o) => o.version === '1.1.0' && o.state === 'verified');
  });
  expect(outcome.state).toBe('verified');

  // Both processes' check-ins are in the database (flushed within about a second).
  const sql = new SQL(db);
  try {
    await Bun.sleep(1500);
    const [row] = await sql`SELECT count(*) AS n FROM fleet_instances`;
    expect(Number(row.n)).toBe(fleet.length);
    const audit = await sql`SELECT action FROM fleet_audit ORDER BY at`;
    expect(audit.map((r: { action: string }) => r.action)).toEqual(['rollout.create', 'rollout.advance', 'pin.create', 'release.yank']);
  } finally {
    await sql.close();
  }
}, 120_000);
