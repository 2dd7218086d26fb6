// Floods every bounded resource of the device listener at once, from many clients, against the real
// server in a child process (so its memory can be read from /proc/<pid>/status): CRLF blasts before
// a request line, heads trickled a byte at a time, bodies that never finish and bodies refused on
// device routes, pipelined firmware requests that are never read, the docs bundle to readers that
// never read, and then connections up to the cap and beyond. Meanwhile a normal device polls
// /version and must be answered within a second each time, and the server's RSS must stay under
// the ceiling README.md publishes (Operations → Bounds).
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import type { Subprocess } from 'bun';
import { firmwareDir } from '../support/firmware-dir.ts';
import { freePort } from '../support/ports.ts';
import { tempDir } from '../support/tmp.ts';
import { openSocket, readOneResponse } from '../support/raw-http.ts';
import { scrapeMetrics } from '../support/metrics.ts';
import { exchange } from './exchange.ts';
import { blast, rssOf, stalledReader, trickler } from './flood-clients.ts';

const MAIN = join(import.meta.dir, '../../src/main.ts');
const SECRET = 'webhook-secret-0123';
const MiB = 1024 * 1024;
/** The published ceiling for the server's RSS under these floods (README.md, Operations → Bounds). */
const RSS_CEILING = 256 * MiB;
const MAX_CONNECTIONS = 600;

let child: Subprocess<'ignore', 'pipe', 'pipe'>;
let port: number;
let metricsPort: number;
const peaks: { phase: string; rss: number }[] = [];
/** Connections open before the floods (this process's fetch pool). */
let baselineOpen = 0;
let lastLatencies: number[] = [];

