/**
 * Fleet control costs, measured on this machine (`bun bench/fleet.ts [--pg]`):
 *
 * 1. `/version` CPU per request (user+system of the OtaFlux process from /proc/<pid>/stat, divided by
 *    the requests wrk completed), for three servers run interleaved in the same rounds:
 *      off       fleet control off (`fleet.enabled: false`): the server as it was before it
 *      checkins  fleet on, check-ins recorded, no rollout on the stream (the default)
 *      rollout   fleet on, check-ins recorded, a rollout at 50 % deciding every poll (bucket, offer)
 *    Each request names one of 10 000 instances (`instance=` from a wrk Lua script), so check-ins
 *    are coalesced per instance as in a real fleet. Log level `error` for all three.
 * 2. State-store writes for 10 000 devices polling every 60 s: 167 check-ins per second, written as
 *    one transaction per flush; how long one flush takes, and how many rows per second the store
 *    can take at most (batches of 2 000), on SQLite (and PostgreSQL with --pg, durable settings).
 *
 * Needs `wrk` (Debian). Prints the load average at the start and the end: other work on the machine
 * moves the figures; compare only within one run.
 */
import { loadavg } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchWorkspace, freePort, median } from './support.ts';
import { FleetStore, type InstanceRow } from '../src/fleet/store.ts';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const DURATION = process.env.DURATION ?? '6s';
const INSTANCES = 10_000;
const MAIN = join(import.meta.dir, '../src/main.ts');
const { work, children } = benchWorkspace('otaflux-bench-fleet-');

const fw = join(work, 'fw');
mkdirSync(join(fw, 'bench-a'), { recursive: true });
writeFileSync(join(fw, 'bench-a', '1.0.0.bin'), Buffer.alloc(4096, 1));
writeFileSync(join(fw, 'bench-a', '1.1.0.bin'), Buffer.alloc(4096, 2));
const lua = join(work, 'instances.lua');
writeFileSync(lua, `local n = 0\nrequest = function()\n  n = (n + 1) % ${INSTANCES}\n  return wrk.format(nil, "/version?device=bench-a&instance=unit-" .. n)\nend\n`);

function configFile(name: string, fleet: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  const path = join(dir, 'otaflux.config.ts');
  writeFileSync(path, `import { defineConfig, dir } from 'otaflux';\nexport default defineConfig({ defaults: { source: dir({ root: ${JSON.stringify(fw)} }) }, fleet: ${fleet} });\n`);
  return path;
}

const SERVERS = {
  off: configFile('off', '{ enabled: false }'),
  checkins: configFile('checkins', '{}'),
  rollout: configFile('rollout', `{ rollouts: [{ id: 'bench', streams: 'bench-a', version: '1.1.0', steps: [{ percent: 50, soak: 86400 }], gates: { minSample: 1000000 } }] }`),
} as const;
type Name = keyof typeof SERVERS;

async function start(name: Name): Promise<{ url: string; pid: number }> {
  const port = freePort();
  const child = Bun.spawn([process.execPath, MAIN, '--config', SERVERS[name], '--listen-addr', `127.0.0.1:${port}`, '--metrics-listen-addr', '127.0.0.1:0', '--cache-dir', join(work, `${name}-cache`), '--log-level', 'error'], { stdout: 'ignore', stderr: 'inherit' });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (await fetch(`${url}/version?device=bench-a&instance=warm`).then((r) => r.ok, () => false)) break;
    await Bun.sleep(100);
  }
  return { url, pid: child.pid };
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
}

async function wrk(url: string, duration = DURATION): Promise<number> {
  const p = Bun.spawn(['wrk', '-t1', '-c32', '-d', duration, '-s', lua, url], { stdout: 'pipe', stderr: 'pipe' });
  const out = await new Response(p.stdout).text();
  await p.exited;
  const m = /(\d+) requests in/.exec(out);
  if (!m) throw new Error(`wrk: no result\n${out}`);
  if (/Non-2xx/.test(out)) throw new Error(`wrk: non-2xx answers\n${out}`);
  return Number(m[1]);
}

console.log(`load average at start: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (${navigator.hardwareConcurrency} CPUs); wrk -t1 -c32 -d${DURATION}, ${ROUNDS} rounds interleaved, ${INSTANCES} instances\n`);
const servers = { off: await start('off'), checkins: await start('checkins'), rollout: await start('rollout') };
// Warm-up (not counted): every instance polls once, so the rounds measure a fleet that polls again.
for (const name of Object.keys(servers) as Name[]) await wrk(servers[name].url, '3s');
const perRequest: Record<Name, number[]> = { off: [], checkins: [], rollout: [] };
const rates: Record<Name, number[]> = { off: [], checkins: [], rollout: [] };
for (let round = 1; round <= ROUNDS; round++) {
  for (const name of Object.keys(servers) as Name[]) {
    const s = servers[name];
    const before = cpuSeconds(s.pid);
    const t0 = performance.now();
    const n = await wrk(s.url);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(s.pid) - before;
    perRequest[name].push((cpu / n) * 1e6);
    rates[name].push(n / seconds);
    console.log(`round ${round} ${name.padEnd(9)} ${((cpu / n) * 1e6).toFixed(1)} µs CPU/request, ${(n / seconds / 1000).toFixed(1)}k req/s (load ${loadavg()[0]?.toFixed(2)})`);
  }
}
const off = median(perRequest.off);
console.log('\n/version, CPU per request (median):');
for (const name of Object.keys(servers) as Name[]) {
  const m = median(perRequest[name]);
  console.log(`  ${name.padEnd(9)} ${m.toFixed(1)} µs  (${((m / off - 1) * 100).toFixed(1)} % vs off)  ${(median(rates[name]) / 1000).toFixed(1)}k req/s`);
}

