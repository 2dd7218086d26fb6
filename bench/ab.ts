/**
 * A/B of a change to the request path (not a test): `bun bench/ab.ts --base <git rev>`.
 *
 * Runs the server from this tree (B) and from `<git rev>` (A, extracted with `git archive` into a
 * temp folder sharing this tree's node_modules) side by side, serving the same firmware folder,
 * and loads them in interleaved rounds (`wrk -t1 -c64`, keep-alive). Prints the median CPU time per
 * `/version` request of each (user + system from /proc/<pid>/stat): on a machine shared with other
 * work, requests/s move by ±30 % between rounds, CPU per request much less. Each round runs A and B
 * back to back, so it also prints the median of the per-round ratios B / A, which drifting load
 * (the next minute busier than the last) moves less than either median alone.
 *
 *     bun bench/ab.ts --base HEAD~1 [--rounds 5] [--duration 3] [--instances 10000] [--fleet rollout|checkins|off]
 *                     [--log-level error] [--b-env NAME=VALUE,…]
 *
 * `--instances N`: each request names one of N instances (a wrk Lua script), as a fleet polls.
 * `--fleet rollout`: a rollout at 50 % decides every poll (the default `checkins`: fleet control
 * on, no rollout; `off`: fleet control off). `--b-env`: environment variables for B only, e.g.
 * `--base HEAD --b-env MIMALLOC_PURGE_DELAY=-1` measures an allocator setting on the same code.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { benchWorkspace, freePort, median } from './support.ts';

const { values: opt } = parseArgs({
  options: {
    base: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '3' },
    instances: { type: 'string', default: '0' },
    fleet: { type: 'string', default: 'checkins' },
    'log-level': { type: 'string', default: 'error' },
    'b-env': { type: 'string', default: '' },
  },
});
if (!opt.base) throw new Error('--base <git rev> is required');
const ROOT = resolve(import.meta.dir, '..');
const { work, children } = benchWorkspace('otaflux-ab-');

const baseTree = join(work, 'base');
mkdirSync(baseTree);
const archive = Bun.spawnSync(['git', 'archive', opt.base, 'src', 'package.json', 'tsconfig.json', 'bunfig.toml'], { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' });
if (archive.exitCode !== 0) throw new Error(`git archive ${opt.base}: ${archive.stderr.toString()}`);
Bun.spawnSync(['tar', '-x', '-C', baseTree], { stdin: archive.stdout });
symlinkSync(join(ROOT, 'node_modules'), join(baseTree, 'node_modules'));

const fw = join(work, 'fw');
mkdirSync(join(fw, 'bench-a'), { recursive: true });
writeFileSync(join(fw, 'bench-a', '1.0.0.bin'), Buffer.alloc(4096, 1));
writeFileSync(join(fw, 'bench-a', '1.1.0.bin'), Buffer.alloc(4096, 2));
const fleet = { off: '{ enabled: false }', checkins: '{}', rollout: `{ rollouts: [{ id: 'ab', streams: 'bench-a', version: '1.1.0', steps: [{ percent: 50, soak: 86400 }], gates: { minSample: 1000000 } }] }` }[opt.fleet as 'off'];
if (!fleet) throw new Error('--fleet: expected rollout, checkins or off');
const instances = Number(opt.instances);
const lua = join(work, 'instances.lua');
writeFileSync(lua, `local n = 0\nrequest = function()\n  n = (n + 1) % ${Math.max(1, instances)}\n  return wrk.format(nil, "/version?device=bench-a&instance=unit-" .. n)\nend\n`);

const bEnv = Object.fromEntries(String(opt['b-env']).split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));

async function start(name: string, tree: string, extraEnv: Record<string, string> = {}): Promise<{ name: string; url: string; pid: number }> {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'otaflux.config.ts'), `import { defineConfig, dir } from 'otaflux';\nexport default defineConfig({ defaults: { source: dir({ root: ${JSON.stringify(fw)} }) }, fleet: ${fleet} });\n`);
  const port = freePort();
  const p = Bun.spawn([process.execPath, join(tree, 'src/main.ts'), '--config', join(dir, 'otaflux.config.ts'), '--listen-addr', `127.0.0.1:${port}`, '--metrics-listen-addr', '127.0.0.1:0', '--cache-dir', join(dir, 'cache'), '--log-level', String(opt['log-level'])], { cwd: dir, stdout: 'ignore', stderr: 'inherit', env: { ...process.env, ...extraEnv } });
  children.push(p);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300 && !(await fetch(`${url}/version?device=bench-a`).then((r) => r.ok, () => false)); i++) await Bun.sleep(100);
  return { name, url, pid: p.pid };
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

async function round(s: { url: string; pid: number }, duration: string): Promise<number> {
  const before = cpuTicks(s.pid);
  const args = instances > 0 ? ['-s', lua, `${s.url}/version`] : [`${s.url}/version?device=bench-a`];
  const p = Bun.spawn(['wrk', '-t1', '-c64', '-d', duration, ...args], { stdout: 'pipe', stderr: 'pipe' });
  const out = await new Response(p.stdout).text();
  await p.exited;
  const n = Number(/(\d+) requests in/.exec(out)?.[1]);
  if (!n || /Non-2xx/.test(out)) throw new Error(`wrk: ${out}`);
  return ((cpuTicks(s.pid) - before) * 10_000) / n;
}

console.log(`load average at start: ${loadavg().map((x) => x.toFixed(2)).join(' ')}; A = ${opt.base}, B = this tree; fleet ${opt.fleet}, ${instances || 1} instance(s), log level ${opt['log-level']}${opt['b-env'] ? `; B with ${opt['b-env']}` : ''}`);
const servers = [await start('A', baseTree), await start('B', ROOT, bEnv)];
for (const s of servers) await round(s, '2s'); // warm-up
const us: Record<string, number[]> = { A: [], B: [] };
for (let r = 0; r < Number(opt.rounds); r++) {
  for (const s of r % 2 ? [...servers].reverse() : servers) us[s.name]?.push(await round(s, `${Number(opt.duration)}s`));
}
const [a, b] = [median(us.A ?? []), median(us.B ?? [])];
const ratios = (us.B ?? []).map((x, i) => x / (us.A?.[i] ?? NaN));
console.log(`A ${us.A?.map((x) => x.toFixed(1)).join(' ')} µs → median ${a.toFixed(1)} µs`);
console.log(`B ${us.B?.map((x) => x.toFixed(1)).join(' ')} µs → median ${b.toFixed(1)} µs  (${(((b - a) / a) * 100).toFixed(1)} %)`);
console.log(`B / A per round ${ratios.map((x) => x.toFixed(2)).join(' ')} → median ${median(ratios).toFixed(3)}`);
console.log(`load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
process.exit(0);
