// The same Bun.SQL tagged-template statements on SQLite (`sqlite://FILE`) and on a real PostgreSQL 15:
// where the two engines agree and where a data layer meant for both has to smooth over a difference.
// docs/sql-layer.md summarises these facts and the recommendation drawn from them.
import { SQL } from 'bun';
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { join } from 'node:path';
import { startPostgres, type TestPostgres } from './postgres.ts';
import { tempDir } from './tmp.ts';

setDefaultTimeout(60_000);

type Engine = 'sqlite' | 'postgres';
let pg: TestPostgres;
const clients: Record<Engine, SQL> = {} as Record<Engine, SQL>;

beforeAll(async () => {
  pg = await startPostgres();
  clients.postgres = new SQL(await pg.createDatabase('dialects'));
  clients.sqlite = new SQL(`sqlite://${join(tempDir(), 'dialects.db')}`);
}, 60_000);
afterAll(async () => {
  await Promise.all(Object.values(clients).map((c) => c.close()));
  await pg?.close();
}, 60_000);

/** The same DDL works on both: SQLite accepts PostgreSQL's type names (by affinity). */
async function freshTable(sql: SQL, name: string): Promise<void> {
  await sql.unsafe(`drop table if exists ${name}`);
  await sql.unsafe(`create table ${name} (id text primary key, seen bigint not null, ok boolean not null default false, doc text)`);
}

async function failure(p: PromiseLike<unknown>): Promise<Error & { code?: string; errno?: string | number }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string; errno?: string };
  }
  throw new Error('expected a failure');
}

describe.each(['sqlite', 'postgres'] as const)('the same on both engines: %s', (engine) => {
  const db = () => clients[engine];

  test('upsert with ON CONFLICT (id) DO UPDATE and RETURNING', async () => {
    const sql = db();
    await freshTable(sql, 'up');
    const first = await sql`insert into up (id, seen) values (${'dev1'}, ${1000}) returning id`;
    expect([...first]).toEqual([{ id: 'dev1' }]);
    const again = await sql`
      insert into up (id, seen, ok) values (${'dev1'}, ${2000}, ${true})
      on conflict (id) do update set seen = excluded.seen, ok = excluded.ok
      returning id, seen`;
    expect(again.count).toBe(1);
    expect(Number(again[0].seen)).toBe(2000);
    const ignored = await sql`insert into up (id, seen) values (${'dev1'}, ${3000}) on conflict (id) do nothing returning id`;
    expect(ignored.length).toBe(0);
    expect(Number((await sql`select seen from up where id = ${'dev1'}`)[0].seen)).toBe(2000);
  });

  test('sql.begin commits, returns the callback value, rolls back and rethrows on throw; savepoints', async () => {
    const sql = db();
    await freshTable(sql, 'tx');
    const value = await sql.begin(async (tx) => {
      await tx`insert into tx (id, seen) values ('a', 1)`;
      return 'done';
    });
    expect(value).toBe('done');
    const err = await failure(
      sql.begin(async (tx) => {
        await tx`insert into tx (id, seen) values ('b', 1)`;
        throw new Error('business rule says no');
      }),
    );
    expect(err.message).toBe('business rule says no');
    await sql.begin(async (tx) => {
      await tx`insert into tx (id, seen) values ('c', 1)`;
      await tx.savepoint(async (sp) => {
        await sp`insert into tx (id, seen) values ('d', 1)`;
        throw new Error('undo only d');
      }).catch(() => undefined);
    });
    expect((await sql`select id from tx order by id`).map((r: { id: string }) => r.id)).toEqual(['a', 'c']);
  });

  test('sql(rows) bulk insert, sql(rows, ...columns), sql(list) for IN, sql(object) for SET', async () => {
    const sql = db();
    await freshTable(sql, 'bulk');
    const rows = Array.from({ length: 1000 }, (_, i) => ({ id: `d${i}`, seen: i, ok: i % 2 === 0, extra: 'not a column' }));
    const ins = await sql`insert into bulk ${sql(rows, 'id', 'seen', 'ok')} on conflict (id) do update set seen = excluded.seen`;
    expect(ins.count).toBe(1000);
    const picked = await sql`select id from bulk where id in ${sql(['d1', 'd2', 'nope'])} order by id`;
    expect(picked.map((r: { id: string }) => r.id)).toEqual(['d1', 'd2']);
    await sql`update bulk set ${sql({ seen: 42, doc: 'x' })} where id = ${'d3'}`;
    expect(Number((await sql`select seen from bulk where id = 'd3'`)[0].seen)).toBe(42);
  });

  test('sql.unsafe takes $1-style parameters', async () => {
    const sql = db();
    await freshTable(sql, 'uns');
    await sql.unsafe('insert into uns (id, seen) values ($1, $2)', ['x', 5]);
    expect(Number((await sql.unsafe('select seen from uns where id = $1', ['x']))[0].seen)).toBe(5);
  });

  test('JSON kept as text (JSON.stringify in, JSON.parse out) round-trips identically', async () => {
    const sql = db();
    await freshTable(sql, 'js');
    const doc = { tags: ['a', 'b'], n: 1 };
    await sql`insert into js (id, seen, doc) values ('j', 1, ${JSON.stringify(doc)})`;
    const [row] = await sql`select doc from js`;
    expect(typeof row.doc).toBe('string');
    expect(JSON.parse(row.doc)).toEqual(doc);
  });

  test('epoch milliseconds in a bigint column: exact, and Number(value) gives the same on both', async () => {
    const sql = db();
    await freshTable(sql, 'ts');
    const now = 1_764_547_200_123; // 2025-12-01T00:00:00.123Z: beyond 2^31, below 2^53
    await sql`insert into ts (id, seen) values ('t', ${now})`;
    const [row] = await sql`select seen from ts where seen > ${now - 1}`;
    expect(Number(row.seen)).toBe(now);
    // cast(count(*) as integer) is a number on both; see below for plain count(*).
    expect((await sql`select cast(count(*) as integer) as n from ts`)[0].n).toBe(1);
  });
});

