// The disk cache's bound (--cache-size entries, --cache-max-bytes bytes), with real files over the
// real device listener: least recently used blobs go first, their records with them, the metrics
// follow, an evicted device's release is fetched again on demand, the bound applies to what is on
// disk at start, and a download of a blob evicted meanwhile still completes byte-exact.
import { afterEach, expect, test } from 'bun:test';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { scrapeMetrics } from '../support/metrics.ts';
import { openSocket, readAtLeast, parseResponse } from '../support/raw-http.ts';
import { tempDir } from '../support/tmp.ts';
import type { FlagValues } from '../../src/cli/flags.ts';
import { randomBytes } from 'node:crypto';
import { memorySource } from '../support/test-plugins.ts';
import { Composer } from '../../src/core/composition.ts';
import { none } from '../../src/plugins/verifier/none.ts';

const servers: TestServer[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });

async function serve(flags: FlagValues, memoryBytes?: number): Promise<TestServer> {
  const s = await startTestServer({
    flags: { 'refresh-interval': 0, ...flags },
    ...(memoryBytes !== undefined ? { edit: (settings) => { settings.cache.memoryBytes = memoryBytes; } } : {}),
  });
  servers.push(s);
  return s;
}

const sha = (b: Uint8Array) => new Bun.CryptoHasher('sha256').update(b).digest('hex');
const blobs = (cacheDir: string) => readdirSync(join(cacheDir, 'blobs', 'sha256')).sort();
/** The blob every release record (index and last good) names. */
function recordBlobs(cacheDir: string): string[] {
  const out: string[] = [];
  for (const sub of ['releases', 'devices']) {
    for (const n of readdirSync(join(cacheDir, sub))) {
      if (!n.endsWith('.json')) continue;
      out.push((JSON.parse(readFileSync(join(cacheDir, sub, n), 'utf8')) as { release: { sha256: string } }).release.sha256);
    }
  }
  return out;
}
async function firmware(s: TestServer, device: string): Promise<{ status: number; body: Buffer }> {
  const r = await fetch(`${s.url}/firmware?device=${device}`);
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
}

test('--cache-size 1 --cache-max-bytes 4000: one release on disk, the others evicted and fetched again on demand', async () => {
  const fw = firmwareDir({ a: { '1.0.0.bin': 1500 }, b: { '1.0.0.bin': 1500 }, c: { '1.0.0.bin': 1500 } });
  const cacheDir = tempDir();
  const s = await serve({ 'firmware-dir': fw.root, 'cache-dir': cacheDir, 'cache-size': 1, 'cache-max-bytes': 4000 });
  for (const d of ['a', 'b', 'c']) {
    const got = await firmware(s, d);
    expect(got.status).toBe(200);
    expect(Buffer.compare(got.body, fw.bytes(d, '1.0.0.bin'))).toBe(0);
    expect(blobs(cacheDir)).toEqual([sha(fw.bytes(d, '1.0.0.bin'))]);
  }
  // No record names a removed blob.
  await Bun.sleep(50);
  expect(new Set(recordBlobs(cacheDir))).toEqual(new Set([sha(fw.bytes('c', '1.0.0.bin'))]));
  let m = await scrapeMetrics(s.ports.metrics as number);
  expect(m.get('otaflux_cache_evictions_total{bound="entries"}')).toBe(2);
  expect(m.get('firmware_cache_entries')).toBe(1);
  expect(m.get('otaflux_cache_bytes')).toBe(1500);
  // a's release was evicted: its next request fetches it again, byte-exact.
  const again = await firmware(s, 'a');
  expect(again.status).toBe(200);
  expect(Buffer.compare(again.body, fw.bytes('a', '1.0.0.bin'))).toBe(0);
  expect(blobs(cacheDir)).toEqual([sha(fw.bytes('a', '1.0.0.bin'))]);
  m = await scrapeMetrics(s.ports.metrics as number);
  expect(m.get('otaflux_cache_evictions_total{bound="entries"}')).toBe(3);
  expect(s.logs.some((l) => l.includes('"msg":"cache evicted"'))).toBe(true);
});

