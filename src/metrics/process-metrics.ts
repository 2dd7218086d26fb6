/**
 * Process and runtime metrics under the names Prometheus client libraries use (prom-client's
 * default metrics, the Go and Python clients' process collector), so existing dashboards and alerts
 * work: `process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_virtual_memory_bytes`,
 * `process_open_fds`, `process_max_fds`, `process_start_time_seconds`; and for the JavaScript
 * runtime `nodejs_eventloop_lag_seconds` (+ `_min/_max/_mean/_stddev/_p50/_p90/_p99_seconds` since
 * the previous scrape), `nodejs_heap_size_total_bytes`, `nodejs_heap_size_used_bytes` and
 * `nodejs_external_memory_bytes`. Under Bun the heap figures are JavaScriptCore's, as
 * `process.memoryUsage()` reports them: counted differently from V8's (used can exceed total).
 *
 * Everything is read once per scrape, before rendering: `/proc/self/status` (RSS, virtual size),
 * `/proc/self/fd` and `/proc/self/limits` on Linux (elsewhere those series are left out),
 * `process.cpuUsage()`, `process.memoryUsage()`, and the delay of one `setImmediate`. Between
 * scrapes only the event-loop delay monitor runs (`perf_hooks.monitorEventLoopDelay`, a timer every
 * 20 ms).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { MetricsRegistry } from './registry.ts';

/** Sampling period of the event-loop delay monitor. */
const LOOP_RESOLUTION_MS = 20;

interface Snapshot {
  rss?: number;
  vsize?: number;
  openFds?: number;
  maxFds?: number;
  lagSeconds: number;
  loop?: { min: number; max: number; mean: number; stddev: number; p50: number; p90: number; p99: number };
  heapTotal: number;
  heapUsed: number;
  external: number;
}

export interface ProcessMetrics {
  /** Stops the event-loop delay monitor. */
  close(): void;
}

export function registerProcessMetrics(reg: MetricsRegistry): ProcessMetrics {
  const startTime = Date.now() / 1000 - process.uptime();
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loop.enable();
  let snap: Snapshot | undefined;

  reg.beforeScrape(async () => {
    const lagSeconds = await immediateDelaySeconds();
    const mem = process.memoryUsage();
    const status = procStatus();
    const ns = 1e-9;
    snap = {
      ...status,
      ...optional('openFds', openFds()),
      ...optional('maxFds', maxFds()),
      lagSeconds,
      ...(loop.count > 0
        ? { loop: { min: loop.min * ns, max: loop.max * ns, mean: loop.mean * ns, stddev: loop.stddev * ns, p50: loop.percentile(50) * ns, p90: loop.percentile(90) * ns, p99: loop.percentile(99) * ns } }
        : {}),
      heapTotal: mem.heapTotal,
      heapUsed: mem.heapUsed,
      external: mem.external,
    };
    if (status.rss === undefined) snap.rss = mem.rss;
    loop.reset();
  });

  const cpu = (pick: (u: NodeJS.CpuUsage) => number) => () => pick(process.cpuUsage()) / 1e6;
  reg.collected({ name: 'process_cpu_user_seconds_total', help: 'Total user CPU time spent in seconds.', type: 'counter', collect: cpu((u) => u.user) });
  reg.collected({ name: 'process_cpu_system_seconds_total', help: 'Total system CPU time spent in seconds.', type: 'counter', collect: cpu((u) => u.system) });
  reg.collected({ name: 'process_cpu_seconds_total', help: 'Total user and system CPU time spent in seconds.', type: 'counter', collect: cpu((u) => u.user + u.system) });
  reg.collected({ name: 'process_start_time_seconds', help: 'Start time of the process since unix epoch in seconds.', type: 'gauge', collect: () => Math.round(startTime) });
  reg.collected({ name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes.', type: 'gauge', collect: () => snap?.rss });
  reg.collected({ name: 'process_virtual_memory_bytes', help: 'Virtual memory size in bytes.', type: 'gauge', collect: () => snap?.vsize });
  reg.collected({ name: 'process_open_fds', help: 'Number of open file descriptors.', type: 'gauge', collect: () => snap?.openFds });
  reg.collected({ name: 'process_max_fds', help: 'Maximum number of open file descriptors.', type: 'gauge', collect: () => snap?.maxFds });
  reg.collected({ name: 'nodejs_eventloop_lag_seconds', help: 'Lag of the event loop in seconds: the delay of a setImmediate at scrape time.', type: 'gauge', collect: () => snap?.lagSeconds });
  const loopStats = ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'] as const;
  for (const k of loopStats) {
    reg.collected({ name: `nodejs_eventloop_lag_${k}_seconds`, help: `The ${k} of the event loop delay since the previous scrape, sampled every ${LOOP_RESOLUTION_MS} ms.`, type: 'gauge', collect: () => snap?.loop?.[k] });
  }
  reg.collected({ name: 'nodejs_heap_size_total_bytes', help: 'JavaScript heap size in bytes (JavaScriptCore under Bun).', type: 'gauge', collect: () => snap?.heapTotal });
  reg.collected({ name: 'nodejs_heap_size_used_bytes', help: 'JavaScript heap in use, in bytes (JavaScriptCore under Bun).', type: 'gauge', collect: () => snap?.heapUsed });
  reg.collected({ name: 'nodejs_external_memory_bytes', help: 'Memory outside the JavaScript heap held by JavaScript objects (buffers), in bytes.', type: 'gauge', collect: () => snap?.external });

  return { close: () => loop.disable() };
}

function optional<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}

/** How long a setImmediate waits: what the loop is behind by now. */
function immediateDelaySeconds(): Promise<number> {
  const start = process.hrtime.bigint();
  return new Promise((resolve) => setImmediate(() => resolve(Number(process.hrtime.bigint() - start) / 1e9)));
}

/** VmRSS and VmSize from /proc/self/status (kB there), or nothing off Linux. */
function procStatus(): { rss?: number; vsize?: number } {
  let text: string;
  try {
    text = readFileSync('/proc/self/status', 'utf8');
  } catch {
    return {};
  }
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  return { ...optional('rss', kb('VmRSS')), ...optional('vsize', kb('VmSize')) };
}

function openFds(): number | undefined {
  try {
    // The listing itself holds one descriptor open while it runs.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return undefined;
  }
}

function maxFds(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
