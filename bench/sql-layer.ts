/**
 * `bun bench/sql-layer.ts` (not a test): batched check-in writes, the fleet store's hottest write.
 * 10,000 instances, upserted 1,000 rows per transaction keyed by instance id, through:
 *
 *   bun:sqlite            prepared statement, `db.transaction()` running it once per row
 *   Bun.SQL sqlite bulk   `sql.begin(tx => tx\`insert … ${sql(rows)} on conflict …\`)`: one statement per batch
 *   Bun.SQL sqlite rows   the same, one statement per row inside the transaction
 *   Bun.SQL pg bulk       the same multi-row statement on PostgreSQL 15 (test/support/postgres.ts)
 *   Bun.SQL pg unnest     `insert … select * from unnest(${ids}::text[], …)`: five array parameters per batch
 *   Bun.SQL pg copy       `COPY … FROM STDIN` (csv) into a temp table, then one upsert from it
 *   Bun.SQL pg rows       one statement per row, all sent at once inside the transaction (pipelined)
 *
 * SQLite runs with WAL and synchronous=NORMAL; PostgreSQL with fsync and synchronous_commit on
 * (`--fast-pg` turns them off, as the tests do). The first pass over the 10,000 instances inserts, the
 * later ones update; variants are interleaved pass by pass and each row reports the median of the
 * update passes. kysely and postgres.js are not installed, so they are not measured here (see
 * docs/sql-layer.md). Needs root or the postgres user, and Debian's postgresql package.
 *
 *     bun bench/sql-layer.ts [--instances 10000] [--batch 1000] [--passes 5] [--fast-pg]
 */
import { Database } from 'bun:sqlite';
import { SQL } from 'bun';
import { cpus, loadavg, totalmem, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startPostgres } from '../test/support/postgres.ts';
import { benchWorkspace, median } from './support.ts';

const { values: opt } = parseArgs({
  options: {
    instances: { type: 'string', default: '10000' },
    batch: { type: 'string', default: '1000' },
    passes: { type: 'string', default: '5' },
    'fast-pg': { type: 'boolean', default: false },
  },
});
const INSTANCES = Number(opt.instances);
const BATCH = Number(opt.batch);
const PASSES = Math.max(2, Number(opt.passes));

interface CheckIn {
  id: string;
  device: string;
  version: string;
  seen: number;
  addr: string;
}

