// The PostgreSQL test server (test/support/postgres.ts) and how Bun.SQL behaves when that server
// stops, crashes, hangs and comes back: what a data layer has to handle so that a database that is
// down never stops devices. docs/sql-layer.md summarises these facts.
import { SQL } from 'bun';
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { sharedPostgres, startPostgres, type TestPostgres } from './postgres.ts';

// initdb and server starts take seconds on a busy machine: far more than the 5 s default.
setDefaultTimeout(60_000);

let pg: TestPostgres;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  await pg?.close();
}, 60_000);

/** Runs `p` and returns how it settled and how long it took (ms). */
async function settle<T>(p: Promise<T>): Promise<{ ok: boolean; value?: T; error?: Error & { code?: string; errno?: string }; ms: number }> {
  const t0 = performance.now();
  try {
    const value = await p;
    return { ok: true, value, ms: performance.now() - t0 };
  } catch (e) {
    return { ok: false, error: e as Error & { code?: string; errno?: string }, ms: performance.now() - t0 };
  }
}

/** Whether `p` is still pending after `ms`. */
async function pendingAfter(p: Promise<unknown>, ms: number): Promise<boolean> {
  const marker = Symbol('pending');
  const r = await Promise.race([p.then(() => 'settled', () => 'settled'), Bun.sleep(ms).then(() => marker)]);
  return r === marker;
}

function portRefuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });
}

test('a real server answers Bun.SQL, as the otaflux superuser, on 127.0.0.1', async () => {
  expect(pg.url).toBe(`postgres://otaflux@127.0.0.1:${pg.port}/postgres`);
  expect(pg.running).toBe(true);
  const sql = new SQL(pg.url);
  const [row] = await sql`select current_user as who, split_part(version(), ' ', 2) as version, current_setting('fsync') as fsync`;
  expect(row.who).toBe('otaflux');
  expect(row.version).toStartWith('15.');
  expect(row.fsync).toBe('off');
  await sql.close();
  expect(existsSync(join(pg.dir, 'postmaster.pid'))).toBe(true);
});

test('createDatabase gives each caller a database of its own', async () => {
  const a = new SQL(await pg.createDatabase('files_a'));
  const b = new SQL(await pg.createDatabase('files_b'));
  await a`create table t (id int)`;
  await a`insert into t values (1)`;
  const [row] = await b`select to_regclass('t') as t, current_database() as db`;
  expect(row).toEqual({ t: null, db: 'files_b' });
  expect((await a`select count(*)::int as n from t`)[0].n).toBe(1);
  await Promise.all([a.close(), b.close()]);
  await expect(pg.createDatabase('Bad-Name')).rejects.toThrow('use lowercase letters, digits and _');
});

test('server stopped: queries fail at once with ERR_POSTGRES_CONNECTION_REFUSED; after start the same client reconnects', async () => {
  const closes: string[] = [];
  const sql = new SQL(pg.url, { max: 2, onclose: (e) => closes.push((e as Error & { code: string }).code) });
  await sql`create table survive (id int primary key, v text)`;
  await sql`insert into survive values (1, 'kept')`;

  // A query running while the server shuts down (fast mode) gets the server's 57P01 error.
  const running = settle(sql`select pg_sleep(30)`);
  await Bun.sleep(300);
  await pg.stop();
  const inflight = await running;
  expect(inflight.ok).toBe(false);
  expect(inflight.error?.code).toBe('ERR_POSTGRES_SERVER_ERROR');
  expect(inflight.error?.errno).toBe('57P01');
  expect(inflight.error?.message).toContain('terminating connection due to administrator command');
  expect(pg.running).toBe(false);

  // While it is down every query (and begin/reserve) fails promptly: no hang, no wait for connectionTimeout.
  for (const attempt of [sql`select 1`, sql.begin((tx) => tx`select 1`), sql.reserve()]) {
    const r = await settle(attempt);
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe('ERR_POSTGRES_CONNECTION_REFUSED');
    expect(r.ms).toBeLessThan(5000);
  }
  expect(closes).toContain('ERR_POSTGRES_CONNECTION_REFUSED');

  // Same port, same data: the same client object works again on its next query.
  await pg.start();
  const back = await settle(sql`select v from survive where id = 1`);
  expect(back.ok).toBe(true);
  expect(back.value?.[0]?.v).toBe('kept');
  await sql.close();
});

