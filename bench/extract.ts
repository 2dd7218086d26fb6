/**
 * `bun bench/extract.ts` (not a test): extraction throughput of OtaFlux's extractors beside the
 * Debian CLI tools on the same generated file, plus the streaming decoders that were candidates.
 *
 *   input     64 MiB of semi-compressible data (per 4 KiB: 1.5 KiB random, the rest a pattern),
 *             compressed by `gzip -6`, `zstd -3`, archived by `tar` (and `tar -cz`, `tar --zstd`)
 *   OtaFlux   `extractChain` with the pinned chain, reading the file as a stream (what the host does),
 *             output consumed and dropped; peak RSS growth sampled while it runs
 *   CLI       `gzip -dc`, `zstd -dc`, `tar -xOf` (and `tar -xzOf`, `tar --zstd -xOf`) to a pipe
 *             drained by `cat > /dev/null` (a consumer, as the cache writer is for OtaFlux)
 *   others    DecompressionStream and node:zlib streaming; fzstd streaming when it can be imported
 *             (`OTAFLUX_BENCH_FZSTD=/path/to/node_modules/fzstd`; it is not a dependency)
 *
 * MB/s counts output bytes (10^6). Each row is the median of `--repeat` runs (default 5).
 *
 *     bun bench/extract.ts [--size-mib 64] [--repeat 5]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import { extractChain } from '../src/core/extract-chain.ts';
import { gzip, tar, zstd } from '../src/plugins/extractor/index.ts';
import type { ExtractorPlugin, Logger } from '../src/plugin.ts';

const { values: opt } = parseArgs({ options: { 'size-mib': { type: 'string', default: '64' }, repeat: { type: 'string', default: '5' } } });
const size = Number(opt['size-mib']) * 1024 * 1024;
const repeat = Number(opt.repeat);

const dir = mkdtempSync(join(tmpdir(), 'otaflux-bench-extract-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

writeFileSync(join(dir, 'firmware.bin'), semiCompressible(size));
shell('gzip -6 -k firmware.bin && zstd -q -3 firmware.bin -o firmware.bin.zst && tar -cf fw.tar firmware.bin && tar -czf fw.tar.gz firmware.bin && tar --zstd -cf fw.tar.zst firmware.bin');

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, trace() {}, child: () => silent };
const fzstd = await loadFzstd();

interface Row {
  format: string;
  impl: string;
  run: () => Promise<number>;
  cli?: boolean;
}

const otaflux = (file: string, chain: ExtractorPlugin[]) => async () => {
  const { stream } = await extractChain(Bun.file(join(dir, file)).stream(), chain, [], {
    device: { id: 'bench', allowPrerelease: false, options: {} },
    limits: { maxOutputBytes: 4 * size, maxRatio: 1000 },
    logger: silent,
  });
  return drain(stream);
};
const cli = (cmd: string) => async () => {
  shell(`${cmd} | cat > /dev/null`);
  return size;
};
const web = (file: string, format: 'gzip' | 'zstd') => () =>
  drain(Bun.file(join(dir, file)).stream().pipeThrough(new DecompressionStream(format) as unknown as ReadableWritablePair<Uint8Array, Uint8Array>));
const node = (file: string, make: () => NodeJS.ReadWriteStream) => () => {
  const d = make();
  Readable.fromWeb(Bun.file(join(dir, file)).stream() as never).pipe(d);
  return drain(Readable.toWeb(d as never) as unknown as ReadableStream<Uint8Array>);
};

const rows: Row[] = [
  { format: 'gzip', impl: 'OtaFlux gzip() (DecompressionStream)', run: otaflux('firmware.bin.gz', [gzip()]) },
  { format: 'gzip', impl: 'node:zlib createGunzip (stream)', run: node('firmware.bin.gz', () => zlib.createGunzip()) },
  { format: 'gzip', impl: 'gzip -dc', run: cli(`gzip -dc ${join(dir, 'firmware.bin.gz')}`), cli: true },
  { format: 'zstd', impl: 'OtaFlux zstd() (DecompressionStream)', run: otaflux('firmware.bin.zst', [zstd()]) },
  { format: 'zstd', impl: 'DecompressionStream alone', run: web('firmware.bin.zst', 'zstd') },
  { format: 'zstd', impl: 'node:zlib createZstdDecompress (stream)', run: node('firmware.bin.zst', () => zlib.createZstdDecompress()) },
  ...(fzstd ? [{ format: 'zstd', impl: 'fzstd Decompress (stream)', run: () => drain(Bun.file(join(dir, 'firmware.bin.zst')).stream().pipeThrough(fzstd())) }] : []),
  { format: 'zstd', impl: 'zstd -dc', run: cli(`zstd -q -dc ${join(dir, 'firmware.bin.zst')}`), cli: true },
  { format: 'tar', impl: 'OtaFlux tar() (selects, spills)', run: otaflux('fw.tar', [tar()]) },
  { format: 'tar', impl: "OtaFlux tar({ member }) (streams)", run: otaflux('fw.tar', [tar({ member: 'firmware.bin' })]) },
  { format: 'tar', impl: 'tar -xOf', run: cli(`tar -xOf ${join(dir, 'fw.tar')}`), cli: true },
  { format: 'tar.gz', impl: 'OtaFlux [gzip(), tar()]', run: otaflux('fw.tar.gz', [gzip(), tar()]) },
  { format: 'tar.gz', impl: 'tar -xzOf', run: cli(`tar -xzOf ${join(dir, 'fw.tar.gz')}`), cli: true },
  { format: 'tar.zst', impl: 'OtaFlux [zstd(), tar()]', run: otaflux('fw.tar.zst', [zstd(), tar()]) },
  { format: 'tar.zst', impl: 'tar --zstd -xOf', run: cli(`tar --zstd -xOf ${join(dir, 'fw.tar.zst')}`), cli: true },
];

console.log(`extract bench: ${size / 1048576} MiB output per run, median of ${repeat}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`compressed: gzip ${fileSize('firmware.bin.gz')} B, zstd ${fileSize('firmware.bin.zst')} B, tar ${fileSize('fw.tar')} B\n`);
const results: { row: Row; mbps: number; rssMiB: number }[] = [];
for (const row of rows) {
  const times: number[] = [];
  let peak = 0;
  for (let i = 0; i < repeat; i++) {
    Bun.gc(true);
    const base = process.memoryUsage().rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss - base)), 5);
    const t = performance.now();
    const out = await row.run();
    times.push(performance.now() - t);
    clearInterval(sampler);
    if (out !== size) throw new Error(`${row.impl}: produced ${out} bytes, expected ${size}`);
  }
  times.sort((a, b) => a - b);
  results.push({ row, mbps: size / 1e6 / (times[Math.floor(times.length / 2)]! / 1000), rssMiB: peak / 1048576 });
}

console.log('| format | implementation | MB/s | vs CLI | peak RSS growth |');
console.log('|---|---|---:|---:|---:|');
for (const { row, mbps, rssMiB } of results) {
  const base = results.find((r) => r.row.format === row.format && r.row.cli);
  const ratio = base ? (mbps / base.mbps).toFixed(2) : '';
  console.log(`| ${row.format} | ${row.impl} | ${mbps.toFixed(0)} | ${ratio} | ${row.cli ? '(separate process)' : `${rssMiB.toFixed(0)} MiB`} |`);
}
console.log(`\nload average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

async function drain(stream: ReadableStream<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const chunk of stream) n += chunk.byteLength;
  return n;
}

function shell(cmd: string): void {
  const r = Bun.spawnSync(['sh', '-c', cmd], { cwd: dir, stdout: 'ignore', stderr: 'pipe' });
  if (r.exitCode !== 0) throw new Error(`${cmd}: exit ${r.exitCode}: ${r.stderr.toString()}`);
}

function fileSize(name: string): number {
  return Bun.file(join(dir, name)).size;
}

/** Firmware-like bytes: per 4 KiB, 1.5 KiB of xorshift noise and 2.5 KiB of a repeating table. */
function semiCompressible(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = 2463534242;
  for (let off = 0; off < n; off += 4096) {
    for (let i = 0; i < 1536 && off + i < n; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      out[off + i] = s & 0xff;
    }
    for (let i = 1536; i < 4096 && off + i < n; i++) out[off + i] = (i * 7 + (off >> 12)) & 0x3f;
  }
  return out;
}

/** fzstd's streaming decoder as a TransformStream, when `OTAFLUX_BENCH_FZSTD` points at it. */
async function loadFzstd(): Promise<(() => TransformStream<Uint8Array, Uint8Array>) | undefined> {
  const path = process.env.OTAFLUX_BENCH_FZSTD;
  if (!path) return undefined;
  const mod = (await import(path)) as { Decompress: new () => { ondata: (b: Uint8Array, final: boolean) => void; push(b: Uint8Array, final?: boolean): void } };
  return () => {
    const d = new mod.Decompress();
    return new TransformStream<Uint8Array, Uint8Array>({
      start(ctl) {
        d.ondata = (b) => {
          if (b.byteLength) ctl.enqueue(b);
        };
      },
      transform(chunk) {
        d.push(chunk);
      },
      flush() {
        d.push(new Uint8Array(0), true);
      },
    });
  };
}
