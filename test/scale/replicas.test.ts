/**
 * Three OtaFlux processes (`bun src/main.ts serve`) on one real PostgreSQL, one real docker-registry
 * and one real Mosquitto, each with a cache of its own, behave as one server:
 * - one leader (advisory lock); every replica makes the same rollout decision for every instance,
 *   and the rollout gates fire in the leader only;
 * - a Harbor webhook on any replica: every replica serves the new release after one registry lookup
 *   each, and the broker receives exactly one notice per change;
 * - check-ins through every replica are in the store within the flush bound (1 s);
 * - the leader SIGKILLed: a follower leads within the failover bound, and the next change is still
 *   announced exactly once;
 * - the leader frozen (a vanished host): the other leads once the store ends the idle session and
 *   announces the change made while no process led; the frozen one steps down when it runs again;
 * - the leader stopped with SIGTERM finishes a download in flight byte-exact, flushes its check-ins
 *   and hands over the lead.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { SQL } from 'bun';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../support/ports.ts';
import { tempDir } from '../support/tmp.ts';
import { sharedPostgres } from '../support/postgres.ts';
import { pushArtifact, startRegistry, type TestRegistry } from '../support/registry.ts';
import { startBroker, type TestBroker } from '../notify/mosquitto.ts';
import { expectedBucket, fleetOf, pollAll, request, type SimInstance } from '../fleet/fleet-sim.ts';
import { until } from '../support/until.ts';
import { harborPush, registryRequests, startOtaFlux, type LogLine, type OtaFluxProcess } from './otaflux-process.ts';
import { accepts, holdDownload } from './slow-download.ts';

const SECRET = 'replicas-webhook-secret';
const ADMIN_TOKEN = 'replicas-test-admin-token-7c2d';
/** Leadership and the release board run every fleet round: 0.5 s here (default 2 s). */
const ROUND_S = 0.5;
/** Documented bound: a follower leads within one round of the leader's session ending (margin for a busy machine). */
const FAILOVER_BOUND_MS = 2 * ROUND_S * 1000 + 3000;
/** Documented bound for a leader that vanished without closing its connection: the store ends its idle session after 10 s (at least 5 rounds). */
const VANISHED_BOUND_MS = 10_000 + 2 * ROUND_S * 1000 + 3000;
/** Documented bound: check-ins are flushed to the store every second. */
const FLUSH_MS = 1000;

const NOTICE = 'scale-a'; // webhooks, notices, failover
const ROLLOUT = 'scale-b'; // rollout decisions and gates
const BIG = 'scale-big'; // the download held through SIGTERM
const BIG_FIRMWARE = randomBytes(20 * 1024 * 1024);

let registry: TestRegistry;
let broker: TestBroker;
let db = '';
let sql: SQL;
const replicas: { p: OtaFluxProcess; port: number; url: string }[] = [];

const firmware = (data: Uint8Array) => [{ name: 'firmware.bin', data, mediaType: 'application/octet-stream' }];
const push = (stream: string, version: string, data: Uint8Array = randomBytes(4000)) => pushArtifact(registry, `fw/${stream}`, version, firmware(data));
const notices = (stream: string) => broker.publishes(`fw/${stream}`);
const LEADS = 'this process leads: rollout gates and MQTT notices run here';
const alive = () => replicas.filter((r) => r.p.proc.exitCode === null && r.p.proc.signalCode === null);

/** Whether the replica's latest leadership line says it leads. */
function leadsNow(r: (typeof replicas)[number]): boolean {
  return r.p.lines.filter((l) => l.msg === LEADS || l.msg === 'this process no longer leads').at(-1)?.msg === LEADS;
}

/** The live replicas that lead in their own view. */
function leaders(): typeof replicas {
  return alive().filter(leadsNow);
}


/** A Harbor push webhook for `stream`, sent to one replica. */
function webhook(url: string, stream: string): Promise<number> {
  return harborPush(url, SECRET, stream);
}

async function version(url: string, stream: string): Promise<string> {
  const r = await fetch(`${url}/version?device=${stream}`);
  return r.status === 200 ? ((await r.text()).split('\n')[0] as string) : `status ${r.status}`;
}

