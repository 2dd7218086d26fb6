/**
 * `bun run bench` (not a test): OtaFlux beside nginx on the same machine, in the same run, serving
 * the same bytes. nginx (Debian nginx-light, sendfile on) runs with 1 worker and with
 * `worker_processes auto`; load comes from `wrk` over loopback, keep-alive.
 *
 *   /version    requests/s, 64 connections; nginx serves a static file with the same 3-line body
 *   fleet       /version with fleet control deciding: 10 000 instances (a wrk Lua script names one per
 *               request), check-ins recorded, a rollout at 50 % on the stream; nginx 1 worker answers
 *               the same requests from its static file
 *   mtls        /version over mutual TLS with keep-alive beside nginx doing the same mTLS work
 *               (bench/mtls.ts run as a child, keep-alive only, same rounds and duration)
 *   /firmware   throughput for a 4 MiB image, 64 connections
 *   RSS         OtaFlux VmRSS (peak of /proc/<pid>/status samples) while 200 clients download at
 *               once: fast readers (wrk -c200) and slow readers (200 sockets reading ~1 MB/s each)
 *   start-up    spawn → first answered /version (median of N), and idle RSS after it
 *
 * Each measurement is repeated (`--repeat 3`, interleaved) and the median is reported.
 *
 *     bun run bench [--binary PATH | --source] [--repeat 3] [--duration 5] [--threads 1]
 *                   [--only version,fleet,mtls,firmware,rss,startup] [--startup-runs 10] [--oci]
 *                   [--fleet-sim [--fleet-sim-devices 10000,100000] [--fleet-sim-duration 60]]
 *                   [--otaflux-env NAME=VALUE,…]
 *
 * Targets (core for core: OtaFlux is one process, so the ratios that count are against nginx with
 * one worker): /version ≥ 1.3×, /version with fleet control ≥ 1.3×, /version over mTLS keep-alive
 * ≥ 1.0×, /firmware ≥ 1.0×. Every row also prints CPU per request (user + system from /proc), which
 * moves much less than requests/s when other work shares the machine. `--fleet-sim` then runs
 * bench/fleet-sim.ts (simulated fleets of 10 000 and 100 000 devices; a few minutes).
 * `--otaflux-env`: environment variables for the OtaFlux processes (an allocator setting such as
 * `MIMALLOC_PURGE_DELAY=-1`); printed with the results.
 *
 * Default OtaFlux: the compiled binary dist/otaflux (built first when missing); `--source` runs
 * `bun src/main.ts` instead. `--oci` serves the image from a
 * real registry (Debian's docker-registry on loopback, the artifact pushed as oras does) instead of a
 * firmware folder: the rows then measure OtaFlux with a warm cache in front of a registry. Other
 * work on the machine skews the numbers: the load average is printed at the start and the end.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { buildBinary, ROOT } from '../scripts/build.ts';
import { benchWorkspace, freePort, median, nginxConfig } from './support.ts';

const { values: opt } = parseArgs({
  options: {
    binary: { type: 'string' },
    source: { type: 'boolean', default: false },
    repeat: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    threads: { type: 'string', default: '1' },
    only: { type: 'string', default: 'version,fleet,mtls,firmware,rss,startup' },
    'fleet-sim': { type: 'boolean', default: false },
    'fleet-sim-devices': { type: 'string', default: '10000,100000' },
    'fleet-sim-duration': { type: 'string', default: '60' },
    'startup-runs': { type: 'string', default: '10' },
    'image-mib': { type: 'string', default: '4' },
    oci: { type: 'boolean', default: false },
    'otaflux-env': { type: 'string', default: '' },
  },
});
const REPEAT = Number(opt.repeat);
const DURATION = `${Number(opt.duration)}s`;
const THREADS = String(Number(opt.threads));
const ONLY = new Set(String(opt.only).split(','));
const IMAGE_BYTES = Number(opt['image-mib']) * 1024 * 1024;
const DEVICE = 'bench-dev';
const OTAFLUX_ENV: Record<string, string> = Object.fromEntries(String(opt['otaflux-env']).split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));

const { work, children } = benchWorkspace('otaflux-bench-');

async function waitFor(url: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) return;
    await Bun.sleep(10);
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

// ---------------------------------------------------------------- OtaFlux

async function otafluxCommand(): Promise<string[]> {
  if (opt.source) return [process.execPath, join(ROOT, 'src', 'main.ts')];
  if (opt.binary) return [resolve(opt.binary)];
  const dist = join(ROOT, 'dist', 'otaflux');
  if (existsSync(dist)) return [dist];
  console.log('building dist/otaflux …');
  await buildBinary({ target: 'linux-x64', outfile: dist });
  return [dist];
}

interface Proc {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** `sourceArgs`: `--firmware-dir DIR`, or the registry flags. */
async function startOtaflux(cmd: string[], sourceArgs: string[], env: Record<string, string> = {}): Promise<Proc> {
  const port = await freePort();
  const cwd = mkdtempSync(join(work, 'otaflux-run-'));
  const p = Bun.spawn(
    [...cmd, ...sourceArgs, '--listen-addr', `127.0.0.1:${port}`, '--metrics-listen-addr', '127.0.0.1:0', '--cache-dir', join(cwd, 'cache'), '--log-level', 'error'],
    { cwd, stdout: 'ignore', stderr: 'inherit', env: { ...process.env, ...OTAFLUX_ENV, ...env } },
  );
  children.push(p);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/health`);
  return { url, pid: p.pid, async stop() { p.kill('SIGTERM'); await p.exited; } };
}

// ---------------------------------------------------------------- nginx

async function startNginx(root: string, workers: '1' | 'auto'): Promise<Proc> {
  const port = await freePort();
  const dir = mkdtempSync(join(work, `nginx-${workers}-`));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'tmp'));
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig({ dir, workers, port, root }));
  const p = Bun.spawn(['nginx', '-c', conf, '-p', dir], { stdout: 'ignore', stderr: 'inherit' });
  children.push(p);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/version`);
  return { url, pid: p.pid, async stop() { p.kill('SIGQUIT'); await p.exited; } };
}