beforeAll(async () => {
  const fw = firmwareDir({ dev1: { '1.0.0.bin': 1000 }, big: { '1.0.0.bin': 4 * MiB } });
  port = await freePort();
  metricsPort = await freePort();
  child = Bun.spawn(
    [process.execPath, MAIN, '--firmware-dir', fw.root, '--listen-addr', `127.0.0.1:${port}`, '--metrics-listen-addr', `127.0.0.1:${metricsPort}`,
      '--cache-dir', tempDir(), '--log-level', 'warn', '--log-format', 'json', '--webhook-secret', SECRET, '--header-timeout', '4', '--max-connections', String(MAX_CONNECTIONS),
      // The docs assets stay on the device port (the compatibility switch): the floods read them there.
      '--admin-on-device-port'],
    { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' },
  );
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/version?device=big`).then((r) => r.status === 200, () => false);
    if (ok) break;
    await Bun.sleep(50);
  }
  // Warm: the docs bundle and the big image in memory, as a busy server would have them.
  await (await fetch(`http://127.0.0.1:${port}/docs/assets/swagger-ui-bundle.js`)).arrayBuffer();
  await (await fetch(`http://127.0.0.1:${port}/firmware?device=big`)).arrayBuffer();
  baselineOpen = (await scrapeMetrics(metricsPort)).get('otaflux_open_connections{listener="device"}');
});
afterAll(async () => {
  child?.kill();
  await child?.exited;
  console.log(`flood: server RSS by phase ${peaks.map((p) => `${p.phase} ${(p.rss / MiB).toFixed(0)} MiB`).join(', ')} (ceiling ${RSS_CEILING / MiB} MiB); device latency median ${Math.round(lastLatencies[lastLatencies.length >> 1] ?? NaN)} ms, max ${Math.round(lastLatencies.at(-1) ?? NaN)} ms; load ${(await Bun.file('/proc/loadavg').text()).trim()}`);
});

/**
 * A normal device polling /version every 200 ms until `until`, from a process of its own (the flood
 * clients share this one's event loop); returns each answer's latency in ms.
 */
async function device(until: number): Promise<number[]> {
  const p = Bun.spawn([process.execPath, join(import.meta.dir, 'fixtures/device-poller.ts'), String(port), 'dev1', String(until - Date.now()), '200'], { stdout: 'pipe', stderr: 'inherit' });
  const out = await new Response(p.stdout).text();
  await p.exited;
  const { latencies, failure } = JSON.parse(out) as { latencies: number[]; failure?: string };
  expect(failure).toBeUndefined();
  return latencies;
}

/**
 * Every poll answered; on a 2-core machine shared with other work, 90 % of them within a second
 * and none after more than 5 s (a loaded machine can stall any process for a moment).
 */
function expectServedWithinASecond(latencies: number[]): void {
  const sorted = [...latencies].sort((a, b) => a - b);
  lastLatencies = sorted;
  expect(sorted.length).toBeGreaterThan(5);
  expect(sorted[Math.floor(sorted.length * 0.9)]).toBeLessThan(1000);
  expect(sorted.at(-1)).toBeLessThan(5000);
}

/** Samples the server's RSS every 100 ms until `until`; returns the highest. */
async function peakRss(until: number): Promise<number> {
  let peak = 0;
  while (Date.now() < until) {
    peak = Math.max(peak, await rssOf(child.pid));
    await Bun.sleep(100);
  }
  return peak;
}

test('heads, trickles, bodies, pipelines and stalled readers at once: RSS under the ceiling, a device served within a second', async () => {
  const until = Date.now() + 7000;
  const floods: Promise<unknown>[] = [];
  const crlf = Buffer.from('\r\n'.repeat(32 * 1024));
  // Head bytes: empty lines before a request line, 32 MB from each of 10 clients (cut at 16 KiB).
  for (let i = 0; i < 10; i++) floods.push(blast(port, crlf, 32 * MiB, until));
  // Head bytes: one endless header line, from 10 clients.
  for (let i = 0; i < 10; i++) floods.push(blast(port, Buffer.from('a'.repeat(64 * 1024)), 32 * MiB, until, 'GET /version?device=dev1 HTTP/1.1\r\nX-Long: '));
  // Trickled heads: 100 clients, a byte every 100 ms (cut at the 4 s deadline).
  for (let i = 0; i < 100; i++) floods.push(trickler(port, 'GET /version?device=dev1 HTTP/1.1\r\nX-Slow: yes\r\n', 100, until));
  // Bodies: 40 clients declaring 1 MiB to the webhook and sending it slowly (16 fit the budget, the rest get 503).
  const declared = `POST /webhooks/harbor HTTP/1.1\r\nHost: x\r\nAuthorization: ${SECRET}\r\nContent-Length: ${MiB}\r\n\r\n`;
  for (let i = 0; i < 40; i++) floods.push(trickler(port, 'x', 20, until, declared));
  for (let i = 0; i < 40; i++) {
    floods.push(blast(port, Buffer.alloc(16 * 1024, 120), MiB, until, `POST /webhooks/harbor HTTP/1.1\r\nHost: x\r\nAuthorization: ${SECRET}\r\nContent-Length: ${MiB}\r\n\r\n`));
  }
  // Bodies on routes that take none: refused before a byte is read.
  for (let i = 0; i < 20; i++) floods.push(blast(port, Buffer.alloc(64 * 1024, 120), 16 * MiB, until, `GET /version?device=dev1 HTTP/1.1\r\nContent-Length: ${512 * MiB}\r\n\r\n`));
  // Pipelined firmware requests never read, and the docs bundle to readers that never read.
  for (let i = 0; i < 20; i++) floods.push(blast(port, Buffer.from('GET /firmware?device=big HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(100)), 8 * MiB, until, '', false));
  for (let i = 0; i < 50; i++) floods.push(stalledReader(port, 'GET /docs/assets/swagger-ui-bundle.js HTTP/1.1\r\nHost: x\r\n\r\n', until));

  // The device starts once the floods are under way (their first second is this process opening 300 sockets).
  const [latencies, peak] = await Promise.all([Bun.sleep(1000).then(() => device(until)), peakRss(until), ...floods]);
  peaks.push({ phase: 'heads+bodies+pipelines', rss: peak });
  expectServedWithinASecond(latencies);
  expect(peak).toBeLessThan(RSS_CEILING);
  const m = await scrapeMetrics(metricsPort);
  expect(m.get('otaflux_request_bodies_refused_total')).toBeGreaterThan(0);
}, 60_000);

test('connections up to the cap and beyond: refused at once, RSS under the ceiling, a device served once one leaves', async () => {
  // The clients of the first flood are gone (cut at their deadline, or after the linger of an error
  // answer); what stays open is this process's own fetch connection pool.
  for (let i = 0; i < 300 && (await scrapeMetrics(metricsPort)).get('otaflux_open_connections{listener="device"}') > baselineOpen; i++) await Bun.sleep(50);
  expect((await scrapeMetrics(metricsPort)).get('otaflux_open_connections{listener="device"}')).toBe(baselineOpen);
  const held: Socket[] = [];
  // Idle keep-alive connections (each answered once, so the server has counted it) up to the cap.
  const room = MAX_CONNECTIONS - baselineOpen;
  while (held.length < room) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, room - held.length) }, async () => {
      const s = await openSocket(port);
      s.on('error', () => {});
      s.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
      await readOneResponse(s);
      return s;
    }));
    held.push(...batch);
  }
  const refusedBefore = (await scrapeMetrics(metricsPort)).get('otaflux_connections_refused_total');
  const over = await Promise.all(Array.from({ length: 200 }, () => exchange(port, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n', 5000)));
  expect(over.filter((a) => !a.closed || a.raw.length > 0)).toEqual([]);
  const peak = await peakRss(Date.now() + 500);
  peaks.push({ phase: `${MAX_CONNECTIONS} connections + 200 refused`, rss: peak });
  expect(peak).toBeLessThan(RSS_CEILING);
  const m = await scrapeMetrics(metricsPort);
  expect(m.get('otaflux_connections_refused_total') - refusedBefore).toBe(200);
  expect(m.get('otaflux_open_connections{listener="device"}')).toBe(MAX_CONNECTIONS);
  for (const s of held.splice(0, 10)) s.destroy();
  await Bun.sleep(200);
  expectServedWithinASecond(await device(Date.now() + 2000));
  for (const s of held) s.destroy();
}, 60_000);