test('server crash (SIGKILL): in-flight transaction fails with ERR_POSTGRES_CONNECTION_CLOSED and is rolled back; committed data survives', async () => {
  const sql = new SQL(pg.url, { max: 2 });
  await sql`create table crash (id int primary key)`;
  await sql`insert into crash values (1)`;
  const tx = settle(
    sql.begin(async (t) => {
      await t`insert into crash values (2)`;
      await t`select pg_sleep(30)`;
    }),
  );
  await Bun.sleep(300);
  await pg.kill();
  const r = await tx;
  expect(r.ok).toBe(false);
  expect(r.error?.code).toBe('ERR_POSTGRES_CONNECTION_CLOSED');
  expect(await portRefuses(pg.port)).toBe(true);

  await pg.start();
  const rows = await sql`select id from crash order by id`;
  expect(rows.map((x: { id: number }) => x.id)).toEqual([1]);
  await sql.close();
});

test('hung server (SIGSTOP): queries hang with no error, cancel() does not free them; connectionTimeout bounds only new connections', async () => {
  const sql = new SQL(pg.url, { max: 1 });
  await sql`select 1`;
  await pg.freeze();
  try {
    const q = sql`select 'late' as v`;
    const queued = sql`select 'queued' as v`;
    expect(await pendingAfter(q, 1500)).toBe(true);
    q.cancel();
    expect(await pendingAfter(q, 1000)).toBe(true);
    expect(await pendingAfter(queued, 10)).toBe(true);

    // A new client gives up after connectionTimeout (seconds) with ERR_POSTGRES_CONNECTION_TIMEOUT.
    const fresh = new SQL(pg.url, { max: 1, connectionTimeout: 1 });
    const r = await settle(fresh`select 1`);
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe('ERR_POSTGRES_CONNECTION_TIMEOUT');
    expect(r.ms).toBeGreaterThanOrEqual(900);
    await fresh.close();

    await pg.thaw();
    // Once the server runs again the waiting queries complete (the cancel came too late to matter).
    expect((await q)[0].v).toBe('late');
    expect((await queued)[0].v).toBe('queued');
  } finally {
    await pg.thaw();
    await sql.close();
  }
});

test('hung server: close() waits for running queries; close({ timeout: 0 }) returns at once and rejects them with ERR_POSTGRES_CONNECTION_CLOSED', async () => {
  const patient = new SQL(pg.url, { max: 2 });
  const impatient = new SQL(pg.url, { max: 2 });
  await Promise.all([patient`select 1`, impatient`select 1`]);
  await pg.freeze();
  try {
    const stuck = [settle(patient`select 1 as x`), settle(impatient`select 1 as x`)];
    expect(await pendingAfter(stuck[1]!, 500)).toBe(true);
    const waits = settle(patient.close());
    const quits = settle(impatient.close({ timeout: 0 }));
    expect(await pendingAfter(quits, 3000)).toBe(false);
    expect((await stuck[1]!).error?.code).toBe('ERR_POSTGRES_CONNECTION_CLOSED');
    expect(await pendingAfter(waits, 1000)).toBe(true);
    await pg.thaw();
    expect((await waits).ok).toBe(true);
    expect((await stuck[0]!).value?.[0]?.x).toBe(1); // the patient client's query finished once the server ran again
  } finally {
    await pg.thaw();
  }
});

test('while the server is down each query tries every pool slot once, and nothing retries in the background', async () => {
  const closes: string[] = [];
  const sql = new SQL(pg.url, { max: 3, onclose: (e) => closes.push((e as Error & { code: string }).code) });
  await sql`select 1`;
  await pg.stop();
  try {
    for (let i = 0; i < 100 && closes.length < 3; i++) await Bun.sleep(20); // the three open connections close
    closes.length = 0;
    expect((await settle(sql`select 1`)).error?.code).toBe('ERR_POSTGRES_CONNECTION_REFUSED');
    await Bun.sleep(200);
    expect(closes).toEqual(['ERR_POSTGRES_CONNECTION_REFUSED', 'ERR_POSTGRES_CONNECTION_REFUSED', 'ERR_POSTGRES_CONNECTION_REFUSED']);
    await Bun.sleep(1500);
    expect(closes.length).toBe(3);
  } finally {
    await pg.start();
    await sql.close();
  }
});

test('the pool opens all max connections on the first query', async () => {
  let connects = 0;
  const sql = new SQL(pg.url, { max: 4, onconnect: () => connects++ });
  await sql`select 1`;
  for (let i = 0; i < 100 && connects < 4; i++) await Bun.sleep(20);
  expect(connects).toBe(4);
  await sql.close();
});

test('idleTimeout closes idle connections with ERR_POSTGRES_IDLE_TIMEOUT, and the pool reconnects on the next query', async () => {
  const closes: string[] = [];
  const sql = new SQL(pg.url, { max: 1, idleTimeout: 1, onclose: (e) => closes.push((e as Error & { code: string }).code) });
  await sql`select 1`;
  for (let i = 0; i < 200 && !closes.length; i++) await Bun.sleep(25);
  expect(closes).toEqual(['ERR_POSTGRES_IDLE_TIMEOUT']);
  expect((await sql`select 2 as x`)[0].x).toBe(2);
  await sql.close();
});

