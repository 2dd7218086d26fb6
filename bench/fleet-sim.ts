/**
 * Fleet simulator (not a test): `bun bench/fleet-sim.ts [--devices 10000,100000] [--duration 60]`.
 *
 * One OtaFlux (from source) serves two streams from a real registry (Debian's docker-registry on
 * loopback): `sim` over plain HTTP and `sim-tls` over mutual TLS (`mtls({ instances: true })`, one
 * openssl-made client certificate per simulated device, CN `sim-tls:<n>`). Simulated devices poll
 * `/version` every `--interval` seconds (± `--jitter`, first polls spread over one interval):
 *
 *   keep-alive    one connection kept open between polls (`--keepalive`, fraction of the devices)
 *   reconnecting  a new connection per poll, `Connection: close` (the rest)
 *   mTLS          `--mtls` of the devices, on the HTTPS port, keep-alive and reconnecting alike
 *   reporting     `--report` of the devices send `current=<version>` (check-ins with a version,
 *                 outcomes), download `/firmware` when offered another version and check in again
 *                 after a 3 s "reboot"; the rest only poll (instance named by `instance=`)
 *
 * While they poll, a rollout of 1.1.0 (10 % → 50 % → 100 %, 5 s soak, gates on) is created through
 * the operator API and ramps by its gates as the reporting devices verify; its steps are printed.
 *
 * Printed per fleet size: server CPU µs per poll (user + system of the server process from
 * /proc/<pid>/stat over the run, divided by the /version answers; downloads and background work
 * included), p50/p99 poll latency (connect included for reconnecting devices), state-store rows
 * written per second (`GET /api/fleet`), server RSS per 10 000 devices (growth over the idle
 * server), registry requests per minute (the registry's access log). The load generator (this
 * process, and the registry) is pinned to CPU 0 with taskset, the server to CPU 1.
 *
 *     bun bench/fleet-sim.ts [--devices 10000,100000] [--duration 60] [--interval 30] [--jitter 0.2]
 *                            [--keepalive 0.1] [--mtls 0.01] [--report 0.5] [--pg] [--log-level error]
 *
 * `--pg`: the state store on PostgreSQL (Debian's, started for the run, durable settings) instead
 * of SQLite. The load average is printed at the start and the end: the machine may be shared.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'bun';
import { benchWorkspace, freePort, median } from './support.ts';

const { values: opt } = parseArgs({
  options: {
    devices: { type: 'string', default: '10000,100000' },
    duration: { type: 'string', default: '60' },
    interval: { type: 'string', default: '30' },
    jitter: { type: 'string', default: '0.2' },
    keepalive: { type: 'string', default: '0.1' },
    mtls: { type: 'string', default: '0.01' },
    'max-certs': { type: 'string', default: '1000' },
    report: { type: 'string', default: '0.5' },
    'image-kib': { type: 'string', default: '64' },
    'log-level': { type: 'string', default: 'error' },
    pg: { type: 'boolean', default: false },
  },
});
const SIZES = String(opt.devices).split(',').map(Number);
const DURATION_S = Number(opt.duration);
const INTERVAL_S = Number(opt.interval);
const JITTER = Number(opt.jitter);
const KEEPALIVE = Number(opt.keepalive);
const MTLS = Number(opt.mtls);
const REPORT = Number(opt.report);
const MAX_CERTS = Number(opt['max-certs']);
const ADMIN = 'sim-admin-token-0123456789';
const MAIN = join(import.meta.dir, '../src/main.ts');
if (INTERVAL_S >= 65) throw new Error('--interval must stay under 65 s, the server keep-alive timeout');

const { work, children } = benchWorkspace('otaflux-fleet-sim-');

function run(cmd: string[], cwd = work): string {
  const r = Bun.spawnSync(cmd, { cwd, stdout: 'pipe', stderr: 'pipe' });
  if (r.exitCode !== 0) throw new Error(`${cmd.slice(0, 4).join(' ')}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

// ---------------------------------------------------------------- CPUs: generator on 0, server on 1

const CPUS = navigator.hardwareConcurrency;
const pinned = CPUS >= 2;
if (pinned) run(['taskset', '-a', '-p', '-c', '0', String(process.pid)]);
const serverPrefix = pinned ? ['taskset', '-c', '1'] : [];

const startLoad = loadavg();
console.log(`load average at start: ${startLoad.map((x) => x.toFixed(2)).join(' ')} (${CPUS} CPUs)${startLoad[0]! > 1 ? ' — the machine is busy with other work: figures are from a busy machine' : ''}`);
console.log(`${pinned ? 'load generator and registry on CPU 0, server on CPU 1 (taskset)' : 'one CPU: nothing pinned'}; ${DURATION_S} s per fleet size, poll every ${INTERVAL_S} s ± ${JITTER * 100} %, keep-alive ${KEEPALIVE * 100} %, mTLS ${MTLS * 100} %, reporting ${REPORT * 100} %\n`);

// ---------------------------------------------------------------- PKI (openssl)

const maxTls = Math.min(MAX_CERTS, Math.round(Math.max(...SIZES) * MTLS));
const pki = join(work, 'pki');
mkdirSync(pki);
const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
run(['openssl', 'req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=fleet-sim ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], pki);
run(['openssl', 'req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], pki);
writeFileSync(join(pki, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
run(['openssl', 'x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', 'server.crt', '-extfile', 'server.ext'], pki);
run(['openssl', 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'client.key'], pki);
writeFileSync(join(pki, 'client.cnf'), '[req]\ndistinguished_name=dn\n[dn]\n[ext]\nbasicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
const t0Pki = performance.now();
// One key for every client certificate (making a key per device adds nothing the server sees).
run(['bash', '-c', `for i in $(seq 0 ${maxTls - 1}); do openssl req -new -x509 -config client.cnf -extensions ext -key client.key -CA ca.crt -CAkey ca.key -subj /CN=sim-tls:$i -days 2 -out c$i.crt 2>/dev/null || exit 1; done`], pki);
const caPem = readFileSync(join(pki, 'ca.crt'), 'utf8');
const clientKey = readFileSync(join(pki, 'client.key'), 'utf8');
const clientCerts = Array.from({ length: maxTls }, (_, i) => readFileSync(join(pki, `c${i}.crt`), 'utf8'));
console.log(`openssl: CA, server certificate and ${maxTls} client certificates in ${((performance.now() - t0Pki) / 1000).toFixed(1)} s`);

// ---------------------------------------------------------------- registry with two releases per stream

const { pushArtifact, startRegistry } = await import('../test/support/registry.ts');
const registry = await startRegistry();
const imageBytes = Number(opt['image-kib']) * 1024;
for (const stream of ['sim', 'sim-tls']) {
  for (const version of ['1.0.0', '1.1.0']) {
    await pushArtifact(registry, `fleet/${stream}`, version, [{ name: 'firmware.bin', data: randomBytes(imageBytes), mediaType: 'application/octet-stream' }]);
  }
}
console.log(`registry: ${registry.host} (docker-registry), fleet/sim and fleet/sim-tls at 1.0.0 and 1.1.0 (${opt['image-kib']} KiB each)`);

let newDatabase: ((name: string) => Promise<string>) | undefined;
let closePg = async () => {};
if (opt.pg) {
  const { startPostgres } = await import('../test/support/postgres.ts');
  const pg = await startPostgres({ durable: true });
  closePg = () => pg.close();
  newDatabase = (name) => pg.createDatabase(name);
  console.log('state store: PostgreSQL (Debian, durable settings, loopback), a new database per fleet size');
} else {
  console.log('state store: SQLite in the cache folder (the default)');
}

// ---------------------------------------------------------------- server

interface Server { pid: number; port: number; tlsPort: number; api: string; stop(): Promise<void> }

async function startServer(name: string, devices: number): Promise<Server> {
  const dir = join(work, name);
  mkdirSync(dir);
  const port = freePort();
  const tlsPort = freePort();
  const adminPort = freePort();
  const databaseUrl = newDatabase ? await newDatabase(name.replaceAll('-', '_')) : undefined;
  writeFileSync(join(dir, 'otaflux.config.ts'), `import { defineConfig, oci, mtls } from 'otaflux';
export default defineConfig({
  server: {
    listenAddr: '127.0.0.1:${port}', metricsListenAddr: false, logLevel: ${JSON.stringify(opt['log-level'])}, adminToken: '${ADMIN}', adminListenAddr: '127.0.0.1:${adminPort}',
    maxConnections: ${Math.min(19_000, devices + 1000)},
    tls: { listenAddr: '127.0.0.1:${tlsPort}', cert: ${JSON.stringify(join(pki, 'server.crt'))}, key: ${JSON.stringify(join(pki, 'server.key'))}, clientCa: ${JSON.stringify(join(pki, 'ca.crt'))} },
  },
  cache: { dir: 'cache' },
  defaults: { source: oci({ url: '${registry.host}', insecure: true, prefix: 'fleet' }), auth: 'none' },
  devices: { 'sim-tls': { auth: mtls({ instances: true }) } },
  ${databaseUrl ? `fleet: { databaseUrl: ${JSON.stringify(databaseUrl)} },` : ''}
});
`);
  const p = Bun.spawn([...serverPrefix, process.execPath, MAIN, '--config', join(dir, 'otaflux.config.ts')], { cwd: dir, stdout: 'ignore', stderr: 'inherit' });
  children.push(p);
  // Devices on the device port; the operator API (rollouts, fleet counts) on the operator listener,
  // which speaks HTTPS with the server's certificate when the server has one.
  const api = `https://127.0.0.1:${adminPort}`;
  for (let i = 0; ; i++) {
    if (await fetch(`http://127.0.0.1:${port}/ready`).then((r) => r.ok, () => false)) break;
    if (i > 300) throw new Error('the server did not get ready in 30 s');
    await Bun.sleep(100);
  }
  return { pid: p.pid, port, tlsPort, api, async stop() { p.kill('SIGTERM'); await p.exited; } };
}

async function operator(s: Server, method: string, path: string, body?: unknown): Promise<any> {
  const r = await fetch(`${s.api}/api${path}`, {
    tls: { ca: readFileSync(join(pki, 'ca.crt'), 'utf8') },
    method,
    headers: { authorization: `Bearer ${ADMIN}`, 'x-operator': 'fleet-sim', 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  if (!r.ok) throw new Error(`${method} /api${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}
const rssKiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

// ---------------------------------------------------------------- simulated devices

type Kind = 'keep-alive' | 'reconnecting' | 'mTLS keep-alive' | 'mTLS reconnecting';

interface Device {
  n: number;
  kind: Kind;
  tls: boolean;
  keep: boolean;
  reports: boolean;
  current: string;
  versionPath: string;
  socket?: Socket<Conn>;
  connecting: boolean;
}

interface Conn {
  dev: Device;
  /** Request waiting for the connection to open. */
  queued?: string;
  head: Buffer | null;
  remaining: number;
  status: number;
  body: string;
  t0: number;
  firmware: boolean;
  busy: boolean;
}

