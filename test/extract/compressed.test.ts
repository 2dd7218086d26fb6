/** gzip and zstd extractors on archives made by the Debian `gzip` and `zstd` CLIs, good and hostile. */
import { beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { gzip, zstd } from '../../src/plugins/extractor/index.ts';
import { tempDir } from '../support/tmp.ts';
import { collect, extractCtx, failureOf, fileStream, firmwareBytes, join, sameBytes, sh, streamOf } from './helpers.ts';

let dir: string;
const fw = firmwareBytes(3 * 1024 * 1024 + 17);

beforeAll(() => {
  dir = tempDir('otaflux-extract-');
  writeFileSync(join(dir, 'fw.bin'), fw);
  sh('gzip -k -6 fw.bin && zstd -q -3 fw.bin -o fw.bin.zst && zstd -q -C fw.bin -o fw.sum.zst', dir);
  sh('cat fw.bin.gz fw.bin.gz > twice.gz && cat fw.bin.zst fw.bin.zst > twice.zst', dir);
});

const formats = [
  { name: 'gzip', plugin: gzip, file: 'fw.bin.gz', id: 'extractor.gzip' },
  { name: 'zstd', plugin: zstd, file: 'fw.bin.zst', id: 'extractor.zstd' },
] as const;

describe.each(formats)('$name', ({ plugin, file, id }) => {
  test('extracts what the CLI compressed, byte for byte, in small input chunks too', async () => {
    sameBytes(await collect(plugin().extract(fileStream(join(dir, file)), extractCtx())), fw);
    sameBytes(await collect(plugin().extract(fileStream(join(dir, file), 1000), extractCtx())), fw);
  });

  test('concatenated streams decompress to both, as the CLI does', async () => {
    const out = await collect(plugin().extract(fileStream(join(dir, file.replace('fw.bin', 'twice'))), extractCtx()));
    expect(out.byteLength).toBe(fw.byteLength * 2);
    sameBytes(out.subarray(fw.byteLength), fw);
  });

  test('detects its magic and nothing else', () => {
    const head = readFileSync(join(dir, file)).subarray(0, 512);
    expect(plugin().detect!({ head })).toBe(true);
    expect(plugin().detect!({ head: fw.subarray(0, 512), name: `fw.bin.${file.split('.').pop()}` })).toBe(false);
  });

  test('truncated input errors with a clear message', async () => {
    const whole = readFileSync(join(dir, file));
    const err = await failureOf(plugin().extract(streamOf(whole.subarray(0, Math.floor(whole.byteLength / 2))), extractCtx()));
    expect(err.message).toStartWith(`${id}: truncated input`);
  });

  test('input in another format errors naming the bytes it starts with', async () => {
    const err = await failureOf(plugin().extract(streamOf(fw), extractCtx()));
    expect(err.message).toContain(`${id}: input is not`);
    const empty = await failureOf(plugin().extract(streamOf(new Uint8Array(0)), extractCtx()));
    expect(empty.message).toContain('(empty)');
  });

  test('an error of the input passes through unchanged', async () => {
    const boom = new Error('fetching blob sha256:abc from 127.0.0.1:5000/fw/dev1: connection reset');
    const whole = readFileSync(join(dir, file));
    let sent = false;
    const input = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (!sent) {
          sent = true;
          ctl.enqueue(whole.subarray(0, 4096));
        } else ctl.error(boom);
      },
    });
    expect(await failureOf(plugin().extract(input, extractCtx()))).toBe(boom);
  });

  test('output over maxOutputBytes is refused as a bomb', async () => {
    const err = await failureOf(plugin().extract(fileStream(join(dir, file)), extractCtx({ maxOutputBytes: 1024 * 1024 })));
    expect(err.message).toBe(`${id}: output exceeds the limit of 1048576 bytes (limits.maxOutputBytes); refusing a possible decompression bomb`);
  });
});

test('gzip: a corrupt CRC-32 in the trailer is an error', async () => {
  const bytes = new Uint8Array(readFileSync(join(dir, 'fw.bin.gz')));
  bytes[bytes.byteLength - 6]! ^= 0xff; // inside the CRC-32 of the trailer
  const err = await failureOf(gzip().extract(streamOf(bytes), extractCtx()));
  expect(err.message).toStartWith('extractor.gzip: corrupt gzip data');
});

test('zstd: a corrupt frame checksum is an error', async () => {
  const bytes = new Uint8Array(readFileSync(join(dir, 'fw.sum.zst')));
  bytes[bytes.byteLength - 1]! ^= 0xff; // the last byte of the 32-bit content checksum
  const err = await failureOf(zstd().extract(streamOf(bytes), extractCtx()));
  expect(err.message).toStartWith('extractor.zstd: corrupt zstd data');
});

describe('decompression bombs', () => {
  test('1 GiB of zeros through zstd stops at the limit, fast and without buffering the output', async () => {
    const d = tempDir('otaflux-bomb-');
    sh('head -c 1073741824 /dev/zero | zstd -q -1 -o zeros.zst', d);
    const bomb = readFileSync(join(d, 'zeros.zst'));
    expect(bomb.byteLength).toBeLessThan(100_000);
    Bun.gc(true);
    const before = process.memoryUsage().rss;
    const started = performance.now();
    const err = await failureOf(zstd().extract(streamOf(bomb), extractCtx({ maxOutputBytes: 64 * 1024 * 1024, maxRatio: 1e9 })));
    expect(err.message).toContain('output exceeds the limit of 67108864 bytes');
    expect(performance.now() - started).toBeLessThan(5000);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
  });

  test('gzip of zeros is refused by the ratio limit long before the size limit', async () => {
    const d = tempDir('otaflux-bomb-');
    sh('head -c 67108864 /dev/zero | gzip -1 > zeros.gz', d);
    const err = await failureOf(gzip().extract(fileStream(join(d, 'zeros.gz')), extractCtx({ maxRatio: 50 })));
    expect(err.message).toMatch(/^extractor\.gzip: \d+ bytes out of \d+ bytes in is over the ratio limit of 50 \(limits\.maxRatio\)/);
  });

  test('a small image that compresses very well is not a bomb (ratio floor)', async () => {
    const erased = new Uint8Array(512 * 1024).fill(0xff);
    const d = tempDir('otaflux-erased-');
    writeFileSync(join(d, 'erased.bin'), erased);
    sh('gzip -9 erased.bin', d);
    sameBytes(await collect(gzip().extract(fileStream(join(d, 'erased.bin.gz')), extractCtx({ maxRatio: 10 }))), erased);
  });
});