// ---------------------------------------------------------------- wrk

interface WrkResult {
  rps: number;
  requests: number;
  bytesPerSec: number;
  errors: string;
}

function parseSize(s: string): number {
  const m = /^([\d.]+)([KMGT]?)B?$/.exec(s);
  if (!m) return NaN;
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2] as ''];
  return Number(m[1]) * unit;
}

async function wrk(url: string, connections: number, script?: string, duration = DURATION): Promise<WrkResult> {
  const p = Bun.spawn(['wrk', '-t', THREADS, '-c', String(connections), '-d', duration, ...(script ? ['-s', script] : []), url], { stdout: 'pipe', stderr: 'pipe' });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const transfer = parseSize(/Transfer\/sec:\s+(\S+)/.exec(out)?.[1] ?? '');
  if (!Number.isFinite(rps)) throw new Error(`wrk ${url}: no result\n${out}${err}`);
  const errors = [/Socket errors:.*/.exec(out)?.[0], /Non-2xx or 3xx responses: \d+/.exec(out)?.[0]].filter(Boolean).join('; ');
  return { rps, requests, bytesPerSec: transfer, errors };
}

// ---------------------------------------------------------------- CPU

/**
 * CPU time (user + system, in clock ticks of 10 ms) used so far by a process and its children
 * (nginx workers). Unlike requests/s, CPU per request hardly depends on what else runs.
 */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  let ticks = Number(fields[11]) + Number(fields[12]);
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  for (const child of children ? children.split(' ') : []) ticks += cpuTicks(Number(child));
  return ticks;
}

// ---------------------------------------------------------------- RSS

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