/** One pass: every instance checks in once, with a new timestamp and, every other pass, a new version. */
function checkIns(pass: number): CheckIn[][] {
  const now = Date.now();
  const batches: CheckIn[][] = [];
  for (let start = 0; start < INSTANCES; start += BATCH) {
    const rows: CheckIn[] = [];
    for (let i = start; i < Math.min(start + BATCH, INSTANCES); i++) {
      rows.push({ id: `inst-${i}`, device: `esp32-${i % 97}`, version: `1.${pass >> 1}.${i % 7}`, seen: now + i, addr: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` });
    }
    batches.push(rows);
  }
  return batches;
}

const DDL = 'create table checkins (id text primary key, device text not null, version text not null, seen bigint not null, addr text not null)';
/** The upsert's conflict clause (bun:sqlite's prepared statement; the Bun.SQL variants spell it inline). */
const UPSERT_TAIL = 'on conflict (id) do update set device = excluded.device, version = excluded.version, seen = excluded.seen, addr = excluded.addr';

interface Variant {
  name: string;
  write(batch: CheckIn[]): Promise<void> | void;
  count(): Promise<number> | number;
  close(): Promise<void> | void;
}

function bunSqlite(file: string): Variant {
  const db = new Database(file, { create: true });
  db.run('pragma journal_mode = wal');
  db.run('pragma synchronous = normal');
  db.run(DDL);
  const stmt = db.prepare(`insert into checkins (id, device, version, seen, addr) values ($id, $device, $version, $seen, $addr) ${UPSERT_TAIL}`);
  const tx = db.transaction((rows: CheckIn[]) => {
    for (const r of rows) stmt.run({ $id: r.id, $device: r.device, $version: r.version, $seen: r.seen, $addr: r.addr });
  });
  return {
    name: 'bun:sqlite (prepared, per row)',
    write: (rows) => tx(rows),
    count: () => (db.query('select count(*) as n from checkins').get() as { n: number }).n,
    close: () => db.close(),
  };
}

async function bunSqlSqlite(file: string, bulk: boolean): Promise<Variant> {
  const sql = new SQL(`sqlite://${file}`);
  await sql`pragma journal_mode = wal`;
  await sql`pragma synchronous = normal`;
  await sql.unsafe(DDL);
  return {
    name: bulk ? 'Bun.SQL sqlite (multi-row statement)' : 'Bun.SQL sqlite (per row)',
    write: bulk
      ? async (rows) => void (await sql.begin((tx) => tx`insert into checkins ${sql(rows)} on conflict (id) do update set device = excluded.device, version = excluded.version, seen = excluded.seen, addr = excluded.addr`))
      : async (rows) =>
          void (await sql.begin(async (tx) => {
            for (const r of rows) await tx`insert into checkins ${sql(r)} on conflict (id) do update set device = excluded.device, version = excluded.version, seen = excluded.seen, addr = excluded.addr`;
          })),
    count: async () => Number((await sql`select count(*) as n from checkins`)[0].n),
    close: () => sql.close(),
  };
}

/** PostgreSQL only: five array parameters per batch, whatever its size (no 65,535-parameter limit). */
async function bunSqlPostgresUnnest(url: string): Promise<Variant> {
  const sql = new SQL(url, { max: 4 });
  await sql.unsafe(DDL);
  return {
    name: 'Bun.SQL postgres (unnest of arrays)',
    write: async (rows) =>
      void (await sql.begin(
        (tx) => tx`insert into checkins (id, device, version, seen, addr)
          select * from unnest(${rows.map((r) => r.id)}::text[], ${rows.map((r) => r.device)}::text[], ${rows.map((r) => r.version)}::text[],
                               ${rows.map((r) => r.seen)}::bigint[], ${rows.map((r) => r.addr)}::text[])
          on conflict (id) do update set device = excluded.device, version = excluded.version, seen = excluded.seen, addr = excluded.addr`,
      )),
    count: async () => Number((await sql`select count(*) as n from checkins`)[0].n),
    close: () => sql.close(),
  };
}

/** A CSV field as COPY (FORMAT csv) reads it. */
const csv = (v: string | number) => (typeof v === 'number' || !/[",\n\r]/.test(v) ? String(v) : `"${v.replace(/"/g, '""')}"`);

/** PostgreSQL only: COPY the batch into a per-connection temp table, then one upsert from it. */
async function bunSqlPostgresCopy(url: string): Promise<Variant> {
  const sql = new SQL(url, { max: 4 });
  await sql.unsafe(DDL);
  return {
    name: 'Bun.SQL postgres (COPY into temp table + upsert)',
    write: async (rows) =>
      void (await sql.begin(async (tx) => {
        await tx`create temp table if not exists checkins_in (like checkins) on commit delete rows`;
        const sink = tx`copy checkins_in (id, device, version, seen, addr) from stdin (format csv)`.writable();
        const w = sink.getWriter();
        await w.write(rows.map((r) => `${csv(r.id)},${csv(r.device)},${csv(r.version)},${r.seen},${csv(r.addr)}\n`).join(''));
        await w.close();
        await tx`insert into checkins select * from checkins_in on conflict (id) do update set device = excluded.device, version = excluded.version, seen = excluded.seen, addr = excluded.addr`;
      })),
    count: async () => Number((await sql`select count(*) as n from checkins`)[0].n),
    close: () => sql.close(),
  };
}

async function bunSqlPostgres(url: string, bulk: boolean): Promise<Variant> {
  const sql = new SQL(url, { max: 4 });
  await sql.unsafe(DDL);
  return {
    name: bulk ? 'Bun.SQL postgres (multi-row statement)' : 'Bun.SQL postgres (per row, pipelined)',
    write: bulk
      ? async (rows) => void (await sql.begin((tx) => tx`insert into checkins ${sql(rows)} on conflict (id) do update set device = excluded.device, version = excluded.version, seen = excluded.seen, addr = excluded.addr`))
      : async (rows) =>
          void (await sql.begin((tx) =>
            Promise.all(rows.map((r) => tx`insert into checkins ${sql(r)} on conflict (id) do update set device = excluded.device, version = excluded.version, seen = excluded.seen, addr = excluded.addr`)),
          )),
    count: async () => Number((await sql`select count(*) as n from checkins`)[0].n),
    close: () => sql.close(),
  };
}

const { work } = benchWorkspace('otaflux-bench-sql-');
const loadStart = loadavg();
const pg = await startPostgres({ durable: !opt['fast-pg'] });
const pgVersion = await (async () => {
  const s = new SQL(pg.url, { max: 1 });
  const v = (await s`select current_setting('server_version') as v`)[0].v as string;
  await s.close();
  return v;
})();

const variants: Variant[] = [
  bunSqlite(join(work, 'bun-sqlite.db')),
  await bunSqlSqlite(join(work, 'bunsql-bulk.db'), true),
  await bunSqlSqlite(join(work, 'bunsql-rows.db'), false),
  await bunSqlPostgres(await pg.createDatabase('bulk'), true),
  await bunSqlPostgresUnnest(await pg.createDatabase('unnest')),
  await bunSqlPostgresCopy(await pg.createDatabase('copy')),
  await bunSqlPostgres(await pg.createDatabase('rows'), false),
];

const rates = new Map<string, number[]>(variants.map((v) => [v.name, []]));
// CPU time of this process per row: all of the work for SQLite, the client's share for PostgreSQL.
// It moves much less than rows/s when other work shares the machine.
const cpuPerRow = new Map<string, number[]>(variants.map((v) => [v.name, []]));
for (let pass = 0; pass < PASSES; pass++) {
  const batches = checkIns(pass);
  for (const v of variants) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (const b of batches) await v.write(b);
    const c = process.cpuUsage(c0);
    const s = (performance.now() - t0) / 1000;
    rates.get(v.name)!.push(INSTANCES / s);
    cpuPerRow.get(v.name)!.push((c.user + c.system) / INSTANCES);
  }
}
for (const v of variants) {
  const n = await v.count();
  if (n !== INSTANCES) throw new Error(`${v.name}: ${n} rows after the run, expected ${INSTANCES}`);
}
const loadEnd = loadavg();
const sqliteVersion = (new Database(':memory:').query('select sqlite_version() as v').get() as { v: string }).v;

const fmt = (n: number) => `${Math.round(n).toLocaleString('en-US')}`;
console.log(`machine: ${cpus().length}× ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${release()}; Bun ${Bun.version}, SQLite ${sqliteVersion}, PostgreSQL ${pgVersion}${opt['fast-pg'] ? ' (fsync off)' : ' (fsync on)'}`);
console.log(`load average: start ${loadStart.map((l) => l.toFixed(2)).join(' ')}, end ${loadEnd.map((l) => l.toFixed(2)).join(' ')}`);
console.log(`${INSTANCES} instances, ${BATCH} rows per transaction, ${PASSES} passes (first inserts, the rest update)`);
console.log('');
const base = median(rates.get(variants[0]!.name)!.slice(1));
console.log('| writer | insert pass rows/s | update rows/s (median) | vs bun:sqlite | Bun process CPU µs/row (update median) |');
console.log('|---|---|---|---|---|');
for (const v of variants) {
  const r = rates.get(v.name)!;
  const upd = median(r.slice(1));
  const cpu = median(cpuPerRow.get(v.name)!.slice(1));
  console.log(`| ${v.name} | ${fmt(r[0]!)} | ${fmt(upd)} | ${(upd / base).toFixed(2)}× | ${cpu.toFixed(1)} |`);
}
for (const v of variants) await v.close();
await pg.close();