test('cancel() on a live server and statement_timeout both end a slow query with 57014; the connection stays usable', async () => {
  const sql = new SQL(pg.url, { max: 1 });
  const q = sql`select pg_sleep(30)`;
  setTimeout(() => q.cancel(), 300);
  const r = await settle(q);
  expect(r.error?.errno).toBe('57014');
  expect(r.error?.message).toContain('canceling statement due to user request');
  expect((await sql`select 1 as x`)[0].x).toBe(1);
  await sql.close();

  const limited = new SQL(pg.url, { max: 1, connection: { statement_timeout: 300 } });
  const t = await settle(limited`select pg_sleep(30)`);
  expect(t.error?.errno).toBe('57014');
  expect(t.error?.message).toContain('statement timeout');
  await limited.close();
});

test('PGDATABASE in the environment overrides the database named in the URL', async () => {
  await pg.createDatabase('from_env');
  const code = `const s = new Bun.SQL(${JSON.stringify(pg.url)}); console.log((await s\`select current_database() as d\`)[0].d); await s.close();`;
  const { PGDATABASE: _, ...base } = process.env;
  const run = (env: Record<string, string>) => Bun.spawn([process.execPath, '-e', code], { env: { ...base, ...env }, stdout: 'pipe' }).stdout.text();
  expect((await run({ PGDATABASE: 'from_env' })).trim()).toBe('from_env');
  expect((await run({})).trim()).toBe('postgres');
});

test('durable: true runs with fsync on (for benchmarks)', async () => {
  const durable = await startPostgres({ durable: true });
  try {
    const sql = new SQL(durable.url);
    expect((await sql`select current_setting('fsync') as f, current_setting('synchronous_commit') as s`)[0]).toEqual({ f: 'on', s: 'on' });
    await sql.close();
  } finally {
    await durable.close();
  }
  expect(existsSync(durable.dir)).toBe(false);
});

test('sharedPostgres is one server per process', async () => {
  const [a, b] = await Promise.all([sharedPostgres(), sharedPostgres()]);
  expect(a).toBe(b);
  const sql = new SQL(await a.createDatabase('shared_one'));
  expect((await sql`select current_database() as db`)[0].db).toBe('shared_one');
  await sql.close();
});

const helper = join(import.meta.dir, 'postgres.ts');
const childScript = (end: string) =>
  `const { startPostgres } = await import(${JSON.stringify(helper)});
   const pg = await startPostgres();
   console.log(JSON.stringify({ dir: pg.dir, port: pg.port }));
   ${end}`;

async function startChild(end: string, asUser?: string) {
  const cmd = [process.execPath, '-e', childScript(end)];
  const p = Bun.spawn(asUser ? ['runuser', '-u', asUser, '--', ...cmd] : cmd, { stdout: 'pipe', stderr: 'pipe', cwd: '/' });
  const reader = p.stdout.getReader();
  let text = '';
  while (!text.includes('\n')) {
    const { done, value } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return { p, info: text ? (JSON.parse(text) as { dir: string; port: number }) : undefined, stderr: () => new Response(p.stderr).text() };
}

test('a process that exits normally leaves no server and no folder behind', async () => {
  const { p, info } = await startChild('process.exit(0);');
  expect(await p.exited).toBe(0);
  expect(info).toBeDefined();
  expect(existsSync(info!.dir)).toBe(false);
  expect(await portRefuses(info!.port)).toBe(true);
});

test('a SIGKILLed process leaves no server and no folder behind (the watchdog cleans up)', async () => {
  const { p, info } = await startChild('setInterval(() => {}, 1000);');
  expect(info).toBeDefined();
  expect(await portRefuses(info!.port)).toBe(false);
  p.kill('SIGKILL');
  await p.exited;
  for (let i = 0; i < 300 && existsSync(info!.dir); i++) await Bun.sleep(50);
  expect(existsSync(info!.dir)).toBe(false);
  expect(await portRefuses(info!.port)).toBe(true);
});

test('as the postgres user itself it runs without runuser', async () => {
  const { p, info } = await startChild('process.exit(0);', 'postgres');
  expect(await p.exited).toBe(0);
  expect(info?.port).toBeGreaterThan(0);
  expect(existsSync(info!.dir)).toBe(false);
});

test('as another unprivileged user it throws one line naming the Debian package', async () => {
  const { p, stderr } = await startChild('', 'nobody');
  expect(await p.exited).not.toBe(0);
  const err = await stderr();
  expect(err).toContain("postgres tests: run as root or as the postgres user (now nobody), with Debian's postgresql package (apt-get install -y postgresql)");
});