/** Samples VmRSS every 50 ms while `load` runs; returns the peak in MiB. */
async function peakRss(pid: number, load: () => Promise<unknown>): Promise<number> {
  let peak = rssKiB(pid);
  let running = true;
  const sampler = (async () => {
    while (running) {
      peak = Math.max(peak, rssKiB(pid));
      await Bun.sleep(50);
    }
  })();
  await load();
  peak = Math.max(peak, rssKiB(pid));
  running = false;
  await sampler;
  return peak / 1024;
}

/**
 * `clients` raw keep-alive sockets each GET /firmware and read slowly (a chunk, then a pause), like
 * devices on a slow link, for `ms`. Returns the bytes read in total.
 */
async function slowDownloads(baseUrl: string, clients: number, ms: number): Promise<number> {
  const { hostname, port } = new URL(baseUrl);
  let total = 0;
  const sockets = Array.from({ length: clients }, () => {
    const s = connect(Number(port), hostname, () => s.write(`GET /firmware?device=${DEVICE} HTTP/1.1\r\nHost: bench\r\nConnection: keep-alive\r\n\r\n`));
    s.on('data', (c: Buffer) => {
      total += c.length;
      s.pause();
      setTimeout(() => s.resume(), 40);
    });
    s.on('error', () => {});
    return s;
  });
  await Bun.sleep(ms);
  for (const s of sockets) s.destroy();
  return total;
}

// ---------------------------------------------------------------- start-up

async function startupOnce(cmd: string[], firmwareDir: string): Promise<{ ms: number; idleRssMiB: number }> {
  const port = await freePort();
  const cwd = join(work, 'startup');
  mkdirSync(cwd, { recursive: true });
  // One cache dir for every run: the release is built by a warm-up run, as after a restart.
  const url = `http://127.0.0.1:${port}/version?device=${DEVICE}`;
  const t0 = performance.now();
  const p = Bun.spawn([...cmd, '--firmware-dir', firmwareDir, '--listen-addr', `127.0.0.1:${port}`, '--metrics-listen-addr', '127.0.0.1:0', '--cache-dir', join(cwd, 'cache'), '--log-level', 'error'], {
    env: { ...process.env, ...OTAFLUX_ENV },
    cwd,
    stdout: 'ignore',
    stderr: 'inherit',
  });
  children.push(p);
  let ms = NaN;
  for (;;) {
    const ok = await fetch(url).then((r) => r.status === 200, () => false);
    if (ok) { ms = performance.now() - t0; break; }
    if (performance.now() - t0 > 20_000) throw new Error('start-up took over 20 s');
    await Bun.sleep(1);
  }
  await Bun.sleep(1000);
  const idleRssMiB = rssKiB(p.pid) / 1024;
  p.kill('SIGTERM');
  await p.exited;
  return { ms, idleRssMiB };
}

// ---------------------------------------------------------------- main

const fmtRate = (n: number) => `${(n / 1000).toFixed(1)}k req/s`;
const fmtBytes = (n: number) => `${(n / 1024 ** 3).toFixed(2)} GiB/s`;

const cmd = await otafluxCommand();
console.log(`OtaFlux: ${cmd.join(' ')}${opt['otaflux-env'] ? ` with ${opt['otaflux-env']}` : ''}`);
console.log(`load average at start: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (${navigator.hardwareConcurrency} CPUs); wrk -t${THREADS} -d${DURATION}, ${REPEAT} rounds, medians\n`);

const firmwareDir = join(work, 'firmware');
mkdirSync(join(firmwareDir, DEVICE), { recursive: true });
const image = randomBytes(IMAGE_BYTES);
writeFileSync(join(firmwareDir, DEVICE, '1.0.0.bin'), image);
if (!opt.oci) writeFileSync(join(firmwareDir, DEVICE, '0.9.0.bin'), image.subarray(0, 1024 * 1024)); // the release outside the fleet row's rollout