// ---------------------------------------------------------------- the device path in process

/**
 * The same three set-ups without HTTP: `DeviceService.release()` for 10 000 instances in turn, CPU
 * time from process.cpuUsage(), interleaved rounds. Less noisy than the HTTP figures on a busy machine.
 */
async function inProcess(): Promise<void> {
  const { resolveSettings } = await import('../src/config/settings.ts');
  const { startRuntime } = await import('../src/runtime.ts');
  const { createLogger } = await import('../src/log.ts');
  const logger = createLogger({ level: 'off' });
  const runtimes = {} as Record<Name, Awaited<ReturnType<typeof startRuntime>>>;
  for (const name of Object.keys(SERVERS) as Name[]) {
    runtimes[name] = await startRuntime(await resolveSettings({ config: SERVERS[name], 'cache-dir': join(work, `${name}-inproc`) }), logger);
  }
  const queries = Array.from({ length: INSTANCES }, (_, i) => {
    const query = new URLSearchParams(`device=bench-a&instance=unit-${i}`);
    return { device: 'bench-a', headers: {}, query, remoteAddress: '10.0.0.7', route: 'version' as const, method: 'GET' };
  });
  const CALLS = 200_000;
  const us: Record<Name, number[]> = { off: [], checkins: [], rollout: [] };
  for (const name of Object.keys(SERVERS) as Name[]) for (let i = 0; i < INSTANCES; i++) await runtimes[name].devices.release(queries[i] as never);
  for (let round = 0; round < 5; round++) {
    for (const name of Object.keys(SERVERS) as Name[]) {
      const devices = runtimes[name].devices;
      const c0 = process.cpuUsage();
      for (let i = 0; i < CALLS; i++) {
        const r = devices.release(queries[i % INSTANCES] as never);
        if (r instanceof Promise) await r;
      }
      const c = process.cpuUsage(c0);
      us[name].push((c.user + c.system) / CALLS);
    }
  }
  const off = median(us.off);
  console.log('\nDeviceService.release() in process, CPU per call (median of 5 interleaved rounds of 200 000 calls):');
  for (const name of Object.keys(SERVERS) as Name[]) console.log(`  ${name.padEnd(9)} ${median(us[name]).toFixed(2)} µs  (+${(median(us[name]) - off).toFixed(2)} µs vs off)`);
  for (const name of Object.keys(SERVERS) as Name[]) await runtimes[name].close();
}
await inProcess();

// ---------------------------------------------------------------- state-store writes

function rows(n: number, offset: number, t: number): InstanceRow[] {
  return Array.from({ length: n }, (_, i) => ({
    instance: `unit-${(offset + i) % INSTANCES}`, weak: 0, stream: 'bench-a', route: 'version', reported_version: '1.0.0', boot_id: null,
    served_version: '1.1.0', served_sha256: 'a'.repeat(64), address: '10.0.0.7', identity: null, first_seen: t, last_seen: t, downloaded_version: null, downloaded_at: null,
  }));
}

async function storeFigures(label: string, url: string): Promise<void> {
  const store = await FleetStore.open(url);
  const perSecond = Math.ceil(INSTANCES / 60);
  const flushMs: number[] = [];
  for (let s = 0; s < 60; s++) {
    const t0 = performance.now();
    await store.writeCheckins(rows(perSecond, s * perSecond, Date.now()), []);
    flushMs.push(performance.now() - t0);
  }
  const t0 = performance.now();
  let written = 0;
  for (let i = 0; i < 10; i++) {
    await store.writeCheckins(rows(2000, i * 2000, Date.now()), []);
    written += 2000;
  }
  const capacity = written / ((performance.now() - t0) / 1000);
  console.log(`  ${label.padEnd(10)} one flush of ${perSecond} check-ins: ${median(flushMs).toFixed(1)} ms median (${((median(flushMs) / 1000) * 100).toFixed(1)} % of each second); at most ${(capacity / 1000).toFixed(1)}k rows/s`);
  await store.close();
}

console.log(`\nstate-store writes, ${INSTANCES} devices polling every 60 s (${Math.ceil(INSTANCES / 60)} check-ins/s, one transaction per second):`);
await storeFigures('SQLite', `sqlite://${join(work, 'store.sqlite')}`);
if (process.argv.includes('--pg')) {
  const { startPostgres } = await import('../test/support/postgres.ts');
  const pg = await startPostgres({ durable: true });
  try {
    await storeFigures('PostgreSQL', await pg.createDatabase('bench'));
  } finally {
    await pg.close();
  }
}
console.log(`\nload average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
process.exit(0);
