/**
 * The compiled OtaFlux binary for tests, built once per source state with scripts/build.ts and
 * shared by every test file (and by later runs) through a cache dir keyed by a hash of what goes
 * into it: src/, package.json, the lockfile, the build script and the Bun version.
 *
 *     const bin = await compiledBinary('linux-x64');   // { path, built, buildMs }
 *     const p = await startBinary(bin.path, ['--firmware-dir', dir], { cwd });
 *     p.url   // http://127.0.0.1:<port> read from its "device API listening" log line
 *     await p.stop();
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { buildBinary, ROOT, type BinaryTarget } from '../../scripts/build.ts';

const CACHE_ROOT = join(tmpdir(), 'otaflux-test-binaries');
/** Cache entries of other source states are removed once they are this old. */
const STALE_MS = 6 * 3600_000;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && !e.name.endsWith('.test.ts'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** Hash of everything the binary is built from. */
export function sourceHash(): string {
  const h = new Bun.CryptoHasher('sha256');
  h.update(Bun.version);
  const inputs = [...filesUnder(join(ROOT, 'src')), join(ROOT, 'package.json'), join(ROOT, 'package-lock.json'), join(ROOT, 'scripts', 'build.ts')];
  for (const f of inputs) {
    if (!existsSync(f)) continue;
    h.update(relative(ROOT, f));
    h.update('\0');
    h.update(readFileSync(f));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

export interface CompiledBinary {
  path: string;
  /** Whether this call built it (false: taken from the cache). */
  built: boolean;
  buildMs: number;
}

const pending = new Map<BinaryTarget, Promise<CompiledBinary>>();

/** The binary for `target`, built at most once per source state. */
export function compiledBinary(target: BinaryTarget = 'linux-x64'): Promise<CompiledBinary> {
  let p = pending.get(target);
  if (!p) pending.set(target, (p = buildCached(target)));
  return p;
}

async function buildCached(target: BinaryTarget): Promise<CompiledBinary> {
  const key = sourceHash();
  const dir = join(CACHE_ROOT, key);
  const path = join(dir, `otaflux-${target}`);
  if (existsSync(path)) return { path, built: false, buildMs: 0 };
  mkdirSync(dir, { recursive: true });
  pruneStale(key);
  // Build beside the final name, then rename: a concurrent run never sees half a binary.
  const partial = `${path}.${process.pid}.partial`;
  const r = await buildBinary({ target, outfile: partial });
  renameSync(partial, path);
  console.log(`[test/build] built ${target} binary in ${(r.ms / 1000).toFixed(1)} s (${(r.bytes / 1024 / 1024).toFixed(0)} MiB) → ${path}`);
  return { path, built: true, buildMs: r.ms };
}

function pruneStale(keep: string): void {
  for (const name of readdirSync(CACHE_ROOT)) {
    if (name === keep) continue;
    const d = join(CACHE_ROOT, name);
    try {
      if (Date.now() - statSync(d).mtimeMs > STALE_MS) rmSync(d, { recursive: true, force: true });
    } catch {
      // Another run removed it first.
    }
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the binary (optionally through a wrapper such as qemu) to completion. */
export async function runBinary(cmd: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunResult> {
  const p = Bun.spawn(cmd, {
    cwd: opts.cwd ?? tmpdir(),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...opts.env },
    stdout: 'pipe',
    stderr: 'pipe',
    timeout: opts.timeoutMs ?? 30_000,
  });
  const [code, stdout, stderr] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code, stdout, stderr };
}

export interface RunningBinary {
  url: string;
  pid: number;
  /** Log lines (stderr) so far. */
  logs: string[];
  stop(): Promise<number>;
}

/**
 * Starts the binary as a server and waits for its "device API listening" log line (pass
 * `--listen-addr 127.0.0.1:0` so the OS picks the port). Rejects with the logs when it exits first.
 */
export async function startBinary(cmd: string[], opts: { cwd: string; env?: Record<string, string>; timeoutMs?: number }): Promise<RunningBinary> {
  const p = Bun.spawn(cmd, {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...opts.env },
    stdout: 'ignore',
    stderr: 'pipe',
  });
  const logs: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { p.kill(); reject(new Error(`no "device API listening" line within ${opts.timeoutMs ?? 20_000} ms:\n${logs.join('\n')}`)); }, opts.timeoutMs ?? 20_000);
    void p.exited.then((code) => { clearTimeout(timer); reject(new Error(`exited ${code} before listening:\n${logs.join('\n')}`)); });
    void (async () => {
      let rest = '';
      const dec = new TextDecoder();
      for await (const chunk of p.stderr as ReadableStream<Uint8Array>) {
        rest += dec.decode(chunk, { stream: true });
        const lines = rest.split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) {
          logs.push(line);
          const m = /"msg":"device API listening".*"url":"(http:\/\/[^"]+)"/.exec(line);
          if (m) { clearTimeout(timer); resolve(m[1] as string); }
        }
      }
    })();
  });
  return {
    url,
    pid: p.pid,
    logs,
    async stop() {
      p.kill('SIGTERM');
      const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
      const code = await p.exited;
      clearTimeout(timer);
      return code;
    },
  };
}