let sourceArgs = ['--firmware-dir', firmwareDir];
let stopRegistry = async () => {};
if (opt.oci) {
  const { pushArtifact, startRegistry } = await import('../test/support/registry.ts');
  const registry = await startRegistry();
  stopRegistry = () => registry.close();
  await pushArtifact(registry, `bench/${DEVICE}`, '0.9.0', [{ name: 'firmware.bin', data: image.subarray(0, 1024 * 1024), mediaType: 'application/octet-stream' }]);
  await pushArtifact(registry, `bench/${DEVICE}`, '1.0.0', [{ name: 'firmware.bin', data: image, mediaType: 'application/octet-stream' }]);
  sourceArgs = ['--registry-url', registry.host, '--registry-insecure', '--repository-prefix', 'bench'];
  console.log(`source: registry ${registry.host} (docker-registry), repository bench/${DEVICE}`);
}
const ota = await startOtaflux(cmd, sourceArgs);

// Fleet control deciding every poll: 10 000 instances, check-ins, a rollout at 50 % of 1.0.0 (the
// rest get 0.9.0). Same source, its own cache and state store.
const INSTANCES = 10_000;
const instancesLua = join(work, 'instances.lua');
writeFileSync(instancesLua, `local n = 0\nrequest = function()\n  n = (n + 1) % ${INSTANCES}\n  return wrk.format(nil, "/version?device=${DEVICE}&instance=unit-" .. n)\nend\n`);
let otaFleet: Proc | undefined;
if (ONLY.has('fleet')) {
  const fleetConfig = join(work, 'fleet.config.ts');
  const source = opt.oci ? `oci({ url: '${sourceArgs[1]}', insecure: true, prefix: 'bench' })` : `dir({ root: ${JSON.stringify(firmwareDir)} })`;
  writeFileSync(fleetConfig, `import { defineConfig, dir, oci } from 'otaflux';
export default defineConfig({
  defaults: { source: ${source} },
  fleet: { rollouts: [{ id: 'bench', streams: '${DEVICE}', version: '1.0.0', steps: [{ percent: 50, soak: 86400 }], gates: { minSample: 1000000 } }] },
});
`);
  otaFleet = await startOtaflux(cmd, ['--config', fleetConfig]);
}
const versionBody = await (await fetch(`${ota.url}/version?device=${DEVICE}`)).text();
const served = Buffer.from(await (await fetch(`${ota.url}/firmware?device=${DEVICE}`)).arrayBuffer());
if (!served.equals(image)) throw new Error('OtaFlux served other bytes than the image');

const www = join(work, 'www');
mkdirSync(www);
writeFileSync(join(www, 'version.txt'), versionBody);
writeFileSync(join(www, 'firmware.bin'), image);
chmodSync(www, 0o755);
const nginx1 = await startNginx(www, '1');
const nginxAuto = await startNginx(www, 'auto');
for (const n of [nginx1, nginxAuto]) {
  const body = await (await fetch(`${n.url}/version?device=${DEVICE}`)).text();
  if (body !== versionBody) throw new Error(`nginx /version body differs: ${JSON.stringify(body)}`);
}

type Name = 'otaflux' | 'nginx 1 worker' | 'nginx auto';
const servers: Record<Name, Proc> = { otaflux: ota, 'nginx 1 worker': nginx1, 'nginx auto': nginxAuto };
const results: Record<string, Record<Name, number[]>> = {};
const note = (metric: string, name: Name, v: number) => (((results[metric] ??= {} as Record<Name, number[]>)[name] ??= []).push(v));
const errors: string[] = [];

// A 2 s warm-up of every server before the rounds (as bench/ab.ts does): the fleet row measures
// polls of known instances, not the first contact of 10 000 new ones (their first offer and check-in).
for (const server of Object.values(servers)) await wrk(`${server.url}/version?device=${DEVICE}`, 64, undefined, '2s');
if (otaFleet) await wrk(`${otaFleet.url}/version`, 64, instancesLua, '2s');