describe('where the engines differ', () => {
  test('integers: PostgreSQL returns int8 (bigint, count(*)) as strings; SQLite returns numbers, inexact beyond 2^53', async () => {
    const big = '9007199254740993'; // 2^53 + 1
    const p = (await clients.postgres`select ${1_764_547_200_123}::bigint as ms, count(*) as n, 5 as small, ${big}::bigint as big`)[0];
    expect(p).toEqual({ ms: '1764547200123', n: '1', small: 5, big });
    const s = (await clients.sqlite`select 1764547200123 as ms, count(*) as n, 5 as small, 9007199254740993 as big`)[0];
    expect(s).toEqual({ ms: 1764547200123, n: 1, small: 5, big: 9007199254740992 });

    // bigint: true gives BigInt: on PostgreSQL for every int8, on SQLite for every integer.
    const pb = new SQL(pg.url, { bigint: true, max: 1 });
    expect((await pb`select 5 as small, ${big}::bigint as big`)[0]).toEqual({ small: 5, big: 9007199254740993n });
    await pb.close();
    const sb = new SQL(`sqlite://${join(tempDir(), 'big.db')}`, { bigint: true });
    expect((await sb`select 5 as small, 9007199254740993 as big`)[0]).toEqual({ small: 5n, big: 9007199254740993n });
    await sb.close();
  });

  test('booleans: PostgreSQL true/false, SQLite 1/0 (same DDL, same bound values)', async () => {
    for (const engine of ['sqlite', 'postgres'] as const) await freshTable(clients[engine], 'flags');
    for (const engine of ['sqlite', 'postgres'] as const) await clients[engine]`insert into flags (id, seen, ok) values ('f', 1, ${true})`;
    expect((await clients.postgres`select ok from flags`)[0].ok).toBe(true);
    expect((await clients.sqlite`select ok from flags`)[0].ok).toBe(1);
    // Binding a JS boolean into a PostgreSQL integer column is a type error (42804).
    await clients.postgres`create table if not exists intflag (v integer)`;
    expect((await failure(clients.postgres`insert into intflag values (${true})`)).errno).toBe('42804');
  });

  test('timestamps: Date binds only on PostgreSQL; CURRENT_TIMESTAMP is a Date there and a UTC text on SQLite', async () => {
    const d = new Date(1_764_547_200_000);
    expect((await failure(clients.sqlite`select ${d as unknown as string} as d`)).message).toContain('Binding expected');
    expect(new Date((await clients.postgres`select ${d}::timestamptz as d`)[0].d).getTime()).toBe(d.getTime());
    expect((await clients.postgres`select current_timestamp as t`)[0].t).toBeInstanceOf(Date);
    expect((await clients.sqlite`select current_timestamp as t`)[0].t).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  });

  test('JSON: objects bind only on PostgreSQL; into jsonb a JSON.stringify-ed string is stored as a JSON string, not an object', async () => {
    expect((await failure(clients.sqlite`select ${{ a: 1 } as unknown as string} as j`)).message).toContain('Binding expected');
    const sql = clients.postgres;
    await sql`create table jb (id int, doc jsonb)`;
    await sql`insert into jb values (1, ${{ a: 1 }}), (2, ${JSON.stringify({ a: 1 })})`;
    const rows = await sql`select id, jsonb_typeof(doc) as kind, doc from jb order by id`;
    expect([...rows]).toEqual([
      { id: 1, kind: 'object', doc: { a: 1 } },
      { id: 2, kind: 'string', doc: '{"a":1}' },
    ]);
  });

  test('RETURNING and lastInsertRowid; `?` placeholders in sql.unsafe only on SQLite', async () => {
    for (const engine of ['sqlite', 'postgres'] as const) await freshTable(clients[engine], 'rid');
    const s = await clients.sqlite`insert into rid (id, seen) values ('r', 1)`;
    const p = await clients.postgres`insert into rid (id, seen) values ('r', 1)`;
    expect(typeof s.lastInsertRowid).toBe('number');
    expect(p.lastInsertRowid).toBeNull();
    expect((await clients.sqlite.unsafe('select id from rid where id = ?', ['r']))[0].id).toBe('r');
    expect((await failure(clients.postgres.unsafe('select id from rid where id = ?', ['r']))).errno).toBe('42601');
  });

  test('bulk parameters: PostgreSQL stops at 65,535 per statement (ERR_POSTGRES_TOO_MANY_PARAMETERS); SQLite takes more', async () => {
    const rows = Array.from({ length: 22_000 }, (_, i) => ({ id: `p${i}`, seen: i, ok: false })); // 66,000 parameters
    await freshTable(clients.postgres, 'many');
    await freshTable(clients.sqlite, 'many');
    expect((await failure(clients.postgres`insert into many ${clients.postgres(rows)}`)).code).toBe('ERR_POSTGRES_TOO_MANY_PARAMETERS');
    expect((await clients.sqlite`insert into many ${clients.sqlite(rows)}`).count).toBe(22_000);
  });

  test('begin options go after BEGIN: read only on PostgreSQL, immediate on SQLite', async () => {
    await freshTable(clients.postgres, 'ro');
    const ro = await failure(clients.postgres.begin('read only', (tx) => tx`insert into ro (id, seen) values ('x', 1)`));
    expect(ro.errno).toBe('25006');
    await freshTable(clients.sqlite, 'imm');
    expect(await clients.sqlite.begin('immediate', async (tx) => (await tx`insert into imm (id, seen) values ('x', 1) returning id`)[0].id)).toBe('x');
    expect((await failure(clients.sqlite.begin('sideways', (tx) => tx`select 1`))).message).toContain('syntax error');
  });

  test('PostgreSQL only: JS arrays bind as arrays (unnest for bulk writes) and COPY FROM STDIN streams rows in', async () => {
    const sql = clients.postgres;
    await freshTable(sql, 'arr');
    const ids = ['u1', 'u2', 'u3'];
    const seen = [1_764_547_200_001, 2, 3];
    const ins = await sql`insert into arr (id, seen) select * from unnest(${ids}::text[], ${seen}::bigint[]) on conflict (id) do update set seen = excluded.seen`;
    expect(ins.count).toBe(3);
    expect((await failure(clients.sqlite`select ${ids as unknown as string} as a`)).message).toContain('Binding expected');

    await sql.begin(async (tx) => {
      const w = tx`copy arr (id, seen) from stdin (format csv)`.writable().getWriter();
      await w.write('c1,10\nc2,20\n');
      await w.close();
    });
    expect((await sql`select id, seen from arr order by id`).map((r: { id: string; seen: string }) => `${r.id}=${r.seen}`)).toEqual([
      'c1=10', 'c2=20', 'u1=1764547200001', 'u2=2', 'u3=3',
    ]);
  });

  test('advisory locks: PostgreSQL only; transaction-scoped ones end with the transaction, session ones need one reserved connection', async () => {
    const a = new SQL(pg.url, { max: 4 });
    const b = new SQL(pg.url, { max: 1 });
    const tryLock = (c: SQL, key: number) => c`select pg_try_advisory_lock(${key}) as got`.then((r) => r[0].got as boolean);
    const tryXactLock = (c: SQL, key: number) => c`select pg_try_advisory_xact_lock(${key}) as got`.then((r) => r[0].got as boolean);

    // pg_try_advisory_xact_lock inside sql.begin: held until commit or rollback, on whatever connection.
    await a.begin(async (tx) => {
      expect(await tryXactLock(tx, 4242)).toBe(true);
      expect(await tryXactLock(b, 4242)).toBe(false);
    });
    expect(await tryXactLock(b, 4242)).toBe(true);

    // A session lock belongs to one pooled connection: take and release it on a reserved one.
    const held = await a.reserve();
    expect(await tryLock(held, 4343)).toBe(true);
    expect(await tryLock(b, 4343)).toBe(false);
    expect((await held`select pg_advisory_unlock(${4343}) as ok`)[0].ok).toBe(true);
    expect(await tryLock(b, 4343)).toBe(true);
    await b`select pg_advisory_unlock_all()`;

    // A session ends with its connection: the server frees the lock shortly after the client closes.
    expect(await tryLock(held, 4444)).toBe(true);
    held.release();
    await a.close();
    let got = false;
    for (let i = 0; i < 100 && !got; i++) {
      got = await tryLock(b, 4444);
      if (!got) await Bun.sleep(50);
    }
    expect(got).toBe(true);
    await b.close();
    expect((await failure(clients.sqlite`select pg_try_advisory_lock(1)`)).message).toContain('no such function');
  });

  test('SQLite (Bun 1.4.4): a query on the client while one of its sql.begin transactions is open runs INSIDE it, and is rolled back with it', async () => {
    // Upstream: oven-sh/bun pull request 33581. On PostgreSQL the query takes another pooled connection.
    for (const engine of ['sqlite', 'postgres'] as const) {
      const sql = clients[engine];
      await freshTable(sql, 'leak');
      const tx = sql
        .begin(async (t) => {
          await t`insert into leak (id, seen) values ('inside', 1)`;
          await Bun.sleep(300);
          throw new Error('roll back');
        })
        .catch(() => 'rolled back');
      await Bun.sleep(50);
      await sql`insert into leak (id, seen) values ('outside', 1)`; // resolves successfully on both
      expect(await tx).toBe('rolled back');
      const left = (await sql`select id from leak`).map((r: { id: string }) => r.id);
      expect(left).toEqual(engine === 'sqlite' ? [] : ['outside']);
    }
  });
});

