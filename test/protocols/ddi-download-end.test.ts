/**
 * A DDI artifact download over real sockets reaches the fleet as it does on `/firmware`: the instance's
 * outcome becomes `downloaded` once the device listener wrote the image's last byte (a 200, or a 206
 * that ends there), and stays `downloading` when the client goes away mid-body or reads a range that
 * stops earlier. The bytes, Content-Length, HEAD, Range and 416 answers are the firmware route's.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { openSocket, readAtLeast } from '../support/raw-http.ts';
import { createApp } from '../../src/http/app.ts';
import type { HttpRequestDone } from '../../src/core/events.ts';
import { jsonOf, outcomeState, pathOf, raw } from './ddi-raw.ts';

const SIZE = 24 * 1024 * 1024;
const fw = firmwareDir({ 'big-fw': { '2.0.0.swu': SIZE } });
const image = Buffer.from(fw.bytes('big-fw', '2.0.0.swu'));
let server: TestServer;

beforeAll(async () => {
  const config = join(tempDir('otaflux-ddi-end-'), 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir } from 'otaflux';
export default defineConfig({
  defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }), extract: 'raw' },
  protocols: { ddi: { streams: { 'ctl-*': 'big-fw' } } },
});
`);
  server = await startTestServer({ config });
});

afterAll(async () => {
  await server?.close();
});

/** The artifact path offered to a controller (poll, then its deployment). */
async function artifactOf(controller: string): Promise<string> {
  const poll = jsonOf(await raw(server, 'GET', `/DEFAULT/controller/v1/${controller}`));
  const deployment = jsonOf(await raw(server, 'GET', pathOf(poll._links.deploymentBase.href)));
  return pathOf(deployment.deployment.chunks[0].artifacts[0]._links['download-http'].href);
}

/** Resolves with the device listener's report of the next answer on `path`. */
function answered(path: string): Promise<HttpRequestDone> {
  return new Promise((resolve) => {
    const on = (e: HttpRequestDone) => {
      if (e.route !== path) return;
      server.runtime.events.off('http-request', on);
      resolve(e);
    };
    server.runtime.events.on('http-request', on);
  });
}

const state = (controller: string) => server.runtime.fleet?.outcomesOf(`ddi:${controller}`).find((o) => o.stream === 'big-fw')?.state;

test('a whole download (200): the exact bytes with an exact Content-Length, then the outcome is downloaded', async () => {
  const path = await artifactOf('ctl-whole');
  const head = await raw(server, 'HEAD', path);
  expect(head.status).toBe(200);
  expect(head.headers['content-length']).toBe(String(SIZE));
  expect(state('ctl-whole')).not.toBe('downloaded');
  const done = answered(path);
  const r = await fetch(`http://127.0.0.1:${server.ports.http}${path}`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-length')).toBe(String(SIZE));
  expect(r.headers.get('transfer-encoding')).toBeNull();
  const body = Buffer.from(await r.arrayBuffer());
  expect(createHash('sha256').update(body).digest('hex')).toBe(createHash('sha256').update(image).digest('hex'));
  const e = await done;
  expect(e.bytes).toBe(SIZE);
  expect(e.protocol).toBe('ddi');
  expect(state('ctl-whole')).toBe('downloaded');
  await server.runtime.fleet?.flush();
  expect((await server.runtime.fleet?.store.instance('ddi:ctl-whole'))?.downloaded_version).toBe('2.0.0');
  // The HEAD and the GET each ended their download: nothing is left in flight.
  const metrics = await (await fetch(`http://127.0.0.1:${server.ports.metrics}/metrics`)).text();
  expect(/^otaflux_downloads_in_flight (\S+)$/m.exec(metrics)?.[1]).toBe('0');
}, 60_000);

test('a download cut short mid-body stays downloading', async () => {
  const path = await artifactOf('ctl-cut');
  const done = answered(path);
  const sock = await openSocket(server.ports.http as number);
  sock.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`);
  await readAtLeast(sock, 256 * 1024);
  sock.destroy();
  const e = await done;
  expect(e.errorCode).toBe('aborted');
  expect(state('ctl-cut')).toBe('downloading');
}, 60_000);

test('ranges: a 206 that stops before the last byte stays downloading, the 206 that ends there is downloaded; 416 past the end', async () => {
  const path = await artifactOf('ctl-range');
  const first = await fetch(`http://127.0.0.1:${server.ports.http}${path}`, { headers: { range: 'bytes=0-1023' } });
  expect(first.status).toBe(206);
  expect(first.headers.get('content-range')).toBe(`bytes 0-1023/${SIZE}`);
  expect(Buffer.from(await first.arrayBuffer()).equals(image.subarray(0, 1024))).toBe(true);
  expect(await outcomeState(server, 'ddi:ctl-range', 'big-fw', 'downloaded', 300)).toBe('downloading');
  const tooFar = await raw(server, 'GET', path, { range: `bytes=${SIZE}-` });
  expect(tooFar.status).toBe(416);
  expect(tooFar.headers['content-range']).toBe(`bytes */${SIZE}`);
  expect(state('ctl-range')).toBe('downloading');
  const done = answered(path);
  const rest = await fetch(`http://127.0.0.1:${server.ports.http}${path}`, { headers: { range: 'bytes=1024-' } });
  expect(rest.status).toBe(206);
  expect(rest.headers.get('content-length')).toBe(String(SIZE - 1024));
  expect(Buffer.from(await rest.arrayBuffer()).equals(image.subarray(1024))).toBe(true);
  await done;
  expect(state('ctl-range')).toBe('downloaded');
}, 60_000);

test('the app used directly (app.handle) still answers the artifact with its bytes', async () => {
  const path = await artifactOf('ctl-direct');
  const r = await createApp(server.runtime).handle(new Request(`http://localhost${path}`, { headers: { range: 'bytes=0-99' } }));
  expect(r.status).toBe(206);
  expect(Buffer.from(await r.arrayBuffer()).equals(image.subarray(0, 100))).toBe(true);
});

test('after the download a poll infers nothing: the outcome stays downloaded and the deployment offered until the feedback closes it', async () => {
  const path = await artifactOf('ctl-feedback');
  const done = answered(path);
  const r = await fetch(`http://127.0.0.1:${server.ports.http}${path}`);
  expect((await r.arrayBuffer()).byteLength).toBe(SIZE);
  await done;
  expect(state('ctl-feedback')).toBe('downloaded');
  // A DDI poll carries no version and infers nothing: the outcome stays downloaded, the deployment open.
  const again = jsonOf(await raw(server, 'GET', '/DEFAULT/controller/v1/ctl-feedback'));
  expect(state('ctl-feedback')).toBe('downloaded');
  const base = pathOf(again._links.deploymentBase.href);
  const feedback = await raw(server, 'POST', `${base}/feedback`, {}, JSON.stringify({ status: { execution: 'closed', result: { finished: 'failure' } } }));
  expect(feedback.status).toBe(200);
  expect(state('ctl-feedback')).toBe('failed');
  expect(jsonOf(await raw(server, 'GET', '/DEFAULT/controller/v1/ctl-feedback'))._links.deploymentBase).toBeUndefined();
}, 60_000);