test('--cache-max-bytes: the least recently used release goes first, before the new one is written', async () => {
  const fw = firmwareDir({ a: { '1.0.0.bin': 4000 }, b: { '1.0.0.bin': 4000 }, c: { '1.0.0.bin': 4000 } });
  const cacheDir = tempDir();
  const s = await serve({ 'firmware-dir': fw.root, 'cache-dir': cacheDir, 'cache-max-bytes': 10_000 });
  expect((await firmware(s, 'a')).status).toBe(200);
  expect((await firmware(s, 'b')).status).toBe(200);
  expect((await firmware(s, 'a')).status).toBe(200); // a used after b: b is the least recently used
  expect((await firmware(s, 'c')).status).toBe(200);
  expect(blobs(cacheDir)).toEqual([sha(fw.bytes('a', '1.0.0.bin')), sha(fw.bytes('c', '1.0.0.bin'))].sort());
  const m = await scrapeMetrics(s.ports.metrics as number);
  expect(m.get('otaflux_cache_evictions_total{bound="bytes"}')).toBe(1);
  expect(m.get('otaflux_cache_bytes')).toBe(8000);
  expect(m.get('firmware_cache_entries')).toBe(2);
});

test('the bound applies at start to what is already on disk; records of evicted blobs go with them', async () => {
  const fw = firmwareDir({ a: { '1.0.0.bin': 2000 }, b: { '1.0.0.bin': 2000 }, c: { '1.0.0.bin': 2000 } });
  const cacheDir = tempDir();
  const first = await serve({ 'firmware-dir': fw.root, 'cache-dir': cacheDir });
  for (const d of ['a', 'b', 'c']) {
    expect((await firmware(first, d)).status).toBe(200);
    await Bun.sleep(20); // distinct mtimes: the LRU order on disk
  }
  expect(blobs(cacheDir).length).toBe(3);
  await first.close();
  servers.pop();

  const second = await serve({ 'firmware-dir': fw.root, 'cache-dir': cacheDir, 'cache-size': 1 });
  const newest = sha(fw.bytes('c', '1.0.0.bin'));
  expect(blobs(cacheDir)).toEqual([newest]);
  expect(new Set(recordBlobs(cacheDir))).toEqual(new Set([newest]));
  const m = await scrapeMetrics(second.ports.metrics as number);
  expect(m.get('otaflux_cache_evictions_total{bound="entries"}')).toBe(2);
  expect(m.get('firmware_cache_entries')).toBe(1);
  expect(m.get('otaflux_cache_bytes')).toBe(2000);
  const a = await firmware(second, 'a');
  expect(Buffer.compare(a.body, fw.bytes('a', '1.0.0.bin'))).toBe(0);
});

test('a download of a release evicted meanwhile completes byte-exact; its file goes when the download ends', async () => {
  // 24 MiB, streamed from the file (no memory tier): more than the socket buffers hold, so the
  // listener is still reading the file when the eviction happens.
  const fw = firmwareDir({ big: { '1.0.0.bin': 24 * 1024 * 1024 }, small: { '1.0.0.bin': 1000 } });
  const cacheDir = tempDir();
  const s = await serve({ 'firmware-dir': fw.root, 'cache-dir': cacheDir, 'cache-size': 1 }, 0);
  const big = fw.bytes('big', '1.0.0.bin');
  const bigPath = join(cacheDir, 'blobs', 'sha256', sha(big));

  const sock = await openSocket(s.ports.http as number);
  sock.write('GET /firmware?device=big HTTP/1.1\r\nHost: x\r\n\r\n');
  const start = await readAtLeast(sock, 64 * 1024, 20_000);
  sock.pause(); // a slow device: the listener waits for the socket to drain
  expect(parseResponse(start).status).toBe(200);

  expect((await firmware(s, 'small')).status).toBe(200); // --cache-size 1: big is evicted
  const m = await scrapeMetrics(s.ports.metrics as number);
  expect(m.get('otaflux_cache_evictions_total{bound="entries"}')).toBe(1);
  expect(m.get('firmware_cache_entries')).toBe(1);
  expect(m.get('otaflux_cache_bytes')).toBe(1000);
  expect(recordBlobs(cacheDir).includes(sha(big))).toBe(false); // the index no longer names it…
  expect(existsSync(bigPath)).toBe(true); // …but its file stays while the download reads it

  const headEnd = start.indexOf('\r\n\r\n') + 4;
  sock.resume();
  const rest = await readAtLeast(sock, headEnd + big.byteLength - start.length, 60_000);
  sock.destroy();
  const all = Buffer.concat([start, rest]);
  expect(all.length).toBe(headEnd + big.byteLength);
  expect(Buffer.compare(all.subarray(headEnd), big)).toBe(0);
  for (let i = 0; i < 100 && existsSync(bigPath); i++) await Bun.sleep(20);
  expect(existsSync(bigPath)).toBe(false);
  expect(blobs(cacheDir)).toEqual([sha(fw.bytes('small', '1.0.0.bin'))]);
}, 90_000);