describe('SQLite with two processes on one file', () => {
  /**
   * A child process that takes the write lock (BEGIN IMMEDIATE) and says "locked"; once it reads a line
   * on stdin it holds the lock `ms` longer, then commits. The parent's checks before that line cannot
   * race the commit, however slow the machine.
   */
  async function lockHolder(file: string, ms: number) {
    const code = `
      const sql = new Bun.SQL(${JSON.stringify(`sqlite://${file}`)});
      await sql\`pragma busy_timeout = 10000\`;
      await sql.begin('immediate', async (tx) => {
        await tx\`insert into w (id) values ('child')\`;
        console.log('locked');
        for await (const _ of console) break;
        await Bun.sleep(${ms});
      });
      await sql.close();`;
    const p = Bun.spawn([process.execPath, '-e', code], { stdin: 'pipe', stdout: 'pipe', stderr: 'inherit' });
    const reader = p.stdout.getReader();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toContain('locked');
    reader.releaseLock();
    return {
      exited: p.exited,
      async release() {
        p.stdin.write('go\n');
        await p.stdin.flush();
      },
    };
  }

  test('journal_mode=WAL persists in the file; busy_timeout is per connection and defaults to 0', async () => {
    const file = join(tempDir(), 'modes.db');
    const a = new SQL(`sqlite://${file}`);
    expect((await a`pragma journal_mode`)[0].journal_mode).toBe('delete');
    expect((await a`pragma busy_timeout`)[0].timeout).toBe(0);
    expect((await a`pragma synchronous`)[0].synchronous).toBe(2); // FULL
    expect((await a`pragma foreign_keys`)[0].foreign_keys).toBe(0);
    expect((await a`pragma journal_mode = wal`)[0].journal_mode).toBe('wal');
    await a`pragma busy_timeout = 2500`;
    const b = new SQL(`sqlite://${file}`);
    expect((await b`pragma journal_mode`)[0].journal_mode).toBe('wal');
    expect((await b`pragma busy_timeout`)[0].timeout).toBe(0);
    await Promise.all([a.close(), b.close()]);
  });

  test('while another process writes: reads go on (WAL); a write fails at once with busy_timeout 0, and with busy_timeout waits, blocking the event loop', async () => {
    const file = join(tempDir(), 'two.db');
    const sql = new SQL(`sqlite://${file}`);
    await sql`pragma journal_mode = wal`;
    await sql`create table w (id text)`;
    const child = await lockHolder(file, 1500);

    expect((await sql`select count(*) as n from w`)[0].n).toBe(0); // the child's row is not committed yet
    expect((await failure(sql`insert into w (id) values ('parent')`)).code).toBe('SQLITE_BUSY');

    await sql`pragma busy_timeout = 20000`;
    await child.release();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const t0 = performance.now();
    await sql`insert into w (id) values ('parent')`;
    const waited = performance.now() - t0;
    clearInterval(timer);
    expect(waited).toBeGreaterThan(500);
    expect(ticks).toBe(0); // SQLite's busy handler sleeps on the JS thread: no timer ran while it waited
    expect(await child.exited).toBe(0);
    expect((await sql`select id from w order by id`).map((r: { id: string }) => r.id)).toEqual(['child', 'parent']);
    await sql.close();
  });

  test('WAL: a deferred transaction that reads and then writes fails with SQLITE_BUSY_SNAPSHOT when another connection wrote first; BEGIN IMMEDIATE does not', async () => {
    const file = join(tempDir(), 'snap.db');
    const a = new SQL(`sqlite://${file}`);
    const b = new SQL(`sqlite://${file}`);
    await a`pragma journal_mode = wal`;
    await a`create table w (id text)`;
    const deferred = a.begin(async (tx) => {
      await tx`select count(*) from w`; // takes a read snapshot
      await Bun.sleep(200);
      await tx`insert into w (id) values ('a')`;
    });
    await Bun.sleep(50);
    await b`insert into w (id) values ('b')`; // commits while a's snapshot is open
    expect((await failure(deferred)).code).toBe('SQLITE_BUSY_SNAPSHOT');

    const immediate = a.begin('immediate', async (tx) => {
      await tx`select count(*) from w`;
      await Bun.sleep(200);
      await tx`insert into w (id) values ('a')`;
    });
    await Bun.sleep(50);
    expect((await failure(b`insert into w (id) values ('b2')`)).code).toBe('SQLITE_BUSY'); // a holds the write lock
    await immediate;
    expect((await a`select id from w order by id`).map((r: { id: string }) => r.id)).toEqual(['a', 'b']);
    await Promise.all([a.close(), b.close()]);
  });

  test('two SQL objects on one file in one process: a write waiting in busy_timeout blocks the holder too, and fails', async () => {
    const file = join(tempDir(), 'same-process.db');
    const a = new SQL(`sqlite://${file}`);
    const b = new SQL(`sqlite://${file}`);
    await a`pragma journal_mode = wal`;
    await a`create table w (id text)`;
    await b`pragma busy_timeout = 1000`;
    const holder = a.begin('immediate', async (tx) => {
      await Bun.sleep(100); // needs the event loop, which b's busy wait holds
      await tx`insert into w (id) values ('a')`;
    });
    await Bun.sleep(20);
    expect((await failure(b`insert into w (id) values ('b')`)).code).toBe('SQLITE_BUSY');
    await holder;
    expect((await a`select id from w`).map((r: { id: string }) => r.id)).toEqual(['a']);
    await Promise.all([a.close(), b.close()]);
  });

  test('two writer processes with WAL, busy_timeout and BEGIN IMMEDIATE both finish every batch', async () => {
    const file = join(tempDir(), 'writers.db');
    const setup = new SQL(`sqlite://${file}`);
    await setup`pragma journal_mode = wal`;
    await setup`create table w (id text primary key, n integer)`;
    await setup.close();
    const writer = (name: string) => {
      const code = `
        const sql = new Bun.SQL(${JSON.stringify(`sqlite://${file}`)});
        await sql\`pragma busy_timeout = 30000\`;
        for (let b = 0; b < 20; b++) {
          const rows = Array.from({ length: 200 }, (_, i) => ({ id: ${JSON.stringify(name)} + '-' + (b * 200 + i), n: b }));
          await sql.begin('immediate', (tx) => tx\`insert into w \${sql(rows)} on conflict (id) do update set n = excluded.n\`);
        }
        await sql.close();`;
      return Bun.spawn([process.execPath, '-e', code], { stdout: 'ignore', stderr: 'pipe' });
    };
    const procs = [writer('a'), writer('b')];
    const codes = await Promise.all(procs.map((p) => p.exited));
    const errors = await Promise.all(procs.map((p) => new Response(p.stderr).text()));
    expect({ codes, errors }).toEqual({ codes: [0, 0], errors: ['', ''] });
    const check = new SQL(`sqlite://${file}`);
    expect((await check`select count(*) as n from w`)[0].n).toBe(8000);
    await check.close();
  });
});
