/**
 * A real PostgreSQL server for tests: Debian's `postgresql` package (PostgreSQL 15), started as the
 * unprivileged `postgres` system user in a fresh temp folder, on a free port on 127.0.0.1.
 *
 *     const pg = await startPostgres();
 *     const sql = new SQL(pg.url);                 // postgres://otaflux@127.0.0.1:PORT/postgres
 *     const url = await pg.createDatabase('fleet_a'); // a separate database on the same server
 *     await pg.stop();    // clean shutdown (pg_ctl stop -m fast): clients see their connections close
 *     await pg.start();   // the same port and the same data again
 *     await pg.kill();    // SIGKILL to the server and its backends (a crash); start() recovers
 *     await pg.freeze();  // SIGSTOP: connections stay open, nothing answers (hung server); thaw() resumes
 *     await pg.close();   // stop and delete the folder (also done at process exit)
 *
 * `sharedPostgres()` is one server per test process for files that only need a database of their
 * own: take one with `createDatabase`, and never stop or kill the shared server.
 *
 * The server runs with `-A trust` (no password) and, unless `startPostgres({ durable: true })` (for
 * benchmarks), with `fsync`, `full_page_writes` and `synchronous_commit` off: for tests only.
 * Needs root (tests and CI) or the `postgres` user itself; anything else throws one line saying so.
 * The server is SIGKILLed and its folder removed when this process exits. `bun test` runs no
 * `process.on('exit')` handlers, and a SIGKILLed process runs none either: there a watchdog shell
 * does the same within about a second.
 */
import { SQL } from 'bun';
import { chownSync, chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';

export interface TestPostgres {
  /** `postgres://otaflux@127.0.0.1:PORT/postgres` (superuser `otaflux`, no password). */
  url: string;
  port: number;
  /** The data folder (owned by `postgres`); the server log is `dir/log`, the socket `dir/.s.PGSQL.PORT`. */
  dir: string;
  /** Whether the server process is up. */
  readonly running: boolean;
  /** Starts the server again on the same port and data; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Clean shutdown (`pg_ctl stop -m fast`): open connections are closed by the server. */
  stop(): Promise<void>;
  /** SIGKILL to the postmaster and all its backends, like a crash; `start()` runs crash recovery. */
  kill(): Promise<void>;
  /**
   * SIGSTOP to the server and its backends: connections stay open but nothing answers, like a hung
   * server or a network partition. `thaw()` resumes them.
   */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** Creates a database and returns its URL; names are lowercase letters, digits and `_`. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server and removes its folder. */
  close(): Promise<void>;
  /** The server log so far. */
  log(): string;
}

const SUPERUSER = 'otaflux';
const OS_USER = 'postgres';
const DEBIAN_HINT = "Debian's postgresql package (apt-get install -y postgresql)";

const live = new Set<{ dir: string }>();
process.on('exit', () => {
  for (const s of live) {
    killServer(s.dir);
    rmSync(s.dir, { recursive: true, force: true });
  }
});

/** Directory holding initdb/pg_ctl: the newest /usr/lib/postgresql/N/bin, where Debian puts them. */
function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const dir = join(root, v, 'bin');
    if (existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  throw new Error(`postgres tests: no initdb under ${root}/*/bin: install ${DEBIAN_HINT}`);
}

/** The command prefix that runs a program as the `postgres` user (runuser when root). */
function asPostgres(): string[] {
  const me = userInfo();
  if (me.username === OS_USER) return [];
  if (me.uid === 0) return ['runuser', '-u', OS_USER, '--'];
  throw new Error(`postgres tests: run as root or as the ${OS_USER} user (now ${me.username}), with ${DEBIAN_HINT}`);
}

/** The uid/gid of the `postgres` user, to give it the temp folder. */
function postgresIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${OS_USER}:`));
  if (!line) throw new Error(`postgres tests: no ${OS_USER} system user: install ${DEBIAN_HINT}`);
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

async function run(cmd: string[], cwd: string): Promise<{ code: number; out: string }> {
  const p = Bun.spawn(cmd, { cwd, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', env: { ...process.env, LC_ALL: 'C', LANG: 'C' } });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out: (out + err).trim() };
}

/** The postmaster's pid from `postmaster.pid`, when the file exists and that process is alive. */
function postmasterPid(dir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return alive(pid) ? pid : undefined;
}

/** Pids of the direct children of `pid` (the postmaster's backends and helpers). */
function childrenOf(pid: number): number[] {
  const kids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) kids.push(Number(e));
    } catch {
      // the process ended while we looked
    }
  }
  return kids;
}

/** SIGKILLs the postmaster of `dir` and its children; returns the pids it signalled. */
function killServer(dir: string): number[] {
  const pid = postmasterPid(dir);
  if (pid === undefined) return [];
  const all = [pid, ...childrenOf(pid)];
  for (const p of all) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return all;
}

/** Whether `pid` exists at all, zombies included (PostgreSQL refuses to start beside its old pid). */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether `pid` runs: an exited process that its parent has not reaped yet (a zombie) does not. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Starts a fresh PostgreSQL server (initdb + pg_ctl start) in a new temp folder. */
export async function startPostgres(opts: { durable?: boolean } = {}): Promise<TestPostgres> {
  const bin = binDir();
  const prefix = asPostgres();
  const ids = postgresIds();
  const dir = mkdtempSync(join(tmpdir(), 'otaflux-pg-'));
  const entry = { dir };
  live.add(entry);
  chownSync(dir, ids.uid, ids.gid);
  chmodSync(dir, 0o700);
  startWatchdog(dir);
  const giveUp = (e: unknown): never => {
    killServer(dir);
    live.delete(entry);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  };

  const init = await run([...prefix, join(bin, 'initdb'), '-D', dir, '-A', 'trust', '-U', SUPERUSER, '-E', 'UTF8', '--no-sync'], dir);
  if (init.code !== 0) giveUp(new Error(`postgres tests: initdb failed (exit ${init.code}): ${init.out.split('\n').slice(-3).join(' ')}`));

  let port = 0;
  const pgCtlStart = async (): Promise<void> => {
    const speed = opts.durable ? '' : ' -c fsync=off -c full_page_writes=off -c synchronous_commit=off';
    const serverOpts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1${speed}`;
    const r = await run([...prefix, join(bin, 'pg_ctl'), '-D', dir, '-o', serverOpts, '-l', join(dir, 'log'), '-t', '60', 'start', '-w'], dir);
    if (r.code !== 0) throw new Error(`postgres tests: pg_ctl start on port ${port} failed (exit ${r.code}): ${tail(dir)}`);
  };
  // A free port can be taken by someone else before the server binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await pgCtlStart();
      break;
    } catch (e) {
      if (attempt >= 3) giveUp(e);
    }
  }

  let frozen: number[] = [];
  const url = (db: string) => `postgres://${SUPERUSER}@127.0.0.1:${port}/${db}`;
  const pg: TestPostgres = {
    url: url('postgres'),
    port,
    dir,
    get running() {
      return postmasterPid(dir) !== undefined;
    },
    async start() {
      if (postmasterPid(dir) !== undefined) return;
      await pgCtlStart();
    },
    async stop() {
      if (postmasterPid(dir) === undefined) return;
      const r = await run([...prefix, join(bin, 'pg_ctl'), '-D', dir, '-m', 'fast', '-t', '60', 'stop', '-w'], dir);
      if (r.code !== 0) throw new Error(`postgres tests: pg_ctl stop failed (exit ${r.code}): ${r.out}`);
    },
    async kill() {
      const pids = killServer(dir);
      const deadline = Date.now() + 10_000;
      while (pids.some(exists)) {
        if (Date.now() > deadline) throw new Error(`postgres tests: server processes ${pids.filter(exists).join(',')} still exist 10 s after SIGKILL`);
        await Bun.sleep(20);
      }
    },
    async freeze() {
      const pm = postmasterPid(dir);
      if (pm === undefined) throw new Error('postgres tests: freeze() needs a running server');
      frozen = [];
      for (const p of [pm, ...childrenOf(pm)]) {
        try {
          process.kill(p, 'SIGSTOP');
          frozen.push(p);
        } catch (e) {
          // A backend of a connection that just closed may end between the listing and the signal.
          if ((e as NodeJS.ErrnoException).code !== 'ESRCH' || p === pm) throw e;
        }
      }
    },
    async thaw() {
      for (const p of frozen.splice(0)) {
        try {
          process.kill(p, 'SIGCONT');
        } catch {
          // ended meanwhile
        }
      }
    },
    async createDatabase(name: string) {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`postgres tests: database name ${JSON.stringify(name)}: use lowercase letters, digits and _`);
      const admin = new SQL(pg.url, { max: 1 });
      try {
        await admin.unsafe(`CREATE DATABASE "${name}"`);
      } finally {
        await admin.close();
      }
      return url(name);
    },
    async close() {
      try {
        await pg.stop();
      } catch {
        killServer(dir);
      }
      live.delete(entry);
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => {
      try {
        return readFileSync(join(dir, 'log'), 'utf8');
      } catch {
        return '';
      }
    },
  };
  return pg;
}

