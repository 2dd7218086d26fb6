// Smoke test of the linux-arm64 binary (Raspberry Pi) under qemu-user as a Cortex-A53, the CPU of a
// Pi 3 / Zero 2 W: Bun has shipped builds that crashed on it. Cross-compiled offline with Bun's
// arm64 runtime from npm (scripts/build.ts); then it must print its version and serve one /version.
import { beforeAll, expect, test } from 'bun:test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pkg from '../../package.json' with { type: 'json' };
import { tempDir } from '../support/tmp.ts';
import { compiledBinary, runBinary, startBinary } from './binary.ts';

const QEMU = ['qemu-aarch64-static', '-L', '/usr/aarch64-linux-gnu', '-cpu', 'cortex-a53'];
let bin: string;

beforeAll(async () => {
  bin = (await compiledBinary('linux-arm64')).path;
}, 120_000);

test('it is an aarch64 ELF executable', async () => {
  const head = new Uint8Array(await Bun.file(bin).slice(0, 20).arrayBuffer());
  expect([...head.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]);
  // e_machine at offset 18, little endian: 183 = EM_AARCH64.
  expect(head[18]! | (head[19]! << 8)).toBe(183);
});

test('--version runs on a Cortex-A53', async () => {
  const r = await runBinary([...QEMU, bin, '--version'], { timeoutMs: 60_000 });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(`otaflux ${pkg.version} (bun ${Bun.version}, linux-arm64)\n`);
}, 60_000);

test('serves /version from a firmware folder on a Cortex-A53', async () => {
  const root = tempDir('otaflux-arm64-fw-');
  const image = randomBytes(40_000);
  mkdirSync(join(root, 'pi-gateway'));
  writeFileSync(join(root, 'pi-gateway', 'v3.1.4.bin'), image);
  const cwd = tempDir('otaflux-arm64-run-');
  const server = await startBinary(
    [...QEMU, bin, '--firmware-dir', root, '--listen-addr', '127.0.0.1:0', '--metrics-listen-addr', '127.0.0.1:0', '--cache-dir', join(cwd, 'cache')],
    { cwd, timeoutMs: 60_000 },
  );
  try {
    const res = await fetch(`${server.url}/version?device=pi-gateway`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(`3.1.4\n${Bun.hash.crc32(image) >>> 0}\n${image.length}`);
  } finally {
    expect(await server.stop()).toBe(0);
  }
}, 90_000);
