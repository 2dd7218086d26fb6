// The fleet store goes away mid-run (a clean PostgreSQL stop, then a hung server): devices keep being
// served what the last known rollout state allows, operator changes are refused with one line (503),
// and the check-ins buffered meanwhile are written once the database is back.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { SQL } from 'bun';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { scrapeMetrics } from '../support/metrics.ts';
import { api, fleetConfigFile, fleetFirmware, fleetOf, pollAll, until } from './fleet-sim.ts';

const STREAMS = ['down-a', 'down-b'];
const fw = fleetFirmware(STREAMS, ['1.0.0', '1.1.0']);
const fleet = fleetOf(STREAMS, 60);
let pg: TestPostgres;
let db: string;
let server: TestServer;

beforeAll(async () => {
  pg = await startPostgres();
  db = await pg.createDatabase('fleet_down');
  // The database named in the config file (fleet.databaseUrl).
  server = await startTestServer({ config: fleetConfigFile(fw.root, `{ refreshInterval: 0.2, databaseUrl: ${JSON.stringify(db)} }`) });
}, 120_000);
afterAll(async () => {
  await server?.close();
  await pg?.close();
}, 60_000);

async function health(): Promise<{ ok: boolean; pending: number; written: number }> {
  return (await (await api(server.url, 'GET', '/fleet')).json()) as never;
}

test('devices are served from the last known state while the database is down; check-ins are written when it is back', async () => {
  expect((await api(server.url, 'POST', '/rollouts', { id: 'down-110', streams: 'down-*', version: '1.1.0', steps: [{ percent: 40, soak: 3600 }], gates: { minSample: 1000 } })).status).toBe(201);
  const before = await pollAll(server.url, fleet);
  const newer = [...before.values()].filter((v) => v === '1.1.0').length;
  expect(newer).toBeGreaterThan(10);
  expect(newer).toBeLessThan(fleet.length - 10);
  await until('check-ins flushed', async () => (await health()).pending === 0);

  await pg.stop();
  // Every instance now reports a new version: these check-ins can only queue.
  for (const i of fleet) i.running = '1.0.1';
  const during = await pollAll(server.url, fleet);
  expect(during).toEqual(before);
  await until('the store to be seen down', async () => !(await health()).ok);
  expect((await health()).pending).toBeGreaterThanOrEqual(fleet.length);
  const m = await scrapeMetrics(server.ports.metrics as number);
  expect(m.get('otaflux_fleet_store_up')).toBe(0);
  expect(m.get('otaflux_fleet_checkins_pending')).toBeGreaterThanOrEqual(fleet.length);
  expect(m.get('otaflux_fleet_checkins_dropped_total')).toBe(0);
  const refused = await api(server.url, 'POST', '/rollouts/down-110/advance');
  expect(refused.status).toBe(503);
  expect(((await refused.json()) as { error: string }).error).toStartWith('fleet store unreachable');

  await pg.start();
  await until('the queue to drain', async () => {
    const h = await health();
    return h.ok && h.pending === 0;
  });
  const sql = new SQL(db);
  try {
    // Plain clients report nothing; the other two kinds reported 1.0.1 while the database was down.
    // The queue shows empty as soon as a flush takes its rows, before that flush commits: wait for them.
    const reporting = fleet.filter((i) => i.kind !== 'plain').length;
    const written = async () => {
      const rows = await sql`SELECT count(*) AS n FROM fleet_instances WHERE route = 'version' AND reported_version = '1.0.1'`;
      return Number((rows[0] as { n: unknown }).n);
    };
    await until('the reported versions to be written', async () => (await written()) >= reporting || undefined, 10_000).catch(() => undefined);
    expect(await written()).toBe(reporting);
  } finally {
    await sql.close();
  }
  expect((await api(server.url, 'POST', '/rollouts/down-110/advance')).status).toBe(200);
  expect((await scrapeMetrics(server.ports.metrics as number)).get('otaflux_fleet_store_up')).toBe(1);
}, 120_000);

test('a hung database (no answer at all) does not hold a poll', async () => {
  const before = await pollAll(server.url, fleet);
  await pg.freeze();
  try {
    // Were a poll to wait for the store, it would hang here until the thaw below (and the test time out).
    const during = await pollAll(server.url, fleet);
    expect(during).toEqual(before);
  } finally {
    await pg.thaw();
  }
  await until('the store to answer again', async () => (await health()).ok && (await health()).pending === 0, 30_000);
}, 120_000);
