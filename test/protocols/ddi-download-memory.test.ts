/**
 * A DDI artifact download is written from the cached file as `/firmware` is, never read into the
 * server's memory per request: a child-process server holds several 24 MiB downloads open at once
 * (the clients read the head and a little body, then stop reading) and its resident memory grows by
 * far less than the images it is sending.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { openSocket, readAtLeast } from '../support/raw-http.ts';
import { rssKiB, startChildServer, type ChildServer } from '../auth/flood.ts';

const MIB = 1024 * 1024;
const SIZE = 24 * MIB;
const CLIENTS = 4;
const fw = firmwareDir({ 'mem-fw': { '1.0.0.swu': SIZE } });
let server: ChildServer;

beforeAll(async () => {
  const config = join(tempDir('otaflux-ddi-memory-'), 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir } from 'otaflux';
export default defineConfig({
  defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }), extract: 'raw' },
  protocols: { ddi: { streams: { 'mem-*': 'mem-fw' } } },
});
`);
  server = await startChildServer(['--config', config]);
}, 60_000);

afterAll(() => server?.stop());

/** The artifact path offered to a controller (poll, then its deployment). */
async function artifactOf(controller: string): Promise<string> {
  const url = (path: string) => `http://127.0.0.1:${server.port}${path}`;
  const poll = (await (await fetch(url(`/DEFAULT/controller/v1/${controller}`))).json()) as any;
  const deployment = (await (await fetch(url(new URL(poll._links.deploymentBase.href).pathname))).json()) as any;
  return new URL(deployment.deployment.chunks[0].artifacts[0]._links['download-http'].href).pathname;
}

/** Reads the rest of a paused download to its end; resolves with the body bytes received in all. */
function drain(sock: Socket, already: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let bytes = already;
    sock.on('data', (c: Buffer) => {
      bytes += c.length;
      if (bytes >= SIZE) {
        sock.destroy();
        resolve(bytes);
      }
    });
    sock.once('error', reject);
    sock.once('close', () => resolve(bytes));
    sock.resume();
  });
}

test(`${CLIENTS} stalled 24 MiB DDI downloads at once raise the server's RSS by less than half of the images they send`, async () => {
  const paths = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => artifactOf(`mem-${i}`)));
  // One whole download first: the cache and the code paths are warm before the baseline.
  const warm = await fetch(`http://127.0.0.1:${server.port}${paths[0]}`);
  expect((await warm.arrayBuffer()).byteLength).toBe(SIZE);
  await Bun.sleep(300);
  const before = rssKiB(server.pid);

  const socks: { sock: Socket; body: number }[] = [];
  for (const path of paths) {
    const sock = await openSocket(server.port);
    sock.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`);
    const got = await readAtLeast(sock, 64 * 1024);
    sock.pause();
    const head = got.indexOf('\r\n\r\n');
    expect(got.subarray(0, head).toString()).toContain(`content-length: ${SIZE}`);
    socks.push({ sock, body: got.length - head - 4 });
  }
  // The server now holds every answer open against clients that do not read.
  let peak = before;
  for (let i = 0; i < 15; i++) {
    await Bun.sleep(100);
    peak = Math.max(peak, rssKiB(server.pid));
  }
  const received = await Promise.all(socks.map(({ sock, body }) => drain(sock, body)));
  expect(received).toEqual(Array(CLIENTS).fill(SIZE));

  const growthMiB = (peak - before) / 1024;
  console.log(`ddi downloads: RSS ${Math.round(before / 1024)} MiB before, +${growthMiB.toFixed(1)} MiB with ${CLIENTS} × 24 MiB open (load average ${loadavg().map((l) => l.toFixed(2)).join(' ')})`);
  expect(growthMiB).toBeLessThan((SIZE / MIB) * CLIENTS * 0.5);
}, 120_000);
