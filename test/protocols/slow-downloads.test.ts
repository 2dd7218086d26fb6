/**
 * Slow clients on the protocol downloads, against the real process (src/main.ts as a child): readers
 * that stop reading in the middle of a hawkBit DDI artifact or a RAUC bundle (after its first
 * `bytes=0-3`) do not hold back the others. While they sit mid-body (their connections still open on
 * the server, their bytes not taken), other DDI controllers and RAUC clients download the whole image
 * byte-exact and a device polls `/version`; then the slow readers read on and get every byte, exact.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { openSocket } from '../support/raw-http.ts';
import { scrapeMetrics } from '../support/metrics.ts';
import { restartableServer, type RestartableServer } from './restartable-server.ts';

setDefaultTimeout(120_000);

const MiB = 1024 * 1024;
// Larger than what loopback socket buffers absorb, so a reader that stops really is mid-body.
const SIZE = 24 * MiB;
const SLOW = 6;
const NORMAL = 3;
const fw = firmwareDir({ 'slow-board': { '1.0.0.raucb': SIZE }, small: { '1.0.0.bin': 1000 } });
const SHA = createHash('sha256').update(fw.bytes('slow-board', '1.0.0.raucb')).digest('hex');
let server: RestartableServer;
let port: number;

beforeAll(async () => {
  const config = join(tempDir('otaflux-slow-'), 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir } from 'otaflux';
export default defineConfig({
  server: { adminToken: 'slow-downloads-admin-token-01234' },
  defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }), extract: 'raw' },
  protocols: { ddi: { streams: { 'ctl-*': 'slow-board' } }, rauc: { streams: { 'Slow *': 'slow-board' } } },
});
`);
  server = restartableServer(config);
  await server.start();
  port = Number(new URL(server.url).port);
  // Warm: the release fetched and verified once, before anyone is slow.
  await (await fetch(`${server.url}/firmware?device=slow-board`)).arrayBuffer();
});
afterAll(() => server?.stop());

/** The artifact path of a DDI controller's deployment (poll, then deploymentBase). */
async function artifactPath(controller: string): Promise<string> {
  const poll = (await (await fetch(`${server.url}/DEFAULT/controller/v1/${controller}`)).json()) as { _links: { deploymentBase: { href: string } } };
  const d = (await (await fetch(poll._links.deploymentBase.href)).json()) as { deployment: { chunks: { artifacts: { _links: { download: { href: string } } }[] }[] } };
  return new URL(d.deployment.chunks[0]!.artifacts[0]!._links.download.href).pathname;
}

/** RAUC's first request (`bytes=0-3` with its headers); the rest is then read with `bytes=4-`. */
async function raucFirst(serial: string): Promise<Buffer> {
  const r = await fetch(`${server.url}/firmware?device=slow-board`, { headers: { range: 'bytes=0-3', 'rauc-serial': serial } });
  expect(r.status).toBe(206);
  return Buffer.from(await r.arrayBuffer());
}

/** A download on a raw socket that reads nothing until `resume()`; `done` has the body once the server closes. */
interface SlowReader { socket: Socket; resume(): void; done: Promise<Buffer> }

async function slowReader(path: string, headers: string[] = []): Promise<SlowReader> {
  const s = await openSocket(port);
  s.pause();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('close', () => resolve(Buffer.concat(chunks)));
    s.once('error', reject);
  });
  s.write([`GET ${path} HTTP/1.1`, 'Host: ota', ...headers, 'Connection: close', '', ''].join('\r\n'));
  return { socket: s, resume: () => s.resume(), done };
}

const bodyOf = (raw: Buffer) => raw.subarray(raw.indexOf('\r\n\r\n') + 4);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('readers stalled mid-download of DDI artifacts and RAUC bundles hold back no one; they get every byte when they read on', async () => {
  const openBefore = (await scrapeMetrics(server.metricsPort)).get('otaflux_open_connections{listener="device"}');
  const slow: { reader: SlowReader; head?: Buffer }[] = [];
  for (let i = 0; i < SLOW; i++) {
    slow.push({ reader: await slowReader(await artifactPath(`ctl-slow-${i}`)) });
    const head = await raucFirst(`slow-${i}`);
    slow.push({ reader: await slowReader('/firmware?device=slow-board', ['Range: bytes=4-']), head });
  }
  await Bun.sleep(500);

  // Everyone else, meanwhile: whole downloads over DDI and RAUC, and a poll.
  const normal = await Promise.all([
    ...Array.from({ length: NORMAL }, async (_, i) => {
      const r = await fetch(`${server.url}${await artifactPath(`ctl-fast-${i}`)}`);
      expect(r.status).toBe(200);
      return sha(new Uint8Array(await r.arrayBuffer()));
    }),
    ...Array.from({ length: NORMAL }, async (_, i) => {
      const head = await raucFirst(`fast-${i}`);
      const r = await fetch(`${server.url}/firmware?device=slow-board`, { headers: { range: 'bytes=4-' } });
      expect(r.status).toBe(206);
      expect(r.headers.get('content-range')).toBe(`bytes 4-${SIZE - 1}/${SIZE}`);
      return sha(Buffer.concat([head, Buffer.from(await r.arrayBuffer())]));
    }),
  ]);
  expect(normal).toEqual(Array(2 * NORMAL).fill(SHA));
  const poll = await fetch(`${server.url}/version?device=small`);
  expect(poll.status).toBe(200);
  expect((await poll.text()).split('\n')[0]).toBe('1.0.0');

  // The slow readers are still mid-body: the server still holds every one of their connections.
  const open = (await scrapeMetrics(server.metricsPort)).get('otaflux_open_connections{listener="device"}');
  expect(open - openBefore).toBeGreaterThanOrEqual(2 * SLOW);

  // They read on: every byte, exact.
  for (const s of slow) s.reader.resume();
  const bodies = await Promise.all(slow.map(async (s) => {
    const body = bodyOf(await s.reader.done);
    return sha(s.head ? Buffer.concat([s.head, body]) : body);
  }));
  expect(bodies).toEqual(Array(2 * SLOW).fill(SHA));
});
