// Metrics on the metrics listener: every metric moves with real traffic through the device
// listener, labels stay bounded (route templates, no raw paths, no device ids by default).
import { afterEach, expect, test } from 'bun:test';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { startTestServer, type TestServer } from '../support/server.ts';
import { memorySource, allowListVerifier, type MemorySource } from '../support/test-plugins.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { scrapeMetrics, scrapeUntil, type Scrape } from '../support/metrics.ts';
import { Composer, type Composition } from '../../src/core/composition.ts';
import { sha256Digest } from '../../src/core/hashing.ts';
import { MetricsRegistry } from '../../src/metrics/registry.ts';

const servers: TestServer[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });

const TOKEN = 'admin-token-for-metrics-test';

async function serve(source: MemorySource, verifierAllows: Uint8Array[]): Promise<TestServer> {
  const s = await startTestServer({
    flags: { 'firmware-dir': firmwareDir({ x: {} }).root, 'refresh-interval': 0, 'admin-token': TOKEN },
    edit(settings) {
      const comp: Composition = {
        source, verifier: allowListVerifier(new Set(verifierAllows.map(sha256Digest))), extract: 'auto', auth: 'none', allowPrerelease: false, options: {}, matchedBy: 'defaults',
      };
      settings.composer = new Composer([], comp);
    },
  });
  servers.push(s);
  return s;
}

