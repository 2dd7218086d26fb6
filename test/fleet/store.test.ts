// The fleet store itself: migrations applied once and recorded, a database newer than the binary
// refused with one line (also by the otaflux command), the audit record written with each change,
// and the bounded check-in queue.
import { expect, test } from 'bun:test';
import { SQL } from 'bun';
import { join } from 'node:path';
import { FleetStore } from '../../src/fleet/store.ts';
import { LATEST_SCHEMA, MIGRATIONS } from '../../src/fleet/migrations.ts';
import { CheckinBuffer } from '../../src/fleet/checkin-buffer.ts';
import { rolloutFromSpec } from '../../src/fleet/spec.ts';
import type { InstanceRow } from '../../src/fleet/store.ts';
import { tempDir } from '../support/tmp.ts';
import { fleetFirmware } from './fleet-sim.ts';

const MAIN = join(import.meta.dir, '../../src/main.ts');

test('each migration runs once and is recorded in schema_migrations; an older database is brought forward', async () => {
  const all = MIGRATIONS.map((m) => m.version);
  const url = `sqlite://${tempDir()}/fleet.sqlite`;
  const a = await FleetStore.open(url);
  expect(await a.schemaVersions()).toEqual(all);
  await a.close();
  const b = await FleetStore.open(url);
  expect(await b.migrate()).toEqual([]);
  expect(await b.schemaVersions()).toEqual(all);
  await b.close();

  // A database an older OtaFlux made (migration 1 only) gets the later ones, and keeps its rows.
  const file = `${tempDir()}/old.sqlite`;
  const old = new SQL(`sqlite://${file}`);
  await old`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`;
  for (const st of MIGRATIONS[0]?.statements ?? []) await old.unsafe(st);
  await old`INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, 'old', 0)`;
  await old`INSERT INTO fleet_pins (id, stream, instances, version, reason, created_at) VALUES ('kept', 's', '[]', '1.0.0', NULL, 1)`;
  await old.close();
  const c = await FleetStore.open(`sqlite://${file}`);
  expect(await c.schemaVersions()).toEqual(all);
  expect((await c.loadDecisionState()).pins.map((p) => p.id)).toEqual(['kept']);
  await c.close();
});

test('a database newer than this binary: the server refuses to start with one line', async () => {
  const file = `${tempDir()}/fleet.sqlite`;
  const s = await FleetStore.open(`sqlite://${file}`);
  await s.close();
  const sql = new SQL(`sqlite://${file}`);
  await sql`INSERT INTO schema_migrations (version, name, applied_at) VALUES (${LATEST_SCHEMA + 1}, 'from the future', 0)`;
  await sql.close();
  const fw = fleetFirmware(['x'], ['1.0.0']);
  const p = Bun.spawn([process.execPath, MAIN, '--firmware-dir', fw.root, '--cache-dir', tempDir(), '--database-url', `sqlite://${file}`, '--listen-addr', '127.0.0.1:0', '--metrics-listen-addr', '127.0.0.1:0', '--log-level', 'off'], { stdout: 'pipe', stderr: 'pipe' });
  const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  expect(code).toBe(1);
  expect(err).toBe(`otaflux: fleet database ${file} has schema version ${LATEST_SCHEMA + 1}, this OtaFlux knows up to ${LATEST_SCHEMA}: run a newer OtaFlux or point --database-url at another database\n`);
}, 30_000);

test('a change and its audit record are one transaction; a change that changes nothing leaves no record', async () => {
  const store = await FleetStore.open(`sqlite://${tempDir()}/fleet.sqlite`);
  const r = rolloutFromSpec({ id: 'r1', streams: 's', version: '1.0.0', steps: [{ percent: 10 }] }, 1, () => 'x');
  expect(await store.createRollout(r, { who: 'alice', why: 'first' })).toBe(true);
  expect(await store.createRollout(r, { who: 'bob' })).toBe(false);
  expect(await store.transition('r1', { state: 'running', step: 0 }, { state: 'paused', step: 0 }, { who: 'alice' }, 'rollout.pause')).toBe(true);
  // Compare and set: a second replica acting on the same old view changes nothing.
  expect(await store.transition('r1', { state: 'running', step: 0 }, { state: 'paused', step: 0 }, { who: 'gate' }, 'rollout.pause')).toBe(false);
  const audit = await store.audit();
  expect(audit.map((a) => `${a.actor} ${a.action} ${a.target}`)).toEqual(['alice rollout.pause r1', 'alice rollout.create r1']);
  expect(audit[1]?.reason).toBe('first');
  await store.close();
});

test('the check-in queue keeps the newest row per instance and drops the oldest beyond its bound, counted', () => {
  const row = (instance: string, v: string | null, t: number): InstanceRow => ({
    instance, weak: 0, stream: 's', route: 'version', reported_version: v, boot_id: null, served_version: '1', served_sha256: null,
    address: 'a', identity: null, first_seen: t, last_seen: t, downloaded_version: null, downloaded_at: null,
  });
  const b = new CheckinBuffer(3);
  b.instance(row('a', '1.0.0', 1));
  b.instance(row('a', null, 2)); // merged: keeps the reported version it lacks
  for (const i of ['b', 'c', 'd', 'e']) b.instance(row(i, null, 3));
  expect(b.dropped).toBe(2);
  const batch = b.take();
  expect(batch.instances.map((r) => r.instance)).toEqual(['c', 'd', 'e']);
  b.instance(row('e', '2.0.0', 9));
  batch.restore(); // a failed write puts rows back under newer ones
  const again = b.take().instances;
  expect(again.find((r) => r.instance === 'e')).toMatchObject({ reported_version: '2.0.0', first_seen: 3, last_seen: 9 });
  expect(again.map((r) => r.instance).sort()).toEqual(['c', 'd', 'e']);
});

test('a database that cannot be reached at start: one line, exit 1 (no last known state to decide from)', async () => {
  const fw = fleetFirmware(['x'], ['1.0.0']);
  const p = Bun.spawn([process.execPath, MAIN, '--firmware-dir', fw.root, '--cache-dir', tempDir(), '--database-url', 'postgres://otaflux:secret-pw@127.0.0.1:1/fleet', '--listen-addr', '127.0.0.1:0', '--metrics-listen-addr', '127.0.0.1:0', '--log-level', 'off'], { stdout: 'pipe', stderr: 'pipe' });
  const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  expect(code).toBe(1);
  expect(err).toStartWith('otaflux: fleet database postgres://otaflux:***@127.0.0.1:1/fleet cannot be opened (');
  expect(err).toEndWith('): start it, or fix --database-url / DATABASE_URL / fleet.databaseUrl\n');
  expect(err.split('\n')).toHaveLength(2);
  expect(err).not.toContain('secret-pw');
}, 30_000);
