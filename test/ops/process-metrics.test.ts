// Process, runtime and connection metrics, scraped from the real metrics listener of a server
// running in this process, checked against what Linux and the shell say about this process.
import { afterEach, expect, test } from 'bun:test';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { scrapeMetrics, scrapeUntil } from '../support/metrics.ts';
import { makeTlsFiles } from '../support/registry.ts';
import { tempDir } from '../support/tmp.ts';

const servers: TestServer[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });

async function serve(flags: Record<string, string | number | boolean> = {}): Promise<TestServer> {
  const s = await startTestServer({ flags: { 'firmware-dir': firmwareDir({ dev: { '1.0.0.bin': 100 } }).root, ...flags } });
  servers.push(s);
  return s;
}

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* keep the CPU and the event loop busy */ }
}

test('process_* metrics agree with /proc, the shell and the clock', async () => {
  const s = await serve();
  const port = s.ports.metrics as number;
  const m = await scrapeMetrics(port);
  for (const name of ['process_cpu_seconds_total', 'process_cpu_user_seconds_total', 'process_cpu_system_seconds_total']) {
    expect(m.text).toContain(`# TYPE ${name} counter\n`);
  }
  for (const name of ['process_resident_memory_bytes', 'process_virtual_memory_bytes', 'process_open_fds', 'process_max_fds', 'process_start_time_seconds']) {
    expect(m.text).toContain(`# TYPE ${name} gauge\n`);
    expect(m.get(name)).toBeGreaterThan(0);
  }
  // Resident and virtual size, as /proc/self/status says now (kB), within what moves between two reads.
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (f: string) => Number(new RegExp(`^${f}:\\s+(\\d+)`, 'm').exec(status)![1]) * 1024;
  expect(m.get('process_resident_memory_bytes') / kb('VmRSS')).toBeWithin(0.8, 1.25);
  expect(m.get('process_virtual_memory_bytes') / kb('VmSize')).toBeWithin(0.8, 1.25);
  // The soft descriptor limit, as the shell (a child inherits it) reports.
  const ulimit = Bun.spawnSync(['sh', '-c', 'ulimit -n']).stdout.toString().trim();
  expect(String(m.get('process_max_fds'))).toBe(ulimit);
  // The start time, from the kernel's own record: starttime in clock ticks after boot (btime).
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  const btime = Number(/^btime (\d+)/m.exec(readFileSync('/proc/stat', 'utf8'))![1]);
  const hz = Number(Bun.spawnSync(['getconf', 'CLK_TCK']).stdout.toString().trim());
  expect(Math.abs(m.get('process_start_time_seconds') - (btime + startTicks / hz))).toBeLessThan(3);

  // Twenty more open files show; busy work shows as CPU time, as the kernel counts it (utime + stime).
  const fds = Array.from({ length: 20 }, () => openSync('/dev/null', 'r'));
  const cpuBefore = m.get('process_cpu_seconds_total');
  busy(300);
  const after = await scrapeMetrics(port);
  const procStat = readFileSync('/proc/self/stat', 'utf8');
  const [utime, stime] = procStat.slice(procStat.lastIndexOf(')') + 2).split(' ').slice(11, 13).map(Number) as [number, number];
  for (const fd of fds) closeSync(fd);
  expect(after.get('process_open_fds') - m.get('process_open_fds')).toBeGreaterThanOrEqual(20);
  expect(after.get('process_open_fds') - m.get('process_open_fds')).toBeLessThan(40);
  expect(after.get('process_cpu_seconds_total')).toBeGreaterThan(cpuBefore);
  expect(Math.abs(after.get('process_cpu_seconds_total') - (utime + stime) / hz)).toBeLessThan(0.25);
  expect(after.get('process_cpu_seconds_total')).toBeCloseTo(after.get('process_cpu_user_seconds_total') + after.get('process_cpu_system_seconds_total'), 2);
});

test('event-loop lag: a blocked loop shows in the max since the previous scrape; the heap is reported', async () => {
  const s = await serve();
  const port = s.ports.metrics as number;
  await scrapeMetrics(port);
  await Bun.sleep(100);
  busy(400); // the event loop cannot turn for 400 ms
  await Bun.sleep(100);
  const blocked = await scrapeMetrics(port);
  expect(blocked.get('nodejs_eventloop_lag_max_seconds')).toBeGreaterThanOrEqual(0.3);
  expect(blocked.get('nodejs_eventloop_lag_p99_seconds')).toBeGreaterThanOrEqual(0.3);
  expect(blocked.text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge\n');
  expect(blocked.get('nodejs_eventloop_lag_seconds')).toBeGreaterThan(0);
  // Reset at each scrape: a quiet period after shows no such delay.
  await Bun.sleep(200);
  Bun.gc(true); // garbage of earlier tests freed now, not between the two memory scrapes below
  const quiet = await scrapeMetrics(port);
  expect(quiet.get('nodejs_eventloop_lag_max_seconds')).toBeLessThan(0.3);

  // JavaScriptCore's figures (under Bun, used can exceed total: they are counted differently).
  expect(quiet.get('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  expect(quiet.get('nodejs_heap_size_total_bytes')).toBeGreaterThan(0);
  // 64 MiB of live buffers show as external memory (at least half of it: the runtime may free other
  // external memory between the two scrapes).
  const held = Array.from({ length: 64 }, () => Buffer.alloc(1 << 20, 1));
  const more = await scrapeMetrics(port);
  expect(more.get('nodejs_external_memory_bytes') - quiet.get('nodejs_external_memory_bytes')).toBeGreaterThanOrEqual(32 * (1 << 20));
  expect(held.length).toBe(64);
});

test('otaflux_open_connections counts each listener: device, tls and metrics', async () => {
  const dir = tempDir('otaflux-conn-tls-');
  const tls = await makeTlsFiles(dir);
  const s = await serve({ 'tls-cert': tls.certFile, 'tls-key': tls.keyFile, 'tls-listen-addr': '127.0.0.1:0' });
  const port = s.ports.metrics as number;
  const before = await scrapeMetrics(port);
  expect(before.text).toContain('# TYPE otaflux_open_connections gauge\n');
  expect(before.get('otaflux_open_connections{listener="device"}')).toBe(0);
  expect(before.get('otaflux_open_connections{listener="tls"}')).toBe(0);
  expect(before.get('otaflux_open_connections{listener="metrics"}')).toBeGreaterThanOrEqual(1); // this scrape

  const plain: Socket[] = await Promise.all(Array.from({ length: 3 }, () => new Promise<Socket>((r) => { const c = connect(s.ports.http as number, '127.0.0.1', () => r(c)); })));
  const secure: TLSSocket[] = await Promise.all(Array.from({ length: 2 }, () => new Promise<TLSSocket>((r) => { const c = tlsConnect({ port: s.ports.https as number, host: '127.0.0.1', ca: readFileSync(tls.caFile) }, () => r(c)); })));
  const open = await scrapeUntil(port, 'otaflux_open_connections{listener="device"}', 3);
  expect(open.get('otaflux_open_connections{listener="device"}')).toBe(3);
  expect(open.get('otaflux_open_connections{listener="tls"}')).toBe(2);

  for (const c of [...plain, ...secure]) c.destroy();
  const closed = await scrapeUntil(port, 'otaflux_open_connections{listener="device"}', 0);
  expect(closed.get('otaflux_open_connections{listener="device"}')).toBe(0);
  expect((await scrapeUntil(port, 'otaflux_open_connections{listener="tls"}', 0)).get('otaflux_open_connections{listener="tls"}')).toBe(0);
});