/** Scrapes /metrics into `name{labels}` → value (histogram buckets included). */
async function scrape(s: TestServer): Promise<Scrape> {
  const m = await scrapeMetrics(s.ports.metrics as number);
  expect(m.status).toBe(200);
  expect(m.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
  return m;
}

test('every metric moves with traffic', async () => {
  const good = randomBytes(3000), unsigned = randomBytes(100);
  const src = memorySource({ '1.0.0': good, '2.0.0': unsigned });
  const s = await serve(src, [good]);
  const before = await scrape(s);
  expect(before.get('http_requests_total{method="GET",path="/version",status="200"}')).toBe(0);
  expect(before.text).toContain('# TYPE http_requests_duration_seconds histogram');
  expect(before.text).toContain('# TYPE firmware_cache_hit_total counter');

  expect((await fetch(`${s.url}/version?device=dev`)).status).toBe(200);
  const fw = await fetch(`${s.url}/firmware?device=dev`);
  expect((await fw.arrayBuffer()).byteLength).toBe(3000);
  expect((await fetch(`${s.url}/version`)).status).toBe(400);
  for (const id of ['dev-a', 'dev-b']) expect((await fetch(`${s.url}/api/devices/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
  expect((await fetch(`${s.url}/no-such-route-7d1f`)).status).toBe(404);

  const after = await scrape(s);
  expect(after.get('http_requests_total{method="GET",path="/version",status="200"}')).toBe(1);
  expect(after.get('http_requests_total{method="GET",path="/version",status="400"}')).toBe(1);
  expect(after.get('http_requests_total{method="GET",path="/firmware",status="200"}')).toBe(1);
  expect(after.get('http_requests_total{method="GET",path="/api/devices/*",status="200"}')).toBe(2);
  expect(after.get('http_requests_total{method="GET",path="unmatched",status="404"}')).toBe(1);
  expect(after.get('http_requests_duration_seconds_count{method="GET",path="/firmware",status="200"}')).toBe(1);
  expect(after.get('http_requests_duration_seconds_bucket{method="GET",path="/firmware",status="200",le="+Inf"}')).toBe(1);
  expect(after.get('firmware_cache_miss_total')).toBe(1);
  expect(after.get('firmware_cache_hit_total')).toBeGreaterThanOrEqual(1); // refresh 0: the second poll finds the built release
  expect(after.get('firmware_cache_entries')).toBe(1);
  expect(after.get('otaflux_cache_bytes')).toBe(3000);
  expect(after.get('otaflux_served_bytes_total{path="/firmware"}')).toBe(3000);
  expect(after.get('otaflux_devices_seen')).toBe(1);
  expect(after.get('otaflux_device_polls_total{route="firmware"}')).toBe(1);
  expect(after.get('otaflux_verification_failures_total{verifier="verifier.allow-list-test",reason="unsigned"}')).toBe(1);
  expect(after.get('otaflux_upstream_requests_total{source="source.memory-test",operation="versions",outcome="ok"}')).toBeGreaterThanOrEqual(2);
  expect(after.get('otaflux_upstream_requests_total{source="source.memory-test",operation="open",outcome="ok"}')).toBe(1);
  expect(after.get('otaflux_upstream_request_duration_seconds_count{source="source.memory-test",operation="versions"}')).toBeGreaterThanOrEqual(2);
  expect(after.get('otaflux_release_changes_total')).toBe(1);
  expect(after.get('otaflux_build_info{version="0.2.0"}')).toBe(1);

  // The source goes down: registry errors and a stale refresh are counted.
  src.down = true;
  expect((await fetch(`${s.url}/version?device=dev`)).status).toBe(200);
  const down = await scrape(s);
  expect(down.get('otaflux_upstream_errors_total{source="source.memory-test",operation="versions",kind="UpstreamUnavailable"}')).toBe(1);
  expect(down.get('otaflux_upstream_requests_total{source="source.memory-test",operation="versions",outcome="error"}')).toBe(1);
  expect(down.get('otaflux_refresh_failures_total{stale="true"}')).toBe(1);

  // Bounded labels: no raw path, no device id anywhere.
  for (const raw of ['no-such-route-7d1f', 'dev-a', 'device="dev"']) expect(down.text).not.toContain(raw);
});

/** A server with a 24 MiB image, and a raw socket that has asked for it. */
async function bigDownload() {
  const big = randomBytes(24 * 1024 * 1024);
  const s = await serve(memorySource({ '1.0.0': big }), [big]);
  expect((await fetch(`${s.url}/version?device=dev`)).status).toBe(200);
  const sock = connect(s.ports.http as number, '127.0.0.1');
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.write('GET /firmware?device=dev HTTP/1.1\r\nHost: x\r\n\r\n');
  return { s, big, sock };
}

test('a firmware download being sent shows in otaflux_downloads_in_flight', async () => {
  // A client that asks and then reads nothing: the response cannot finish.
  const { s, big, sock } = await bigDownload();
  sock.pause();
  expect((await scrapeUntil(s.ports.metrics as number, 'otaflux_downloads_in_flight', 1)).get('otaflux_downloads_in_flight')).toBe(1);
  // Now read it all: the download completes and the gauge falls back to 0.
  let got = 0;
  const finished = new Promise<void>((r) => sock.on('data', (c: Buffer) => { got += c.length; if (got >= big.length) r(); }));
  sock.resume();
  await finished;
  sock.destroy();
  expect((await scrapeUntil(s.ports.metrics as number, 'otaflux_downloads_in_flight', 0)).get('otaflux_downloads_in_flight')).toBe(0);
});

test('the metrics listener answers only /metrics', async () => {
  const img = randomBytes(10);
  const s = await serve(memorySource({ '1.0.0': img }), [img]);
  expect((await fetch(`http://127.0.0.1:${s.ports.metrics}/version?device=dev`)).status).toBe(404);
  expect((await fetch(`http://127.0.0.1:${s.ports.metrics}/metrics`, { method: 'POST' })).status).toBe(405);
});

test('registry: text format, escaping, and the series cap', async () => {
  const reg = new MetricsRegistry();
  const c = reg.counter({ name: 'things_total', help: 'Things.\nSecond line', labelNames: ['kind'], maxSeries: 2 });
  c.inc({ kind: 'a"b\\c\nd' });
  c.inc({ kind: 'x' }, 2);
  c.inc({ kind: 'y' });
  c.inc({ kind: 'z' });
  const h = reg.histogram({ name: 'wait_seconds', help: 'Waits.', buckets: [0.1, 1] });
  h.observe(undefined, 0.05);
  h.observe(undefined, 0.5);
  h.observe(undefined, 5);
  const text = await reg.render();
  expect(text).toContain('# HELP things_total Things.\\nSecond line\n# TYPE things_total counter\n');
  expect(text).toContain('things_total{kind="a\\"b\\\\c\\nd"} 1\n');
  expect(text).toContain('things_total{kind="x"} 2\n');
  expect(text).toContain('things_total{kind="other"} 2\n'); // y and z: past the cap of 2 series
  expect(text).toContain('wait_seconds_bucket{le="0.1"} 1\nwait_seconds_bucket{le="1"} 2\nwait_seconds_bucket{le="+Inf"} 3\nwait_seconds_sum 5.55\nwait_seconds_count 3\n');
  expect(() => c.inc({ kind: 'x' }, -1)).toThrow('cannot decrease');
});

test('registry: metrics read at scrape time, left out when there is nothing to read', async () => {
  const reg = new MetricsRegistry();
  let fds: number | undefined = 12;
  reg.collected({ name: 'open_things', help: 'Things open now.', type: 'gauge', collect: () => fds });
  reg.collected({ name: 'conns', help: 'Per listener.', type: 'gauge', labelNames: ['listener'], collect: () => [[{ listener: 'device' }, 3], [{ listener: 'tls' }, 1]] });
  reg.collected({ name: 'broken', help: 'Throws.', type: 'counter', collect: () => { throw new Error('no /proc here'); } });
  const text = await reg.render();
  expect(text).toContain('# TYPE open_things gauge\nopen_things 12\n');
  expect(text).toContain('conns{listener="device"} 3\nconns{listener="tls"} 1\n');
  expect(text).not.toContain('broken');
  fds = undefined; // e.g. /proc/self/fd on a system without /proc
  expect(await reg.render()).not.toContain('open_things');
});

test('per-device labels only when opted in', async () => {
  const { CoreEventBus } = await import('../../src/core/events.ts');
  const { OtaFluxMetrics } = await import('../../src/metrics/otaflux-metrics.ts');
  for (const perDeviceLabels of [false, true]) {
    const events = new CoreEventBus();
    const m = new OtaFluxMetrics({ events, perDeviceLabels });
    events.emit('device-seen', { device: 'esp32-kitchen', route: 'version', remoteAddress: '127.0.0.1' });
    const text = await m.render();
    expect(text).toContain('otaflux_device_polls_total{route="version"} 1');
    expect(text.includes('otaflux_device_requests_total{device="esp32-kitchen",route="version"} 1')).toBe(perDeviceLabels);
    m.close();
  }
});

test('a download cut by the device is counted and leaves the in-flight gauge', async () => {
  const { s, big, sock } = await bigDownload();
  // Read the first megabyte, then hang up like a device losing Wi-Fi.
  let got = 0;
  await new Promise<void>((r) => sock.on('data', (c: Buffer) => { got += c.length; if (got >= 1024 * 1024) { sock.pause(); r(); } }));
  expect((await scrape(s)).get('otaflux_downloads_in_flight')).toBe(1);
  sock.destroy();
  const m = await scrapeUntil(s.ports.metrics as number, 'otaflux_downloads_in_flight', 0);
  expect(m.get('otaflux_downloads_in_flight')).toBe(0);
  expect(m.get('http_requests_total{method="GET",path="/firmware",status="200"}')).toBe(1);
  expect(m.get('otaflux_served_bytes_total{path="/firmware"}')).toBeLessThan(big.length);
});

test('a busy metrics address stops start-up with a message naming the flag', async () => {
  const { createServer } = await import('node:net');
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  const port = (blocker.address() as { port: number }).port;
  try {
    await expect(startTestServer({ flags: { 'firmware-dir': firmwareDir({ x: {} }).root, 'metrics-listen-addr': `127.0.0.1:${port}` } }))
      .rejects.toThrow(`--metrics-listen-addr 127.0.0.1:${port}: address already in use; stop the other process or choose another port`);
  } finally {
    blocker.close();
  }
});

test('per-device series only when asked for (--metrics-device-labels)', async () => {
  const fw = firmwareDir({ 'esp32-kitchen': { '1.0.0.bin': 100 } });
  for (const labels of [false, true]) {
    const s = await startTestServer({ flags: { 'firmware-dir': fw.root, ...(labels ? { 'metrics-device-labels': true } : {}) } });
    servers.push(s);
    expect((await fetch(`${s.url}/version?device=esp32-kitchen`)).status).toBe(200);
    const m = await scrape(s);
    expect(m.get('otaflux_device_requests_total{device="esp32-kitchen",route="version"}')).toBe(labels ? 1 : 0);
    expect(m.text.includes('esp32-kitchen')).toBe(labels);
  }
});
