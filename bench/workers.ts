/**
 * `--workers 1` against `--workers 2` on one port (not a test): `/version` requests/s with `wrk`
 * pinned to one core by `taskset` (so the servers share what is left with it), nginx with one worker
 * and a worker per core in the same run for the ratio, and CPU per request of each server's whole
 * process tree. Rounds are interleaved; medians are printed with the load average before and after.
 *
 *     bun bench/workers.ts [--rounds 3] [--duration 5] [--connections 64] [--wrk-cpu 1]
 *
 * Needs `wrk`, `taskset` (util-linux) and `nginx-light`. OtaFlux runs from source (`bun src/main.ts`).
 */
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { mkdirSync, readFileSync, readdirSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { benchWorkspace, freePort, median, nginxConfig } from './support.ts';

const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '64' },
    'wrk-cpu': { type: 'string', default: '1' },
  },
});
const DEVICE = 'bench-dev';
const MAIN = join(import.meta.dir, '../src/main.ts');
const { work, children } = benchWorkspace('otaflux-bench-workers-');

interface Server {
  name: string;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await Bun.sleep(100);
  }
  throw new Error(`${url} did not answer`);
}

async function otaflux(workers: number, firmwareDir: string): Promise<Server> {
  const port = freePort();
  const cwd = join(work, `otaflux-${workers}`);
  mkdirSync(cwd);
  const p = Bun.spawn([process.execPath, MAIN, 'serve', '--firmware-dir', firmwareDir, '--workers', String(workers), '--listen-addr', `127.0.0.1:${port}`,
    '--metrics-listen-addr', '127.0.0.1:0', '--admin-listen-addr', 'false', '--cache-dir', join(cwd, 'cache'), '--log-level', 'error'], { cwd, stdout: 'ignore', stderr: 'inherit' });
  children.push(p);
  const url = `http://127.0.0.1:${port}`;
  // Every worker has answered once (fresh connections are spread over them) before measuring.
  for (let i = 0; i < 20 * workers; i++) await waitFor(`${url}/version?device=${DEVICE}`);
  return { name: `OtaFlux --workers ${workers}`, url: `${url}/version?device=${DEVICE}`, pid: p.pid, async stop() { p.kill('SIGTERM'); await p.exited; } };
}

async function nginx(workers: '1' | 'auto', root: string): Promise<Server> {
  const port = freePort();
  const dir = join(work, `nginx-${workers}`);
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  chmodSync(dir, 0o755);
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig({ dir, workers, port, root }));
  const p = Bun.spawn(['nginx', '-c', conf, '-p', dir], { stdout: 'ignore', stderr: 'inherit' });
  children.push(p);
  const url = `http://127.0.0.1:${port}/version`;
  await waitFor(url);
  return { name: `nginx, ${workers === '1' ? '1 worker' : 'a worker per core'}`, url, pid: p.pid, async stop() { p.kill('SIGQUIT'); await p.exited; } };
}

/** CPU ticks (user + system) of a process and all its descendants. */
function treeTicks(pid: number): number {
  const stat = (p: number) => readFileSync(`/proc/${p}/stat`, 'utf8');
  let total = 0;
  const kids = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const s = stat(Number(e));
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(f[1]);
      (kids.get(ppid) ?? kids.set(ppid, []).get(ppid)!).push(Number(e));
    } catch {
      // ended meanwhile
    }
  }
  const walk = (p: number) => {
    try {
      const f = stat(p).slice(stat(p).lastIndexOf(')') + 2).split(' ');
      total += Number(f[11]) + Number(f[12]);
    } catch {
      return;
    }
    for (const k of kids.get(p) ?? []) walk(k);
  };
  walk(pid);
  return total;
}

async function wrk(url: string): Promise<number> {
  const p = Bun.spawn(['taskset', '-c', opt['wrk-cpu'] as string, 'wrk', '-t', '1', '-c', opt.connections as string, '-d', `${opt.duration}s`, url], { stdout: 'pipe', stderr: 'pipe' });
  const out = await new Response(p.stdout).text();
  await p.exited;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  if (!Number.isFinite(rps) || /Non-2xx/.test(out)) throw new Error(`wrk ${url}:\n${out}`);
  return rps;
}

const firmwareDir = join(work, 'firmware');
mkdirSync(join(firmwareDir, DEVICE), { recursive: true });
writeFileSync(join(firmwareDir, DEVICE, '1.0.0.bin'), Buffer.alloc(1024 * 1024, 7));
const static_ = join(work, 'static');
mkdirSync(static_);
writeFileSync(join(static_, 'version.txt'), '1.0.0\n');
chmodSync(static_, 0o755);

const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
console.log(`load average at start: ${load()}; wrk pinned to CPU ${opt['wrk-cpu']}, ${opt.connections} connections, ${opt.rounds} × ${opt.duration} s rounds`);
const servers = [await otaflux(1, firmwareDir), await otaflux(2, firmwareDir), await nginx('1', static_), await nginx('auto', static_)];
const rps = new Map<string, number[]>(servers.map((s) => [s.name, []]));
const cpu = new Map<string, number[]>(servers.map((s) => [s.name, []]));
for (let round = 0; round < Number(opt.rounds); round++) {
  for (const s of servers) {
    const before = treeTicks(s.pid);
    const r = await wrk(s.url);
    const ticks = treeTicks(s.pid) - before;
    rps.get(s.name)!.push(r);
    // Ticks are 10 ms: µs of CPU per request.
    cpu.get(s.name)!.push((ticks * 10_000) / (r * Number(opt.duration)));
  }
}
console.log(`load average at end: ${load()}`);
const nginx1 = median(rps.get('nginx, 1 worker')!);
const nginxAuto = median(rps.get('nginx, a worker per core')!);
console.log('\n| server | /version req/s (median) | / nginx 1 worker | / nginx per core | CPU µs per request |');
console.log('|---|---|---|---|---|');
for (const s of servers) {
  const m = median(rps.get(s.name)!);
  console.log(`| ${s.name} | ${(m / 1000).toFixed(1)}k | ${(m / nginx1).toFixed(2)}× | ${(m / nginxAuto).toFixed(2)}× | ${median(cpu.get(s.name)!).toFixed(1)} |`);
}
for (const s of servers) await s.stop();
