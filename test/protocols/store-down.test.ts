/**
 * The fleet database (a real PostgreSQL) stops while hawkBit DDI controllers and Arduino HTTPUpdate
 * devices poll: each keeps being offered what the last known rollout state gave it (the same release,
 * the same DDI action id), a controller first seen meanwhile is served too, and the check-ins and the
 * DDI result sent meanwhile are written once the database is back. The native API's counterpart is
 * test/fleet/store-down.test.ts.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import { SQL } from 'bun';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { api, fleetConfigFile, fleetFirmware, until } from '../fleet/fleet-sim.ts';

setDefaultTimeout(120_000);

const STREAM = 'pd-board';
const fw = fleetFirmware([STREAM], ['1.0.0', '1.1.0']);
const CONTROLLERS = Array.from({ length: 24 }, (_, i) => `ctl-${i}`);
const MACS = Array.from({ length: 24 }, (_, i) => `24:0A:C4:00:01:${i.toString(16).padStart(2, '0').toUpperCase()}`);
let pg: TestPostgres;
let db: string;
let server: TestServer;

beforeAll(async () => {
  pg = await startPostgres();
  db = await pg.createDatabase('protocols_down');
  const protocols = `protocols: { ddi: { streams: { 'ctl-*': '${STREAM}' } }, arduino: { streams: { '24:0A:C4:*': '${STREAM}' } } },`;
  server = await startTestServer({ config: fleetConfigFile(fw.root, `{ refreshInterval: 0.2, databaseUrl: ${JSON.stringify(db)} }`, protocols, "extract: 'raw', ") });
}, 120_000);
afterAll(async () => {
  await server?.close();
  await pg?.close();
}, 60_000);

async function health(): Promise<{ ok: boolean; pending: number }> {
  return (await (await api(server.url, 'GET', '/fleet')).json()) as never;
}

/** A DDI controller's poll followed to its deployment: `<version> <action id>`, or what it got instead. */
async function ddiOffer(controller: string): Promise<string> {
  const poll = await fetch(`${server.url}/DEFAULT/controller/v1/${controller}`);
  if (poll.status !== 200) return `status ${poll.status}`;
  const link = ((await poll.json()) as { _links: Record<string, { href: string }> })._links.deploymentBase;
  if (!link) return 'no deployment';
  const d = await fetch(link.href);
  if (d.status !== 200) return `deployment status ${d.status}`;
  const body = (await d.json()) as { id: string; deployment: { chunks: { version: string }[] } };
  return `${body.deployment.chunks[0]!.version} ${body.id}`;
}

/** An ESP32 HTTPUpdate poll running `running`: the version offered (`x-version` of a 200; a 304 is the one it runs). */
async function arduinoOffer(mac: string, running: string): Promise<string> {
  const r = await fetch(`${server.url}/firmware`, { headers: { 'user-agent': 'ESP32-http-Update', 'x-esp32-sta-mac': mac, 'x-esp32-version': running } });
  const bytes = await r.arrayBuffer();
  if (r.status === 304) return running;
  if (r.status !== 200 || bytes.byteLength === 0) return `status ${r.status}`;
  return r.headers.get('x-version') as string;
}

const offers = async (running: string) => ({
  ddi: await Promise.all(CONTROLLERS.map(ddiOffer)),
  arduino: await Promise.all(MACS.map((m) => arduinoOffer(m, running))),
});

test('DDI and Arduino devices are served from the last known state while PostgreSQL is down; their check-ins and results are written when it is back', async () => {
  expect((await api(server.url, 'POST', '/rollouts', { id: 'pd-110', streams: STREAM, version: '1.1.0', steps: [{ percent: 50, soak: 3600 }], gates: { minSample: 1000 } })).status).toBe(201);
  await Bun.sleep(500);
  const before = await offers('0.9.0');
  // The rollout splits both groups: the test would not see a lost rollout state otherwise.
  for (const group of [before.ddi, before.arduino]) {
    expect(group.filter((v) => v.startsWith('1.1.0')).length).toBeGreaterThan(2);
    expect(group.filter((v) => v.startsWith('1.0.0')).length).toBeGreaterThan(2);
  }
  await until('check-ins flushed', async () => (await health()).pending === 0);

  await pg.stop();
  // The Arduino devices now report 1.0.0; one controller reports success; two controllers are new.
  const during = await offers('1.0.0');
  expect(during.ddi).toEqual(before.ddi);
  expect(during.arduino).toEqual(before.arduino);
  const [version, action] = before.ddi[0]!.split(' ');
  const feedback = await fetch(`${server.url}/DEFAULT/controller/v1/ctl-0/deploymentBase/${action}/feedback`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: action, status: { execution: 'closed', result: { finished: 'success' } } }),
  });
  expect(feedback.status).toBe(200);
  for (const c of ['ctl-new-1', 'ctl-new-2']) expect(await ddiOffer(c)).toMatch(/^1\.[01]\.0 \d+$/);
  await until('the store to be seen down', async () => !(await health()).ok);
  expect((await health()).pending).toBeGreaterThanOrEqual(MACS.length);

  await pg.start();
  await until('the queue to drain', async () => {
    const h = await health();
    return h.ok && h.pending === 0;
  }, 60_000);
  const sql = new SQL(db);
  try {
    const macs = await sql`SELECT instance, reported_version, route FROM fleet_instances WHERE instance LIKE 'mac:%'`;
    expect(macs.length).toBe(MACS.length);
    expect(macs.every((r: { reported_version: string }) => r.reported_version === '1.0.0')).toBe(true);
    const fresh = await sql`SELECT instance FROM fleet_instances WHERE instance IN ('ddi:ctl-new-1', 'ddi:ctl-new-2') ORDER BY instance`;
    expect(fresh.map((r: { instance: string }) => r.instance)).toEqual(['ddi:ctl-new-1', 'ddi:ctl-new-2']);
    const outcome = await sql`SELECT state FROM fleet_outcomes WHERE instance = 'ddi:ctl-0' AND stream = ${STREAM} AND version = ${version as string}`;
    expect(outcome.map((r: { state: string }) => r.state)).toEqual(['verified']);
  } finally {
    await sql.close();
  }
  // The closed deployment stays closed for ctl-0; the others are still offered theirs.
  expect(await ddiOffer('ctl-0')).toBe('no deployment');
  expect(await ddiOffer('ctl-1')).toBe(before.ddi[1] as string);
});
