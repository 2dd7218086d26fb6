/**
 * Graceful stop of a real OtaFlux process: on SIGTERM it refuses new connections at once, lets a
 * download in flight finish byte-exact within `--drain-timeout`, and exits 0; a download still in
 * flight when the drain time (here `DRAIN_TIMEOUT=1`) is over is cut, and the process exits anyway.
 */
import { beforeAll, expect, test } from 'bun:test';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../support/ports.ts';
import { tempDir } from '../support/tmp.ts';
import { startOtaFlux } from './otaflux-process.ts';
import { accepts, holdDownload } from './slow-download.ts';

const DEVICE = 'drain-dev';
/** Larger than the loopback socket buffers, so a reader that stops reading holds the server's writes. */
const FIRMWARE = randomBytes(24 * 1024 * 1024);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
let root = '';

beforeAll(() => {
  root = tempDir('otaflux-drain-fw-');
  mkdirSync(join(root, DEVICE));
  writeFileSync(join(root, DEVICE, '1.0.0.bin'), FIRMWARE);
});

async function serving(args: string[], env: Record<string, string> = {}) {
  const port = await freePort();
  const p = startOtaFlux(['--firmware-dir', root, '--listen-addr', `127.0.0.1:${port}`, '--metrics-listen-addr', '127.0.0.1:0', '--cache-dir', tempDir('otaflux-drain-cache-'), ...args], env);
  await p.waitFor((l) => l.msg === 'device API listening', 30_000, 'the listener');
  // The first answer builds the release into the cache, so the held download streams at once.
  expect((await fetch(`http://127.0.0.1:${port}/version?device=${DEVICE}`)).status).toBe(200);
  return { p, port };
}

test('--drain-timeout 20: SIGTERM refuses new connections, the download in flight completes byte-exact, exit 0', async () => {
  const { p, port } = await serving(['--drain-timeout', '20']);
  const held = holdDownload(port, `/firmware?device=${DEVICE}`);
  await held.started;
  const exited = p.stop('SIGTERM');
  await p.waitFor((l) => l.msg === 'shutting down: draining downloads in flight', 10_000, 'the drain');
  await Bun.sleep(200);
  expect(await accepts(port)).toBe(false);
  held.resume();
  const got = await held.done;
  expect(got.status).toBe(200);
  expect(got.length).toBe(FIRMWARE.length);
  expect(got.body.length).toBe(FIRMWARE.length);
  expect(sha(got.body)).toBe(sha(FIRMWARE));
  expect(got.error).toBeUndefined();
  expect(await exited).toBe(0);
  expect(p.count((l) => l.msg === 'stopped')).toBe(1);
}, 60_000);

test('DRAIN_TIMEOUT=1: a download still in flight after one second is cut and the process exits 0', async () => {
  const { p, port } = await serving([], { DRAIN_TIMEOUT: '1' });
  const held = holdDownload(port, `/firmware?device=${DEVICE}`);
  await held.started;
  const t0 = Date.now();
  const code = await p.stop('SIGTERM');
  const took = Date.now() - t0;
  expect(code).toBe(0);
  // One second of drain, then the rest of the shutdown; far below the default 10 s.
  expect(took).toBeGreaterThanOrEqual(900);
  expect(took).toBeLessThan(8000);
  held.resume();
  const got = await held.done;
  expect(got.status).toBe(200);
  expect(got.body.length).toBeLessThan(FIRMWARE.length);
  expect(got.error).toBe('ECONNRESET');
}, 60_000);
