/** `extractChain`: auto-detection by content over real .gz/.zst/.tar.gz/.tar.zst files, pinned chains, chain-wide limits. */
import { beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { extractChain } from '../../src/core/extract-chain.ts';
import { builtinExtractors } from '../../src/plugins/extractor/builtin.ts';
import { gzip, raw, tar, zstd } from '../../src/plugins/extractor/index.ts';
import { PLUGIN_API_VERSION, type ExtractorPlugin } from '../../src/plugin.ts';
import { tempDir } from '../support/tmp.ts';
import { collect, extractCtx, failureOf, fileStream, firmwareBytes, join, sameBytes, sh, streamOf } from './helpers.ts';

let dir: string;
const fw = firmwareBytes(2 * 1024 * 1024 + 5, 11);
const available = builtinExtractors();
const OCI_UNTYPED = 'application/vnd.oci.image.layer.v1.tar';

beforeAll(() => {
  dir = tempDir('otaflux-chain-');
  writeFileSync(join(dir, 'firmware.bin'), fw);
  writeFileSync(join(dir, 'README'), 'release notes\n');
  sh(
    [
      'gzip -k firmware.bin',
      'zstd -q firmware.bin -o firmware.bin.zst',
      'tar -czf fw.tar.gz firmware.bin README',
      'tar --zstd -cf fw.tar.zst firmware.bin README',
      'tar -cf - firmware.bin | gzip | zstd -q > fw.tar.gz.zst',
      'tar -cf - README | gzip > notes.tar.gz',
      'tar -czf empty.tar.gz -T /dev/null',
      'printf "\\037\\213\\010\\000" > gz-magic.bin && head -c 700 firmware.bin >> gz-magic.bin',
      'printf "\\037\\213\\077\\000" > gz-unlikely.bin && head -c 700 firmware.bin >> gz-unlikely.bin',
    ].join(' && '),
    dir,
  );
});

async function run(file: string, spec: Parameters<typeof extractChain>[1], hints: { name?: string; mediaType?: string } = {}, limits = {}) {
  const outcome = await extractChain(fileStream(join(dir, file)), spec, available, extractCtx(limits, hints));
  return outcome;
}

describe('auto', () => {
  test.each([
    ['firmware.bin', []],
    ['firmware.bin.gz', ['extractor.gzip']],
    ['firmware.bin.zst', ['extractor.zstd']],
    ['fw.tar.gz', ['extractor.gzip', 'extractor.tar']],
    ['fw.tar.zst', ['extractor.zstd', 'extractor.tar']],
    ['fw.tar.gz.zst', ['extractor.zstd', 'extractor.gzip', 'extractor.tar']],
  ])('%s → %p', async (file, ids) => {
    const { stream, applied } = await run(file, 'auto', { name: file });
    expect(applied).toEqual(ids);
    sameBytes(await collect(stream), fw);
  });

  test('an untyped .gz pushed by oras (labelled a tar layer, no name) is detected by content', async () => {
    const { stream, applied } = await run('firmware.bin.gz', 'auto', { mediaType: OCI_UNTYPED });
    expect(applied).toEqual(['extractor.gzip']);
    sameBytes(await collect(stream), fw);
  });

  test('a raw image is served as stored, whatever its name or media type claims', async () => {
    const { stream, applied } = await run('firmware.bin', 'auto', { name: 'firmware.tar.gz', mediaType: 'application/gzip' });
    expect(applied).toEqual([]);
    sameBytes(await collect(stream), fw);
  });

  test('an empty .tar.gz is a clear error, not 10 KiB of zeros', async () => {
    const { stream, applied } = await run('empty.tar.gz', 'auto', { name: 'empty.tar.gz' });
    expect(applied).toEqual(['extractor.gzip', 'extractor.tar']);
    expect((await failureOf(stream)).message).toBe('extractor.tar: empty tar archive: it has no members');
  });

  test('a tarball whose only file is not firmware still follows the rules (the only regular file)', async () => {
    const { stream } = await run('notes.tar.gz', 'auto');
    expect(new TextDecoder().decode(await collect(stream))).toBe('release notes\n');
  });

  test('a corrupt inner layer errors the stream (detection itself reads it)', async () => {
    const { stream, applied } = await run('gz-magic.bin', 'auto');
    expect(applied).toEqual(['extractor.gzip']);
    expect((await failureOf(stream)).message).toStartWith('extractor.gzip: ');
  });

  test('bytes that only start like gzip (1f 8b, but no deflate method) are served raw', async () => {
    const { stream, applied } = await run('gz-unlikely.bin', 'auto');
    expect(applied).toEqual([]);
    expect((await collect(stream)).byteLength).toBe(704);
  });

  test('a ustar magic in a header with a bad checksum is not a tar', async () => {
    const head = new Uint8Array(1024);
    head.set(new TextEncoder().encode('ustar'), 257);
    expect(available.find((x) => x.detect!({ head }))).toBeUndefined();
  });

  test('configured extra extractors take part in detection, in order, with name hints', async () => {
    const seen: (string | undefined)[] = [];
    const spy: ExtractorPlugin = {
      kind: 'extractor', id: 'extractor.spy', apiVersion: PLUGIN_API_VERSION,
      detect: (h) => {
        seen.push(h.name);
        return false;
      },
      extract: (input) => input,
    };
    const outcome = await extractChain(fileStream(join(dir, 'fw.tar.zst')), 'auto', [...available, spy], extractCtx({}, { name: 'fw.tar.zst' }));
    sameBytes(await collect(outcome.stream), fw);
    // Asked after the built-ins said no: only for the tar's member (its name is unknown from outside).
    expect(seen).toEqual([undefined]);
  });

  test('the built-ins own their detection order: listed backwards, they peel the same layers', async () => {
    const backwards = [...available].reverse();
    expect(backwards.map((x) => x.id)).toEqual(['extractor.tar', 'extractor.zstd', 'extractor.gzip']);
    const outcome = await extractChain(fileStream(join(dir, 'fw.tar.gz.zst')), 'auto', backwards, extractCtx({}, { name: 'fw.tar.gz.zst' }));
    expect(outcome.applied).toEqual(['extractor.zstd', 'extractor.gzip', 'extractor.tar']);
    sameBytes(await collect(outcome.stream), fw);
  });

  test('a configured extractor with a higher detectPriority is asked before the built-ins; without one, after', async () => {
    const asked: string[] = [];
    const wrapped = (detectPriority?: number): ExtractorPlugin => {
      const own = gzip();
      return {
        kind: 'extractor', id: 'extractor.acme-gzip', apiVersion: PLUGIN_API_VERSION, ...(detectPriority !== undefined ? { detectPriority } : {}),
        detect: (h) => (asked.push('acme'), own.detect!(h)),
        extract: (input, ctx) => own.extract(input, ctx),
      };
    };
    const first = await extractChain(fileStream(join(dir, 'firmware.bin.gz')), 'auto', [...available, wrapped(30)], extractCtx());
    expect(first.applied).toEqual(['extractor.acme-gzip']);
    sameBytes(await collect(first.stream), fw);
    asked.length = 0;
    const after = await extractChain(fileStream(join(dir, 'firmware.bin.gz')), 'auto', [wrapped(), ...available], extractCtx());
    expect(after.applied).toEqual(['extractor.gzip']);
    sameBytes(await collect(after.stream), fw);
    // Asked only for the unpacked content, after every built-in had said no to it.
    expect(asked).toEqual(['acme']);
  });

  test('a detector that always says yes cannot loop forever', async () => {
    const greedy: ExtractorPlugin = { kind: 'extractor', id: 'extractor.greedy', apiVersion: PLUGIN_API_VERSION, detect: () => true, extract: (i) => i };
    const outcome = await extractChain(streamOf(fw), 'auto', [greedy], extractCtx());
    expect(outcome.applied).toEqual(Array(4).fill('extractor.greedy'));
    sameBytes(await collect(outcome.stream), fw);
  });
});

describe('pinned', () => {
  test('[raw()] serves the stored bytes and does not sniff', async () => {
    const { stream, applied } = await run('firmware.bin.gz', [raw()], { name: 'firmware.bin.gz' });
    expect(applied).toEqual([]);
    sameBytes(await collect(stream), readFileSync(join(dir, 'firmware.bin.gz')));
  });

  test('[gzip(), tar({ member })] is applied as given', async () => {
    const { stream, applied } = await run('fw.tar.gz', [gzip(), tar({ member: 'firmware.bin' })]);
    expect(applied).toEqual(['extractor.gzip', 'extractor.tar']);
    sameBytes(await collect(stream), fw);
  });

  test('a pinned chain that does not fit the content is an error naming the extractor', async () => {
    const { stream } = await run('fw.tar.gz', [zstd()]);
    expect((await failureOf(stream)).message).toBe('extractor.zstd: input is not zstd data (starts with 1f 8b 08 00)');
  });
});

describe('chain-wide limits', () => {
  test('stacked layers are held to maxRatio against the stored bytes', async () => {
    const d = tempDir('otaflux-chain-bomb-');
    // Each layer alone stays under the ratio (about 160 and 230); together they go far over it.
    sh('head -c 33554432 /dev/zero | gzip -1 | gzip -1 > layered.gz.gz', d);
    const outcome = await extractChain(fileStream(join(d, 'layered.gz.gz')), [gzip(), gzip()], available, extractCtx({ maxRatio: 300 }));
    expect((await failureOf(outcome.stream)).message).toMatch(/^extracting: \d+ bytes out of 8\d\d bytes in is over the ratio limit of 300 \(limits\.maxRatio\)/);
  });

  test('maxOutputBytes holds for the final output, even of an extractor that checks no limits itself', async () => {
    const { stream } = await run('fw.tar.gz', 'auto', {}, { maxOutputBytes: 1024 * 1024 });
    expect((await failureOf(stream)).message).toContain('exceed 1048576 bytes (limits.maxOutputBytes)');
    const tripler: ExtractorPlugin = {
      kind: 'extractor', id: 'extractor.tripler', apiVersion: PLUGIN_API_VERSION,
      extract: (input) => input.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({ transform: (c, ctl) => [c, c, c].forEach((x) => ctl.enqueue(x)) })),
    };
    const out = await run('firmware.bin', [tripler], {}, { maxOutputBytes: 5 * 1024 * 1024 });
    expect((await failureOf(out.stream)).message).toBe(
      'extracting: output exceeds the limit of 5242880 bytes (limits.maxOutputBytes); refusing a possible decompression bomb',
    );
  });

  test('a 64 MiB zstd image streams through auto-detection with bounded memory', async () => {
    const d = tempDir('otaflux-chain-big-');
    sh('head -c 67108864 /dev/urandom > big.bin && zstd -q -1 --rm big.bin', d);
    // Measured in a fresh process: in this one, garbage from earlier tests makes RSS meaningless.
    const child = Bun.spawnSync([process.execPath, join(import.meta.dir, 'fixtures', 'stream-peak-rss.ts'), join(d, 'big.bin.zst')], { stderr: 'pipe' });
    expect(child.stderr.toString()).toBe('');
    const { bytes, growth } = JSON.parse(child.stdout.toString()) as { bytes: number; growth: number };
    expect(bytes).toBe(64 * 1024 * 1024);
    expect(growth).toBeLessThan(40 * 1024 * 1024); // holding the whole image would need 64 MiB or more
  });
});
