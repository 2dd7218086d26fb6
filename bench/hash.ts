/**
 * `bun bench/hash.ts` (not a test): CRC-32 and SHA-256 throughput of the Bun built-ins OtaFlux uses
 * (`Bun.hash.crc32`, `Bun.CryptoHasher`) beside hash-wasm, the design card's choice, over the same
 * bytes fed in 64 KiB chunks (what the content store sees from a stream).
 *
 * hash-wasm is not a dependency: point `OTAFLUX_BENCH_HASH_WASM` at an installed copy
 * (`npm i --prefix /tmp/hw hash-wasm`, then `OTAFLUX_BENCH_HASH_WASM=/tmp/hw/node_modules/hash-wasm`).
 * GB/s counts input bytes (10^9); each row is the median of `--repeat` runs.
 *
 *     bun bench/hash.ts [--size-mib 256] [--repeat 5]
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { median } from './support.ts';

const { values: opt } = parseArgs({ options: { 'size-mib': { type: 'string', default: '256' }, repeat: { type: 'string', default: '5' } } });
const size = Number(opt['size-mib']) * 1024 * 1024;
const repeat = Number(opt.repeat);
const CHUNK = 64 * 1024;

const data = new Uint8Array(randomBytes(size));
const chunks: Uint8Array[] = [];
for (let off = 0; off < size; off += CHUNK) chunks.push(data.subarray(off, off + CHUNK));

interface Hasher {
  init(): void;
  update(b: Uint8Array): void;
  digest(): string;
}

const rows: { algo: string; impl: string; make: () => Promise<Hasher> | Hasher }[] = [
  {
    algo: 'CRC-32',
    impl: 'Bun.hash.crc32 (OtaFlux)',
    make: () => {
      let crc = 0;
      return { init: () => (crc = 0), update: (b) => (crc = Bun.hash.crc32(b, crc)), digest: () => (crc >>> 0).toString(16) };
    },
  },
  {
    algo: 'SHA-256',
    impl: 'Bun.CryptoHasher (OtaFlux)',
    make: () => {
      let h = new Bun.CryptoHasher('sha256');
      return { init: () => (h = new Bun.CryptoHasher('sha256')), update: (b) => h.update(b), digest: () => h.digest('hex') };
    },
  },
];

const hashWasmPath = process.env.OTAFLUX_BENCH_HASH_WASM;
if (hashWasmPath) {
  type Wasm = { init(): void; update(b: Uint8Array): void; digest(): string };
  const hw = (await import(hashWasmPath)) as { createCRC32: () => Promise<Wasm>; createSHA256: () => Promise<Wasm> };
  rows.push({ algo: 'CRC-32', impl: 'hash-wasm createCRC32', make: () => hw.createCRC32() });
  rows.push({ algo: 'SHA-256', impl: 'hash-wasm createSHA256', make: () => hw.createSHA256() });
} else {
  console.log('(hash-wasm rows skipped: set OTAFLUX_BENCH_HASH_WASM to an installed hash-wasm)');
}

console.log(`${opt['size-mib']} MiB of random bytes in 64 KiB chunks, median of ${repeat}\n`);
console.log('| algorithm | implementation | GB/s | digest |');
console.log('|---|---|---|---|');
for (const row of rows) {
  const h = await row.make();
  const rates: number[] = [];
  let digest = '';
  for (let i = 0; i < repeat; i++) {
    h.init();
    const t0 = performance.now();
    for (const c of chunks) h.update(c);
    digest = h.digest();
    rates.push(size / 1e9 / ((performance.now() - t0) / 1000));
  }
  console.log(`| ${row.algo} | ${row.impl} | ${median(rates).toFixed(2)} | ${digest.slice(0, 12)}… |`);
}