/**
 * A shell in its own session that outlives this process: once the test process is gone (even
 * SIGKILLed, when no exit handler runs) it stops the server and removes the folder. It ends by
 * itself when `close()` has removed the folder.
 */
function startWatchdog(dir: string): void {
  const d = `'${dir.replace(/'/g, `'\\''`)}'`;
  const script = `while kill -0 ${process.pid} 2>/dev/null && [ -d ${d} ]; do sleep 1; done; [ -d ${d} ] || exit 0; ` +
    `pm=$(head -n1 ${d}/postmaster.pid 2>/dev/null); ` +
    `if [ -n "$pm" ]; then kids=$(pgrep -P "$pm"); kill -9 "$pm" $kids 2>/dev/null; fi; rm -rf ${d}`;
  // Started through a shell that backgrounds it and exits, so the watchdog is nobody's child here:
  // `bun test` kills the child processes a timed-out test leaves behind, and must not kill this one.
  Bun.spawnSync(['sh', '-c', 'setsid sh -c "$1" </dev/null >/dev/null 2>&1 &', 'otaflux-pg-watchdog', script]);
}

function tail(dir: string): string {
  try {
    return readFileSync(join(dir, 'log'), 'utf8').trim().split('\n').slice(-3).join(' | ');
  } catch {
    return '(no server log)';
  }
}

let shared: Promise<TestPostgres> | undefined;

/** One server per test process, started on first use: take a database of your own with `createDatabase`. */
export function sharedPostgres(): Promise<TestPostgres> {
  shared ??= startPostgres().catch((e) => {
    shared = undefined;
    throw e;
  });
  return shared;
}