interface Stats {
  polls: number;
  downloads: number;
  latency: Record<Kind, number[]>;
  statuses: Map<number, number>;
  errors: number;
  /** Why polls failed: connect refused or timed out, connection closed before the answer, no answer by the end. */
  failures: Map<string, number>;
  late: number[];
}

function simulate(server: Server, count: number, durationMs: number): { stats: Stats; done: Promise<void>; close(): void } {
  const stats: Stats = { polls: 0, downloads: 0, latency: { 'keep-alive': [], reconnecting: [], 'mTLS keep-alive': [], 'mTLS reconnecting': [] }, statuses: new Map(), errors: 0, failures: new Map(), late: [] };
  const tlsCount = Math.min(maxTls, Math.round(count * MTLS));
  const devices: Device[] = [];
  for (let n = 0; n < count; n++) {
    const tls = n < tlsCount;
    const keep = (n * 7919) % 1000 < KEEPALIVE * 1000;
    const reports = (n * 104_729) % 1000 < REPORT * 1000;
    const stream = tls ? 'sim-tls' : 'sim';
    const kind: Kind = tls ? (keep ? 'mTLS keep-alive' : 'mTLS reconnecting') : keep ? 'keep-alive' : 'reconnecting';
    devices.push({ n, kind, tls, keep, reports, current: '1.0.0', versionPath: `/version?device=${stream}${tls ? '' : `&instance=sim-${n}`}`, connecting: false });
  }
  const endAt = performance.now() + durationMs;
  let inFlight = 0;
  let resolveDone: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));

  const request = (d: Device, path: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: fleet-sim\r\n${d.keep ? '' : 'Connection: close\r\n'}\r\n`;

  const finish = (c: Conn, ok: boolean, why = '') => {
    c.busy = false;
    inFlight--;
    const d = c.dev;
    const now = performance.now();
    if (!ok) {
      stats.errors++;
      stats.failures.set(why, (stats.failures.get(why) ?? 0) + 1);
      schedule(d, INTERVAL_S * 1000);
    } else if (c.firmware) {
      stats.downloads++;
      if (c.status === 200) d.current = c.body; // the version asked for
      schedule(d, 3000 * (1 + Math.random())); // reboot, then check in with the new version
    } else {
      stats.polls++;
      stats.statuses.set(c.status, (stats.statuses.get(c.status) ?? 0) + 1);
      stats.latency[d.kind].push(now - c.t0);
      const offered = c.status === 200 ? c.body.slice(0, c.body.indexOf('\n')) : '';
      if (d.reports && offered && offered !== d.current && now < endAt) {
        send(d, `/firmware?device=${d.tls ? 'sim-tls' : 'sim'}${d.tls ? '' : `&instance=sim-${d.n}`}&current=${d.current}`, true, offered);
        return;
      }
      schedule(d, INTERVAL_S * 1000 * (1 + JITTER * (2 * Math.random() - 1)));
    }
    if (now >= endAt && inFlight === 0) resolveDone();
  };

  const handlers = {
    open(s: Socket<Conn>) {
      const c = s.data;
      c.dev.connecting = false;
      if (c.queued) {
        s.write(c.queued);
        c.queued = undefined;
      }
    },
    data(s: Socket<Conn>, chunk: Buffer) {
      const c = s.data;
      if (!c.busy) return;
      if (c.remaining < 0) {
        const buf: Buffer = c.head ? Buffer.concat([c.head, chunk]) : chunk;
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) {
          c.head = buf;
          return;
        }
        const head = buf.toString('latin1', 0, end);
        c.status = Number(head.slice(9, 12));
        const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        const rest = buf.subarray(end + 4);
        c.head = null;
        c.remaining = len - rest.length;
        if (!c.firmware) c.body = rest.toString('latin1');
      } else {
        c.remaining -= chunk.length;
        if (!c.firmware) c.body += chunk.toString('latin1');
      }
      if (c.remaining <= 0) {
        c.remaining = -1;
        // Finished before the socket is ended: when the server's FIN is already in, end() closes at
        // once and the close handler would count this answered poll again as a failure.
        const reconnecting = !c.dev.keep;
        if (reconnecting) c.dev.socket = undefined;
        finish(c, true);
        if (reconnecting) s.end();
      }
    },
    close(s: Socket<Conn>) {
      const c = s.data;
      if (c.dev.socket === s) c.dev.socket = undefined;
      const why = c.dev.connecting ? 'connect failed' : 'closed before the answer';
      c.dev.connecting = false;
      if (c.busy) finish(c, false, why);
    },
    error(s: Socket<Conn>) {
      s.end();
    },
    connectError(s: Socket<Conn>) {
      const c = s.data;
      c.dev.connecting = false;
      if (c.busy) finish(c, false, 'connect failed');
    },
  };

  const send = (d: Device, path: string, firmware: boolean, version = '') => {
    const req = request(d, path);
    inFlight++;
    const open = d.keep && d.socket && !d.connecting ? d.socket : undefined;
    if (open) {
      const c = open.data;
      Object.assign(c, { head: null, remaining: -1, status: 0, body: firmware ? version : '', t0: performance.now(), firmware, busy: true });
      open.write(req);
      return;
    }
    const c: Conn = { dev: d, queued: req, head: null, remaining: -1, status: 0, body: firmware ? version : '', t0: performance.now(), firmware, busy: true };
    d.connecting = true;
    const tls = d.tls ? { ca: caPem, cert: clientCerts[d.n] as string, key: clientKey, serverName: '127.0.0.1' } : undefined;
    Bun.connect<Conn>({ hostname: '127.0.0.1', port: d.tls ? server.tlsPort : server.port, data: c, socket: handlers, ...(tls ? { tls } : {}) }).then(
      (s) => {
        if (d.keep) d.socket = s;
      },
      (e: Error) => {
        d.connecting = false;
        if (c.busy) finish(c, false, `connect failed (${(e as { code?: string }).code ?? e.message})`);
      },
    );
  };

  const poll = (d: Device, due: number) => {
    const now = performance.now();
    if (now >= endAt) {
      if (inFlight === 0) resolveDone();
      return;
    }
    stats.late.push(now - due);
    send(d, d.reports ? `${d.versionPath}&current=${d.current}` : d.versionPath, false);
  };
  const schedule = (d: Device, ms: number) => {
    if (performance.now() + ms >= endAt) return;
    const due = performance.now() + ms;
    setTimeout(() => poll(d, due), ms);
  };
  for (const d of devices) schedule(d, Math.random() * INTERVAL_S * 1000);
  setTimeout(() => { if (inFlight === 0) resolveDone(); }, durationMs);
  // Answers still missing 5 s after the end count as failed.
  setTimeout(() => {
    stats.errors += inFlight;
    if (inFlight) stats.failures.set('no answer 5 s after the end', inFlight);
    resolveDone();
  }, durationMs + 5000);
  // Keep-alive sockets are closed by the caller after the figures are read.
  return { stats, done, close: () => { for (const d of devices) d.socket?.end(); } };
}

const pct = (xs: number[], p: number) => {
  if (!xs.length) return NaN;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};

// ---------------------------------------------------------------- runs

interface Figures { devices: number; cpuPerPoll: number; pollsPerSecond: number; p50: number; p99: number; writesPerSecond: number; rssPer10k: number; registryPerMinute: number; genCpu: number }
const figures: Figures[] = [];

for (const size of SIZES) {
  const server = await startServer(`server-${size}`, size);
  // The ramp: created before the first poll (a release with no rollout would go to everyone at once).
  await operator(server, 'POST', '/rollouts', {
    id: 'sim-ramp', streams: ['sim', 'sim-tls'], version: '1.1.0', reason: 'fleet simulator ramp',
    steps: [{ percent: 10, soak: 5 }, { percent: 50, soak: 5 }, { percent: 100 }],
    gates: { minSample: 20, successPercent: 80, failurePercent: 20 },
  });
  // Warm-up (not counted): code paths compiled, both releases built into the cache.
  for (let i = 0; i < 300; i++) {
    const r = await fetch(`http://127.0.0.1:${server.port}/version?device=sim&instance=warm-up-${i}&current=1.0.0`);
    const version = (await r.text()).split('\n')[0];
    if (i % 10 === 0) await fetch(`http://127.0.0.1:${server.port}/firmware?device=sim&instance=warm-up-${i}&current=1.0.0`).then((f) => f.arrayBuffer());
    void version;
  }
  await Bun.sleep(1000);
  const rss0 = rssKiB(server.pid);
  const written0 = (await operator(server, 'GET', '/fleet')).written as number;
  const registry0 = registry.accessLog().length;
  const cpu0 = cpuTicks(server.pid);
  const gen0 = process.cpuUsage();
  const t0 = performance.now();
  const steps: string[] = [];
  let lastStep = '';
  const watcher = setInterval(async () => {
    const r = (await operator(server, 'GET', '/rollouts').catch(() => [])) as any[];
    const ro = (Array.isArray(r) ? r : (r as any).rollouts ?? []).find((x: any) => x.id === 'sim-ramp');
    if (!ro) return;
    const now = `${ro.state} step ${ro.step}`;
    if (now !== lastStep) steps.push(`${((performance.now() - t0) / 1000).toFixed(0)} s: ${(lastStep = now)}`);
  }, 2000);
  const simulation = simulate(server, size, DURATION_S * 1000);
  const stats = simulation.stats;
  // RSS near the end, with every keep-alive connection open; the other figures over exactly the run.
  await Bun.sleep(DURATION_S * 1000 - 1500);
  const rss1 = rssKiB(server.pid);
  await Bun.sleep(Math.max(0, t0 + DURATION_S * 1000 - performance.now()));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = (cpuTicks(server.pid) - cpu0) * 10_000; // µs
  const gen = process.cpuUsage(gen0);
  const polls = stats.polls;
  const written = (await operator(server, 'GET', '/fleet')).written as number - written0;
  await registry.blobGets(); // flushes the access log
  const registryRequests = registry.accessLog().slice(registry0).filter((l) => /"(GET|HEAD) \/v2\/fleet\//.test(l)).length;
  await simulation.done;
  clearInterval(watcher);
  simulation.close();

  const all = Object.values(stats.latency).flat();
  const f: Figures = {
    devices: size,
    cpuPerPoll: cpu / polls,
    pollsPerSecond: polls / seconds,
    p50: pct(all, 50),
    p99: pct(all, 99),
    writesPerSecond: written / seconds,
    rssPer10k: ((rss1 - rss0) / 1024) / (size / 10_000),
    registryPerMinute: registryRequests / (seconds / 60),
    genCpu: (gen.user + gen.system) / 1e6 / seconds,
  };
  figures.push(f);
  console.log(`\n${size.toLocaleString('en')} devices, ${seconds.toFixed(0)} s (load average ${loadavg()[0]!.toFixed(2)}):`);
  console.log(`  polls answered ${polls} in the run (${f.pollsPerSecond.toFixed(0)}/s), firmware downloads ${stats.downloads}, statuses ${[...stats.statuses].map(([s, n]) => `${s}×${n}`).join(' ')}, failed polls ${stats.errors}${stats.errors ? ` (${[...stats.failures].map(([w, n]) => `${w}: ${n}`).join(', ')})` : ''}`);
  console.log(`  server CPU ${(cpu / 1e6).toFixed(2)} s: ${f.cpuPerPoll.toFixed(1)} µs per poll (${((cpu / 1e6 / seconds) * 100).toFixed(0)} % of a core)`);
  for (const [kind, xs] of Object.entries(stats.latency)) if (xs.length) console.log(`  latency ${kind.padEnd(18)} p50 ${pct(xs, 50).toFixed(2)} ms  p99 ${pct(xs, 99).toFixed(2)} ms  (${xs.length} polls)`);
  console.log(`  latency all                p50 ${f.p50.toFixed(2)} ms  p99 ${f.p99.toFixed(2)} ms; polls started late by the generator: p99 ${pct(stats.late, 99).toFixed(1)} ms (generator used ${(f.genCpu * 100).toFixed(0)} % of its core)`);
  console.log(`  state store: ${written} rows written, ${f.writesPerSecond.toFixed(0)} per second`);
  console.log(`  server RSS ${(rss0 / 1024).toFixed(1)} → ${(rss1 / 1024).toFixed(1)} MiB: ${f.rssPer10k.toFixed(1)} MiB per 10 000 devices`);
  console.log(`  registry: ${registryRequests} requests, ${f.registryPerMinute.toFixed(1)} per minute`);
  console.log(`  rollout: ${steps.join(' → ') || 'no change seen'}`);
  await server.stop();
  await Bun.sleep(500);
}

console.log('\n| devices | polls/s | server CPU per poll | p50 | p99 | store rows/s | RSS per 10k devices | registry req/min |');
console.log('|---|---|---|---|---|---|---|---|');
for (const f of figures) {
  console.log(`| ${f.devices.toLocaleString('en')} | ${f.pollsPerSecond.toFixed(0)} | ${f.cpuPerPoll.toFixed(1)} µs | ${f.p50.toFixed(2)} ms | ${f.p99.toFixed(2)} ms | ${f.writesPerSecond.toFixed(0)} | ${f.rssPer10k.toFixed(1)} MiB | ${f.registryPerMinute.toFixed(1)} |`);
}
await registry.close();
await closePg();
console.log(`\nload average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
process.exit(0);
