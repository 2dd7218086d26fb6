// The version distribution over time, from check-ins written to a real store at known moments: the
// operator API's counts per version and moment, its parameters, the chart on the Rollouts page, and
// the folding of many versions into "other".
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { FleetStore, type InstanceRow } from '../../src/fleet/store.ts';
import { fleetVersionHistory, MAX_SERIES, OTHER, versionHistory, type VersionHistory } from '../../src/dashboard/version-history.ts';
import { sharedPostgres } from '../support/postgres.ts';
import { signIn } from './sign-in.ts';

const ADMIN = 'admin-token-version-history-1';
const DAY = 86_400_000;
let s: TestServer;
let base: string;

const checkin = (instance: string, version: string, firstSeen: number, at: number): InstanceRow => ({
  instance, weak: 0, stream: 'gw', route: 'version', reported_version: version, boot_id: null, served_version: null, served_sha256: null,
  address: '10.0.0.1', identity: null, first_seen: firstSeen, last_seen: at, downloaded_version: null, downloaded_at: null,
});

/** Writes the history the tests read, `now` being the test's present. */
async function writeHistory(store: FleetStore, now: number): Promise<void> {
  const ids = Array.from({ length: 10 }, (_, i) => `gw-${i}`);
  // Ten instances on 1.0.0 six days ago; six of them move to 2.0.0 3.5 days ago; four new ones
  // arrive on 2.0.0 1.5 days ago; one instance known from before the kept history (its first row in
  // the history is 2.5 days ago, on 3.0.0) counts as unknown until then.
  await store.writeCheckins(ids.map((id) => checkin(id, '1.0.0', now - 6 * DAY, now - 6 * DAY)), []);
  await store.writeCheckins(ids.slice(0, 6).map((id) => checkin(id, '2.0.0', now - 6 * DAY, now - 3.5 * DAY)), []);
  await store.writeCheckins(['gw-10', 'gw-11', 'gw-12', 'gw-13'].map((id) => checkin(id, '2.0.0', now - 1.5 * DAY, now - 1.5 * DAY)), []);
  await store.writeCheckins([checkin('gw-old', '3.0.0', now - 6 * DAY, now - 2.5 * DAY)], []);
  // A poll that changes nothing adds no history and changes no count.
  await store.writeCheckins(ids.slice(6).map((id) => checkin(id, '1.0.0', now - 6 * DAY, now - 1000)), []);
}

const EXPECTED = {
  '1.0.0': [10, 10, 10, 4, 4, 4, 4],
  '2.0.0': [0, 0, 0, 6, 6, 10, 10],
  '3.0.0': [0, 0, 0, 0, 1, 1, 1],
  '': [1, 1, 1, 1, 0, 0, 0],
};

