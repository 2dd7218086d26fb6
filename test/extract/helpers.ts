/** Helpers for the extractor tests: real archives made by the Debian CLIs, and stream plumbing. */
import { expect } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExtractContext, ExtractLimits, Logger } from '../../src/plugin.ts';

/** Runs a shell command in `cwd`, failing the test with its stderr when it fails. */
export function sh(cmd: string, cwd: string): void {
  const r = Bun.spawnSync(['sh', '-c', cmd], { cwd, stdout: 'ignore', stderr: 'pipe' });
  if (r.exitCode !== 0) throw new Error(`${cmd}: exit ${r.exitCode}: ${r.stderr.toString()}`);
}

/** Random-ish firmware bytes (half random, half structured, so compressors have work to do). */
export function firmwareBytes(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (i & 1024) === 0 ? s & 0xff : (i * 7) & 0x3f;
  }
  return out;
}

/** A stream over a file in chunks of `chunkSize`, as a source would hand it over. */
export function fileStream(path: string, chunkSize = 64 * 1024): ReadableStream<Uint8Array> {
  return streamOf(new Uint8Array(readFileSync(path)), chunkSize);
}

/** A lazy stream over bytes in chunks of `chunkSize`. */
export function streamOf(bytes: Uint8Array, chunkSize = 64 * 1024): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(ctl) {
        if (at >= bytes.byteLength) return ctl.close();
        ctl.enqueue(bytes.subarray(at, at + chunkSize));
        at += chunkSize;
      },
    },
    { highWaterMark: 0 },
  );
}

export async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Reads the stream to its end and returns the error it fails with (the test fails if it ends cleanly). */
export async function failureOf(stream: ReadableStream<Uint8Array>): Promise<Error> {
  try {
    let n = 0;
    for await (const chunk of stream) n += chunk.byteLength;
    throw new Error(`expected the stream to fail, it ended cleanly after ${n} bytes`);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('expected the stream to fail')) throw err;
    expect(err).toBeInstanceOf(Error);
    return err as Error;
  }
}

export const silentLogger: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
  trace() {},
  child() {
    return silentLogger;
  },
};

export function extractCtx(limits: Partial<ExtractLimits> = {}, hints: { name?: string; mediaType?: string } = {}): ExtractContext {
  return {
    device: { id: 'dev1', allowPrerelease: false, options: {} },
    limits: { maxOutputBytes: 512 * 1024 * 1024, maxRatio: 200, ...limits },
    logger: silentLogger,
    ...hints,
  };
}

export function sameBytes(a: Uint8Array, b: Uint8Array): void {
  expect(a.byteLength).toBe(b.byteLength);
  expect(Bun.hash.crc32(a)).toBe(Bun.hash.crc32(b));
  expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
}

export { join };