for (let round = 1; round <= REPEAT; round++) {
  for (const name of Object.keys(servers) as Name[]) {
    const base = (servers[name] as Proc).url;
    if (ONLY.has('version')) {
      const pid = (servers[name] as Proc).pid;
      const before = cpuTicks(pid);
      const r = await wrk(`${base}/version?device=${DEVICE}`, 64);
      note('version', name, r.rps);
      note('version-cpu', name, ((cpuTicks(pid) - before) * 10_000) / r.requests);
      if (r.errors) errors.push(`${name} /version: ${r.errors}`);
    }
    if (ONLY.has('firmware')) {
      const r = await wrk(`${base}/firmware?device=${DEVICE}`, 64);
      note('firmware', name, r.rps * IMAGE_BYTES);
      if (r.errors) errors.push(`${name} /firmware: ${r.errors}`);
    }
  }
  if (otaFleet) {
    for (const [name, server] of [['otaflux', otaFleet], ['nginx 1 worker', nginx1]] as const) {
      const before = cpuTicks(server.pid);
      const r = await wrk(`${server.url}/version`, 64, instancesLua);
      note('fleet', name, r.rps);
      note('fleet-cpu', name, ((cpuTicks(server.pid) - before) * 10_000) / r.requests);
      if (r.errors) errors.push(`${name} /version (fleet): ${r.errors}`);
    }
  }
  if (ONLY.has('rss')) {
    note('rss-fast', 'otaflux', await peakRss(ota.pid, () => wrk(`${ota.url}/firmware?device=${DEVICE}`, 200)));
    let bytes = 0;
    note('rss-slow', 'otaflux', await peakRss(ota.pid, async () => (bytes = await slowDownloads(ota.url, 200, 5000))));
    note('slow-throughput', 'otaflux', bytes / 5);
  }
  console.log(`round ${round}/${REPEAT} done (load ${loadavg()[0]!.toFixed(2)})`);
}
const idleAfterLoad = rssKiB(ota.pid) / 1024;
await Promise.all([ota.stop(), nginx1.stop(), nginxAuto.stop(), otaFleet?.stop()]);
await stopRegistry();

// mTLS keep-alive: bench/mtls.ts (its own PKI, OtaFlux and nginx) with the same rounds and duration.
let mtls: { otaflux: number; nginx: number; cpuOtaflux: number; cpuNginx: number } | undefined;
if (ONLY.has('mtls')) {
  console.log('mTLS keep-alive rounds (bench/mtls.ts) …');
  const p = Bun.spawn([process.execPath, join(import.meta.dir, 'mtls.ts'), '--json', '--only', 'keep-alive', '--repeat', String(REPEAT), '--duration', String(Number(opt.duration)), ...(cmd.length === 1 ? ['--binary', cmd[0] as string] : [])], { stdout: 'pipe', stderr: 'inherit', env: { ...process.env, ...OTAFLUX_ENV } });
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  const line = out.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`bench/mtls.ts failed (exit ${code}):\n${out}`);
  mtls = (JSON.parse(line) as { mtls: Record<string, typeof mtls> }).mtls['keep-alive'];
}

const startups: { ms: number; idleRssMiB: number }[] = [];
if (ONLY.has('startup')) {
  await startupOnce(cmd, firmwareDir);
  for (let i = 0; i < Number(opt['startup-runs']); i++) startups.push(await startupOnce(cmd, firmwareDir));
}