test('a release larger than --cache-max-bytes is not kept: 502, and a cached older release keeps being served', async () => {
  const fw = firmwareDir({ dev: { '1.0.0.bin': 500 }, huge: { '1.0.0.bin': 2000 } });
  const cacheDir = tempDir();
  const s = await serve({ 'firmware-dir': fw.root, 'cache-dir': cacheDir, 'cache-max-bytes': 1000 });
  const huge = await fetch(`${s.url}/firmware?device=huge`);
  expect(huge.status).toBe(502);
  expect(await huge.text()).toBe("Firmware for device 'huge' could not be prepared");
  expect(blobs(cacheDir)).toEqual([]);
  expect(s.logs.some((l) => l.includes('raise --cache-max-bytes'))).toBe(true);

  expect((await firmware(s, 'dev')).status).toBe(200);
  writeFileSync(join(fw.root, 'dev', '2.0.0.bin'), new Uint8Array(2000).fill(1));
  const v = await fetch(`${s.url}/version?device=dev`);
  expect((await v.text()).split('\n')[0]).toBe('1.0.0');
  const body = await firmware(s, 'dev');
  expect(Buffer.compare(body.body, fw.bytes('dev', '1.0.0.bin'))).toBe(0);
  expect(blobs(cacheDir)).toEqual([sha(fw.bytes('dev', '1.0.0.bin'))]);
});

test('--cache-size 1: a fetch that fails half-way leaves the device its cached release (room is made around it)', async () => {
  const v1 = randomBytes(3000), v2 = randomBytes(3000);
  const src = memorySource({ '1.0.0': v1 });
  const cacheDir = tempDir();
  const s = await startTestServer({
    flags: { 'firmware-dir': firmwareDir({ x: {} }).root, 'cache-dir': cacheDir, 'refresh-interval': 0, 'cache-size': 1 },
    edit(settings) {
      settings.composer = new Composer([], { source: src, verifier: none(), extract: 'auto', auth: 'none', allowPrerelease: false, options: {}, matchedBy: 'defaults' });
    },
  });
  servers.push(s);
  expect((await firmware(s, 'dev')).status).toBe(200);
  src.images.set('2.0.0', v2);
  src.breakDownloads = true;
  const v = await fetch(`${s.url}/version?device=dev`);
  expect((await v.text()).split('\n')[0]).toBe('1.0.0');
  const body = await firmware(s, 'dev');
  expect(Buffer.compare(body.body, v1)).toBe(0);
  expect(blobs(cacheDir)).toEqual([sha(v1)]);
  src.breakDownloads = false;
  s.runtime.resolver.invalidate('dev');
  expect(Buffer.compare((await firmware(s, 'dev')).body, v2)).toBe(0);
  expect(blobs(cacheDir)).toEqual([sha(v2)]);
});

test('a cached blob gone from disk: 503 "being re-fetched" with Retry-After, its records go, the next request fetches it again', async () => {
  const fw = firmwareDir({ a: { '1.0.0.bin': 3000 } });
  const cacheDir = tempDir();
  const s = await serve({ 'firmware-dir': fw.root, 'cache-dir': cacheDir, 'refresh-interval': 60 }); // the answer is remembered
  expect((await fetch(`${s.url}/version?device=a`)).status).toBe(200);
  const path = join(cacheDir, 'blobs', 'sha256', sha(fw.bytes('a', '1.0.0.bin')));
  rmSync(path);
  const r = await fetch(`${s.url}/firmware?device=a`);
  expect(r.status).toBe(503);
  expect(r.headers.get('retry-after')).toBe('5');
  expect(await r.text()).toBe("Firmware for device 'a' is being re-fetched, retry later");
  expect(r.headers.get('content-length')).toBe('56'); // a keep-alive connection can carry the next request
  expect(recordBlobs(cacheDir)).toEqual([]);
  const again = await firmware(s, 'a');
  expect(again.status).toBe(200);
  expect(Buffer.compare(again.body, fw.bytes('a', '1.0.0.bin'))).toBe(0);
  expect(existsSync(path)).toBe(true);
  const m = await scrapeMetrics(s.ports.metrics as number);
  expect(m.get('firmware_cache_entries')).toBe(1);
  expect(m.get('otaflux_cache_bytes')).toBe(3000);
});