function api(url: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${url}/api${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', 'x-operator': 'replicas-test' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** Instance ids the store has check-ins of, among `ids`. */
async function stored(ids: string[]): Promise<Set<string>> {
  const rows: { instance: string }[] = await sql`SELECT instance FROM fleet_instances WHERE instance IN ${sql(ids)}`;
  return new Set(rows.map((r) => r.instance));
}

beforeAll(async () => {
  [registry, broker, db] = await Promise.all([startRegistry(), startBroker(), sharedPostgres().then((pg) => pg.createDatabase('scale_replicas'))]);
  sql = new SQL(db, { max: 2 });
  await push(NOTICE, '1.0.0');
  await push(ROLLOUT, '1.0.0');
  await push(BIG, '1.0.0', BIG_FIRMWARE);
  const config = join(tempDir('otaflux-replicas-config-'), 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig } from 'otaflux';
export default defineConfig({ server: { adminToken: ${JSON.stringify(ADMIN_TOKEN)} }, fleet: { refreshInterval: ${ROUND_S} } });
`);
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const p = startOtaFlux([
      '--config', config, '--database-url', db, '--listen-addr', `127.0.0.1:${port}`, '--metrics-listen-addr', '127.0.0.1:0',
      '--admin-on-device-port', '--admin-listen-addr', '127.0.0.1:0', '--log-level', 'info',
      '--registry-url', registry.host, '--registry-insecure', '--repository-prefix', 'fw',
      '--cache-dir', tempDir('otaflux-replica-cache-'), '--refresh-interval', '3600',
      '--mqtt-url', broker.url, '--mqtt-topic', 'fw', '--webhook-secret', SECRET, '--drain-timeout', '30',
    ]);
    replicas.push({ p, port, url: `http://127.0.0.1:${port}` });
  }
  for (const r of replicas) await r.p.waitFor((l) => l.msg === 'device API listening', 45_000, 'a replica listening');
}, 90_000);

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.p.stop('SIGKILL')));
  await sql?.close();
  await broker?.stop();
  await registry?.close();
});

test('one leader; every replica serves the first release; one MQTT notice for it', async () => {
  await until('one leader', () => leaders().length === 1);
  expect(leaders().length).toBe(1);
  for (const r of replicas) expect(await version(r.url, NOTICE)).toBe('1.0.0');
  await until('the first notice', () => notices(NOTICE) >= 1);
  // Every replica found 1.0.0 on its own; a few rounds later there is still one notice.
  await Bun.sleep(4 * ROUND_S * 1000);
  expect(notices(NOTICE)).toBe(1);
  expect(leaders().length).toBe(1);
});