console.log('');
const row = (cells: string[]) => console.log(`| ${cells.join(' | ')} |`);
if (results.version || results.firmware) {
  row(['measure', 'OtaFlux', 'nginx 1 worker', 'nginx auto', 'OtaFlux / nginx 1w', 'OtaFlux / nginx auto', 'target']);
  row(Array(7).fill('---'));
  const line = (metric: string, label: string, fmt: (n: number) => string, target: number) => {
    const r = results[metric];
    if (!r) return;
    const [o, n1, na] = [median(r.otaflux), median(r['nginx 1 worker']), median(r['nginx auto'])];
    const ok = (x: number) => (x >= target ? 'ok' : 'MISSED');
    row([label, fmt(o), fmt(n1), fmt(na), `${(o / n1).toFixed(2)}× ${ok(o / n1)}`, `${(o / na).toFixed(2)}× ${ok(o / na)}`, `≥ ${target.toFixed(1)}×`]);
  };
  line('version', '/version, 64 conns', fmtRate, 1.3);
  if (results.fleet) {
    const [o, n1] = [median(results.fleet.otaflux), median(results.fleet['nginx 1 worker'])];
    row(['/version, fleet control (10 000 instances, check-ins, rollout at 50 %)', fmtRate(o), fmtRate(n1), '', `${(o / n1).toFixed(2)}× ${o / n1 >= 1.3 ? 'ok' : 'MISSED'}`, '', '≥ 1.3×']);
  }
  if (mtls) row(['/version over mTLS, keep-alive, 16 conns', fmtRate(mtls.otaflux), fmtRate(mtls.nginx), '', `${(mtls.otaflux / mtls.nginx).toFixed(2)}× ${mtls.otaflux / mtls.nginx >= 1.0 ? 'ok' : 'MISSED'}`, '', '≥ 1.0×']);
  line('firmware', `/firmware ${IMAGE_BYTES >> 20} MiB, 64 conns`, fmtBytes, 1.0);
  console.log('\nCPU per request (user+system, /proc/<pid>/stat, nginx workers included; lower is better):');
  const cpu = results['version-cpu'];
  const per = (xs: number[] | undefined) => (xs?.length ? `${median(xs).toFixed(1)} µs` : '–');
  if (cpu) console.log(`  /version:                OtaFlux ${per(cpu.otaflux)}, nginx 1 worker ${per(cpu['nginx 1 worker'])}, nginx auto ${per(cpu['nginx auto'])}`);
  const fc = results['fleet-cpu'];
  if (fc) console.log(`  /version, fleet control: OtaFlux ${per(fc.otaflux)}, nginx 1 worker ${per(fc['nginx 1 worker'])}`);
  if (mtls) console.log(`  /version over mTLS:      OtaFlux ${mtls.cpuOtaflux.toFixed(1)} µs, nginx 1 worker ${mtls.cpuNginx.toFixed(1)} µs`);
}
if (results['rss-fast']) {
  console.log('');
  console.log(`OtaFlux peak RSS, 200 fast downloads (wrk -c200):  ${median(results['rss-fast'].otaflux).toFixed(1)} MiB (target < 100 MB)`);
  console.log(`OtaFlux peak RSS, 200 slow downloads (~1 MB/s each): ${median(results['rss-slow']!.otaflux).toFixed(1)} MiB, ${(median(results['slow-throughput']!.otaflux) / 1024 ** 2).toFixed(0)} MiB/s in total`);
  console.log(`OtaFlux RSS after the load: ${idleAfterLoad.toFixed(1)} MiB`);
}
if (startups.length) {
  console.log('');
  console.log(`start-up to first answered /version: median ${median(startups.map((s) => s.ms)).toFixed(0)} ms (N=${startups.length}, min ${Math.min(...startups.map((s) => s.ms)).toFixed(0)}, max ${Math.max(...startups.map((s) => s.ms)).toFixed(0)})`);
  console.log(`idle RSS 1 s after the first answer: median ${median(startups.map((s) => s.idleRssMiB)).toFixed(1)} MiB`);
}
if (!opt.source && !opt.binary && existsSync(cmd[0] as string)) console.log(`binary size: ${(Bun.file(cmd[0] as string).size / 1024 ** 2).toFixed(1)} MiB (${cmd[0]})`);
if (errors.length) console.log(`\nerrors reported by wrk:\n  ${[...new Set(errors)].join('\n  ')}`);
console.log(`\nload average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
if (opt['fleet-sim']) {
  console.log('\nfleet simulator (bench/fleet-sim.ts) …');
  const p = Bun.spawn([process.execPath, join(import.meta.dir, 'fleet-sim.ts'), '--devices', String(opt['fleet-sim-devices']), '--duration', String(opt['fleet-sim-duration'])], { stdout: 'inherit', stderr: 'inherit' });
  process.exitCode = await p.exited;
}
process.exit(process.exitCode ?? 0);
