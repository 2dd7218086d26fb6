/**
 * The dashboard's fleet page with 10 000 instances in the store (`bun bench/dashboard.ts`): the server
 * runs as a child process on a SQLite store seeded with 10 000 instances (4 streams, 15 000 outcome
 * rows); a signed-in client asks for the fleet page one request at a time and the wall time of each
 * whole answer (request sent → last byte read, loopback) is recorded. Four views: the first page,
 * a page deep in the list, a search (a substring over instance, stream, identity and address) and a
 * filter on the last outcome; and the Rollouts page, whose version distribution over time reads the
 * check-in history (10 000 first check-ins a day ago, 3 334 version changes since). Target: under
 * 200 ms. Prints the load average at the start and the end.
 */
import { loadavg } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchWorkspace, freePort, median } from './support.ts';
import { FleetStore, type InstanceRow, type OutcomeRow } from '../src/fleet/store.ts';

const INSTANCES = 10_000;
const REQUESTS = Number(process.env.REQUESTS ?? 40);
const TOKEN = 'bench-dashboard-admin-token';
const MAIN = join(import.meta.dir, '../src/main.ts');
const { work, children } = benchWorkspace('otaflux-bench-dashboard-');

const fw = join(work, 'fw');
mkdirSync(join(fw, 'gw-0'), { recursive: true });
writeFileSync(join(fw, 'gw-0', '1.0.0.bin'), Buffer.alloc(1024, 1));
const db = `sqlite://${join(work, 'fleet.sqlite')}`;

// Seed the store as check-ins would have written it.
const store = await FleetStore.open(db);
const now = Date.now();
const instances: InstanceRow[] = [];
const outcomes: OutcomeRow[] = [];
const states = ['verified', 'verified', 'verified', 'downloaded', 'failed', 'rolled_back', 'timed_out', 'offered'] as const;
for (let i = 0; i < INSTANCES; i++) {
  const stream = `gw-${i % 4}`;
  const instance = `mac:24:0a:c4:${((i >> 16) & 0xff).toString(16).padStart(2, '0')}:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
  const v = i % 3 === 0 ? '1.1.0' : '1.0.0';
  instances.push({
    instance, weak: 0, stream, route: i % 5 === 0 ? 'firmware' : 'version', reported_version: v, boot_id: `boot-${i}`, served_version: v, served_sha256: null,
    address: `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`, identity: i % 2 ? `cert:unit-${i}` : null, first_seen: now - 86_400_000, last_seen: now - i * 1000,
    downloaded_version: null, downloaded_at: null,
  });
  outcomes.push({ instance, stream, version: '1.0.0', rollout_id: null, state: 'verified', inferred: 0, boot_id: null, offered_at: now - 80_000_000, downloaded_at: now - 79_000_000, updated_at: now - 79_000_000 });
  if (i % 2 === 0) {
    outcomes.push({ instance, stream, version: '1.1.0', rollout_id: 'r-bench', state: states[i % states.length] as OutcomeRow['state'], inferred: 0, boot_id: null, offered_at: now - 3_600_000, downloaded_at: now - 3_500_000, updated_at: now - i * 500 });
  }
}
// A day ago every instance checked in on 1.0.0; a third have moved to 1.1.0 since (history rows).
await store.writeCheckins(instances.map((r) => ({ ...r, reported_version: '1.0.0', served_version: '1.0.0', last_seen: r.first_seen })), []);
await store.writeCheckins(instances, outcomes);
await store.close();

const port = freePort();
const admin = freePort();
const child = Bun.spawn([process.execPath, MAIN, '--firmware-dir', fw, '--listen-addr', `127.0.0.1:${port}`, '--metrics-listen-addr', 'false',
  '--admin-listen-addr', `127.0.0.1:${admin}`, '--admin-token', TOKEN, '--database-url', db, '--cache-dir', join(work, 'cache'), '--log-level', 'error'],
{ stdout: 'ignore', stderr: 'inherit' });
children.push(child);
const base = `http://127.0.0.1:${admin}`;
for (let i = 0; i < 200 && !(await fetch(`${base}/ui/login`).then((r) => r.ok, () => false)); i++) await Bun.sleep(50);
const login = await fetch(`${base}/ui/login`, { method: 'POST', redirect: 'manual', headers: { origin: base }, body: new URLSearchParams({ token: TOKEN }) });
const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;

const VIEWS: [string, string, string?][] = [
  ['first page (50 of 10 000)', '/ui/fleet'],
  ['page 150 of 200', '/ui/fleet?page=150'],
  ['search "c4:00:1" (substring)', '/ui/fleet?q=c4%3A00%3A1'],
  ['filter: last outcome failed, stream gw-0', '/ui/fleet?outcome=failed&stream=gw-0'],
  ['rollouts page, version history of 7 days', '/ui/rollouts', '10 000'],
];

console.log(`dashboard bench: ${INSTANCES} instances, ${REQUESTS} sequential requests per view; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
const rows: string[] = [];
for (const [name, path, matching] of VIEWS) {
  // Two requests to warm up (JIT, SQLite page cache), then the measured ones.
  for (let i = 0; i < 2; i++) await (await fetch(`${base}${path}`, { headers: { cookie } })).text();
  const times: number[] = [];
  let size = 0;
  let shown = '';
  for (let i = 0; i < REQUESTS; i++) {
    const t = performance.now();
    const r = await fetch(`${base}${path}`, { headers: { cookie } });
    const body = await r.text();
    times.push(performance.now() - t);
    if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
    size = body.length;
    shown = matching ?? /(\d+) instances?/.exec(body)?.[1] ?? '?';
  }
  times.sort((a, b) => a - b);
  const p95 = times[Math.floor(times.length * 0.95)] as number;
  rows.push(`| ${name} | ${shown} | ${(size / 1024).toFixed(0)} KiB | ${median(times).toFixed(1)} ms | ${p95.toFixed(1)} ms | ${(times.at(-1) as number).toFixed(1)} ms |`);
}
console.log('| view | matching | page size | median | p95 | max |\n|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
console.log(`load at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
child.kill();
await child.exited;