beforeAll(async () => {
  const fw = firmwareDir({ 'esp32-a': { '1.0.0.bin': 32 } });
  const config = join(tempDir('otaflux-vh-'), 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir } from 'otaflux';
export default defineConfig({ server: { adminToken: ${JSON.stringify(ADMIN)} }, defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }) } });
`);
  s = await startTestServer({ config, flags: { 'admin-on-device-port': false } });
  base = s.adminUrl as string;
  const store = s.runtime.fleet?.store;
  if (!store) throw new Error('fleet control is off');
  await writeHistory(store, Date.now());
}, 60_000);
afterAll(() => s?.close());

const api = (query: string) => fetch(`${base}/api/versions/history${query}`, { headers: { authorization: `Bearer ${ADMIN}` } });

test('GET /api/versions/history: instances per version at evenly spaced moments since the first check-in', async () => {
  const r = await api('?days=7&points=7');
  expect(r.status).toBe(200);
  const h = (await r.json()) as VersionHistory;
  expect(h.times.length).toBe(7);
  // From the first check-in (six days before the test wrote it) to the moment of the request.
  expect(h.to - h.from).toBeGreaterThanOrEqual(6 * DAY);
  expect(h.to - h.from).toBeLessThan(6 * DAY + 60_000);
  expect(h.streams.map((st) => st.stream)).toEqual(['gw']);
  const series = Object.fromEntries((h.streams[0]?.versions ?? []).map((v) => [v.version, v.counts]));
  expect(series).toEqual(EXPECTED);
  // Ordered by the count now.
  expect(h.streams[0]?.versions.map((v) => v.version)).toEqual(['2.0.0', '1.0.0', '3.0.0', '']);
});

test('a shorter window starts later; out-of-range parameters are refused with what was expected; no token, no answer', async () => {
  const h = (await (await api('?days=1&points=2')).json()) as VersionHistory;
  expect(h.to - h.from).toBe(DAY);
  expect(Object.fromEntries((h.streams[0]?.versions ?? []).map((v) => [v.version, v.counts]))).toEqual({ '2.0.0': [10, 10], '1.0.0': [4, 4], '3.0.0': [1, 1] });
  const bad = await api('?days=31');
  expect(bad.status).toBe(400);
  expect(await bad.json()).toEqual({ error: 'days must be a whole number from 1 to 30' });
  expect(await (await api('?points=1')).json()).toEqual({ error: 'points must be a whole number from 2 to 500' });
  expect((await fetch(`${base}/api/versions/history`)).status).toBe(401);
});

test('the Rollouts page draws it: one labelled area per version, a legend, the numbers in a table; the window can be chosen', async () => {
  const admin = await signIn(base, ADMIN);
  const page = await (await fetch(`${base}/ui/rollouts`, { headers: { cookie: admin.cookie } })).text();
  const section = page.slice(page.indexOf('id="dist-time"'));
  expect([...section.matchAll(/<path class="area s\d" data-version="([^"]*)"/g)].map((m) => m[1])).toEqual(['2.0.0', '1.0.0', '3.0.0', '']);
  expect(section).toContain('role="img" aria-label="Versions of gw over time. From ');
  expect(section).toContain('Now: 2.0.0 10, 1.0.0 4, 3.0.0 1.');
  expect(section).toContain('<li><span class="swatch s1" aria-hidden="true"></span>1.0.0</li>');
  expect(section).toContain('<tr><td>1.0.0</td><td>10</td><td>10</td><td>4</td></tr>');
  expect(section).toContain('<a href="/ui/rollouts?days=7#dist-time" aria-current="true">last 7 days</a>');
  const day = await (await fetch(`${base}/ui/rollouts?days=1`, { headers: { cookie: admin.cookie } })).text();
  expect(day).toContain('<a href="/ui/rollouts?days=1#dist-time" aria-current="true">last day</a>');
  expect(day).toContain('At the start: 2.0.0 10, 1.0.0 4, 3.0.0 1.');
  expect(day).not.toContain('data-version=""');
});

test(`beyond ${MAX_SERIES} versions the ones with fewest instances now are summed as "${OTHER}"`, () => {
  const instances = Array.from({ length: 10 }, (_, i) => ({ instance: `i${i}`, at: 0, first_seen: 0, stream: 's', version: `1.${i}.0` }));
  // Version 1.i.0 on i+1 instances' worth of weight: give instance i (i+1) twins.
  const many = instances.flatMap((r, i) => Array.from({ length: i + 1 }, (_, k) => ({ ...r, instance: `${r.instance}-${k}` })));
  const h = versionHistory({ rows: [], instances: many }, 0, 100, 3);
  const versions = h.streams[0]?.versions ?? [];
  expect(versions.map((v) => v.version)).toEqual(['1.9.0', '1.8.0', '1.7.0', '1.6.0', '1.5.0', '1.4.0', OTHER]);
  expect(versions.at(-1)?.counts).toEqual([1 + 2 + 3 + 4, 10, 10]);
  expect(versions.reduce((a, v) => a + (v.counts[2] ?? 0), 0)).toBe(55);
});

test('PostgreSQL gives the same counts as SQLite', async () => {
  const pg = await sharedPostgres();
  const store = await FleetStore.open(await pg.createDatabase('version_history'));
  try {
    const now = Date.now();
    await writeHistory(store, now);
    const h = await fleetVersionHistory(store, 7, 7, now + 1);
    expect(Object.fromEntries((h.streams[0]?.versions ?? []).map((v) => [v.version, v.counts]))).toEqual(EXPECTED);
  } finally {
    await store.close();
  }
}, 60_000);