test('every replica decides the same for every instance; the gates fire in the leader only', async () => {
  const fleet = fleetOf([ROLLOUT], 90);
  const canary = fleet[1] as SimInstance; // kind 'current': it reports what it runs
  const offers = async () => Promise.all(replicas.map((r) => pollAll(r.url, fleet)));
  for (const o of await offers()) expect([...o.values()].every((v) => v === '1.0.0')).toBe(true);

  const created = await api(replicas[0]!.url, 'POST', '/rollouts', {
    id: 'scale-110', streams: ROLLOUT, version: '1.1.0', canary: [canary.id], steps: [{ percent: 25, soak: 0 }, { percent: 100, soak: 0 }], gates: { minSample: 1 },
  });
  expect(created.status).toBe(201);
  await push(ROLLOUT, '1.1.0');
  expect(await webhook(replicas[1]!.url, ROLLOUT)).toBe(202);
  await until('every replica to offer 1.1.0 to the canary', async () => {
    for (const r of replicas) if ((await pollAll(r.url, [canary])).get(canary.id) !== '1.1.0') return false;
    return true;
  });

  // The canary stage, then 25 % (an operator step on another replica): the same answers everywhere.
  let [a, b, c] = await offers();
  expect(b).toEqual(a as Map<string, string>);
  expect(c).toEqual(a as Map<string, string>);
  expect([...(a as Map<string, string>)].filter(([, v]) => v === '1.1.0').map(([id]) => id)).toEqual([canary.id]);
  expect((await api(replicas[2]!.url, 'POST', '/rollouts/scale-110/advance')).status).toBe(200);
  await Bun.sleep(3 * ROUND_S * 1000);
  [a, b, c] = await offers();
  expect(b).toEqual(a as Map<string, string>);
  expect(c).toEqual(a as Map<string, string>);
  const want = new Set(fleet.filter((i) => i.id === canary.id || expectedBucket('scale-110', i.id) < 2500).map((i) => i.id));
  expect(new Set([...(a as Map<string, string>)].filter(([, v]) => v === '1.1.0').map(([id]) => id))).toEqual(want);
  // Held: the release is under a staged rollout.
  expect(notices(ROLLOUT)).toBe(1);

  // The canary downloads from one replica and reports the new version to another: verified, so
  // the gates advance the rollout to 100 % and done, each step once, logged by the leader alone.
  const { path, headers } = request(canary, 'firmware');
  const dl = await fetch(`${replicas[0]!.url}${path}`, { headers });
  expect(dl.status).toBe(200);
  await dl.arrayBuffer();
  await Bun.sleep(1500);
  canary.running = '1.1.0';
  await pollAll(replicas[1]!.url, [canary]);
  const done = await until('the rollout done by its gates', async () => {
    const all = (await (await api(replicas[2]!.url, 'GET', '/rollouts')).json()) as { id: string; state: string }[];
    return all.find((r) => r.id === 'scale-110')?.state === 'done' ? true : undefined;
  }, 30_000);
  expect(done).toBe(true);
  const gateLines = (r: (typeof replicas)[number]) => r.p.count((l: LogLine) => l.msg === 'rollout advanced by its gate');
  const [leader] = leaders();
  expect(gateLines(leader!)).toBeGreaterThanOrEqual(1);
  for (const r of replicas) if (r !== leader) expect(gateLines(r)).toBe(0);
  const audit: { action: string; actor: string }[] = await sql`SELECT action, actor FROM fleet_audit WHERE target = 'scale-110' ORDER BY at`;
  expect(audit.filter((x) => x.actor.includes('gate')).length).toBe(gateLines(leader!));
  // At 100 % the held notice goes out, once.
  await until('the notice of 1.1.0', () => notices(ROLLOUT) >= 2);
  await Bun.sleep(4 * ROUND_S * 1000);
  expect(notices(ROLLOUT)).toBe(2);
  for (const r of replicas) expect(await version(r.url, ROLLOUT)).toBe('1.1.0');
}, 60_000);

test('a webhook on a follower: one registry lookup per replica, every replica serves it, one notice', async () => {
  const follower = replicas.find((r) => !leaders().includes(r))!;
  const before = await registryRequests(registry, `/v2/fw/${NOTICE}/tags/list`);
  await push(NOTICE, '1.1.0');
  expect(await webhook(follower.url, NOTICE)).toBe(202);
  await until('every replica serving 1.1.0', async () => (await Promise.all(replicas.map((r) => version(r.url, NOTICE)))).every((v) => v === '1.1.0'));
  await until('the notice of 1.1.0', () => notices(NOTICE) >= 2);
  await Bun.sleep(4 * ROUND_S * 1000);
  expect(notices(NOTICE)).toBe(2);
  expect((await registryRequests(registry, `/v2/fw/${NOTICE}/tags/list`)) - before).toBe(replicas.length);
});

test('check-ins through every replica are stored; the leader SIGKILLed: a follower leads within the bound, one notice for the next change', async () => {
  const fleet = fleetOf([NOTICE], 90);
  await Promise.all(replicas.map((r, i) => pollAll(r.url, fleet.filter((_, j) => j % replicas.length === i))));
  await Bun.sleep(FLUSH_MS + 500);
  expect((await stored(fleet.map((i) => i.id))).size).toBe(fleet.length);

  const [leader] = leaders();
  const killedAt = Date.now();
  leader!.p.proc.kill('SIGKILL');
  await leader!.p.proc.exited;
  const next = await until('a follower to lead', () => leaders()[0], FAILOVER_BOUND_MS + 2000);
  const tookMs = Date.now() - killedAt;
  expect(next).not.toBe(leader);
  console.log(`failover after SIGKILL of the leader: ${tookMs} ms (bound ${FAILOVER_BOUND_MS} ms)`);
  expect(tookMs).toBeLessThan(FAILOVER_BOUND_MS);

  const other = alive().find((r) => r !== next)!;
  await push(NOTICE, '1.2.0');
  expect(await webhook(other.url, NOTICE)).toBe(202);
  await until('both replicas serving 1.2.0', async () => (await Promise.all(alive().map((r) => version(r.url, NOTICE)))).every((v) => v === '1.2.0'));
  await until('the notice of 1.2.0', () => notices(NOTICE) >= 3);
  await Bun.sleep(4 * ROUND_S * 1000);
  expect(notices(NOTICE)).toBe(3);
});

test('the leader frozen (SIGSTOP, as a vanished host): the other leads once the store ends its idle session and announces the change made meanwhile, once; thawed, the old leader steps down', async () => {
  const [leader] = leaders();
  const other = alive().find((r) => r !== leader)!;
  const frozenAt = Date.now();
  leader!.p.proc.kill('SIGSTOP');
  try {
    // A change while no process can announce it: the other replica serves it at once.
    await push(NOTICE, '1.3.0');
    expect(await webhook(other.url, NOTICE)).toBe(202);
    await until('the other replica serving 1.3.0', async () => (await version(other.url, NOTICE)) === '1.3.0');
    expect(notices(NOTICE)).toBe(3);
    await until('the other replica to lead', () => other.p.lines.filter((l) => l.msg === LEADS).length >= 1 && leadsNow(other), VANISHED_BOUND_MS + 3000);
  } finally {
    leader!.p.proc.kill('SIGCONT');
  }
  const tookMs = Date.now() - frozenAt;
  console.log(`failover after SIGSTOP of the leader: ${tookMs} ms (bound ${VANISHED_BOUND_MS} ms)`);
  expect(tookMs).toBeLessThan(VANISHED_BOUND_MS);
  // The new leader compared the broker's retained notices with what it serves: 1.3.0 announced once.
  await until('the notice of 1.3.0', () => notices(NOTICE) >= 4);
  await until('the thawed replica to step down', () => !leadsNow(leader!), 10_000);
  expect(leaders()).toEqual([other]);
  await until('both replicas serving 1.3.0', async () => (await Promise.all(alive().map((r) => version(r.url, NOTICE)))).every((v) => v === '1.3.0'));
  // The thawed replica found 1.3.0 too (the release board) but no longer leads: still one notice.
  await Bun.sleep(4 * ROUND_S * 1000);
  expect(notices(NOTICE)).toBe(4);
  await push(NOTICE, '1.4.0');
  expect(await webhook(leader!.url, NOTICE)).toBe(202);
  await until('both replicas serving 1.4.0', async () => (await Promise.all(alive().map((r) => version(r.url, NOTICE)))).every((v) => v === '1.4.0'));
  await until('the notice of 1.4.0', () => notices(NOTICE) >= 5);
  await Bun.sleep(4 * ROUND_S * 1000);
  expect(notices(NOTICE)).toBe(5);
}, 60_000);

test('the leader stopped with SIGTERM finishes a download in flight byte-exact, flushes its check-ins and hands over the lead', async () => {
  const [target] = leaders();
  if (!target) throw new Error('no leader');
  expect(await version(target.url, BIG)).toBe('1.0.0');
  const held = holdDownload(target.port, `/firmware?device=${BIG}`);
  await held.started;
  // Check-ins just before the stop: flushed on the way out, not after a second.
  const late = fleetOf(['scale-late'], 1).map((i) => ({ ...i, stream: NOTICE, id: `late-${i.id}` }));
  await pollAll(target.url, late);
  const exited = target.p.stop('SIGTERM');
  await target.p.waitFor((l) => l.msg === 'shutting down: draining downloads in flight', 10_000, 'the drain');
  await Bun.sleep(200);
  expect(await accepts(target.port)).toBe(false);
  held.resume();
  const got = await held.done;
  expect(got.status).toBe(200);
  expect(got.error).toBeUndefined();
  expect(got.body.length).toBe(BIG_FIRMWARE.length);
  expect(createHash('sha256').update(got.body).digest('hex')).toBe(createHash('sha256').update(BIG_FIRMWARE).digest('hex'));
  expect(await exited).toBe(0);
  expect((await stored(late.map((i) => i.id))).size).toBe(late.length);
  // The other replica serves on, and leads within one round of the stop (the lock was released).
  const rest = alive();
  expect(rest.length).toBe(1);
  expect(await version(rest[0]!.url, NOTICE)).toBe('1.4.0');
  await until('the last replica to lead', () => leadsNow(rest[0]!), FAILOVER_BOUND_MS);
}, 60_000);
