/**
 * Streaming decompression shared by `extractor.gzip` and `extractor.zstd`, on Bun's built-in
 * `DecompressionStream` (measured fastest here, and the only built-in that reports a truncated
 * zstd frame: Bun's node:zlib `createZstdDecompress` ends cleanly on one; see bench/extract.ts).
 */
import type { ExtractContext } from '../../plugin.ts';
import { hasMagic, hexHead } from './detect.ts';
import { ExtractError } from './errors.ts';
import { limitOutput } from './limits.ts';
import { guardStream, InputCounter, isInputError } from './stream-guard.ts';

export interface DecompressFormat {
  /** Plugin id, the prefix of every error: `extractor.gzip`. */
  id: string;
  /** `DecompressionStream` format name. */
  format: 'gzip' | 'zstd';
  /** The bytes every input must start with. */
  magic: Uint8Array;
}

/**
 * Decompresses `input` lazily (one output chunk per read, so memory stays bounded whatever the
 * ratio) and errors the result with a message naming the extractor when the input is not in the
 * format, is truncated or corrupt, or the output goes over `ctx.limits`.
 */
export function decompress(input: ReadableStream<Uint8Array>, fmt: DecompressFormat, ctx: ExtractContext): ReadableStream<Uint8Array> {
  const counter = new InputCounter();
  const head = new Uint8Array(fmt.magic.byteLength);
  let headLength = 0;
  const checkedInput = guardStream(counter.wrap(input), {
    onChunk(chunk) {
      if (headLength >= head.byteLength) return;
      const take = chunk.subarray(0, head.byteLength - headLength);
      head.set(take, headLength);
      headLength += take.byteLength;
      if (headLength === head.byteLength && !hasMagic(head, fmt.magic)) {
        throw new ExtractError(`${fmt.id}: input is not ${fmt.format} data (starts with ${hexHead(head)})`);
      }
    },
    onEnd() {
      if (headLength < head.byteLength) {
        throw new ExtractError(`${fmt.id}: input is not ${fmt.format} data (${headLength === 0 ? 'empty' : `only ${headLength} bytes`})`);
      }
    },
  });
  const decoded = checkedInput.pipeThrough(new DecompressionStream(fmt.format) as unknown as ReadableWritablePair<Uint8Array, Uint8Array>, ctx.signal ? { signal: ctx.signal } : {});
  const named = guardStream(decoded, { mapError: (err) => describe(err, fmt, counter.bytes) });
  return limitOutput(named, ctx.limits, () => counter.bytes, fmt.id);
}

function describe(err: unknown, fmt: DecompressFormat, consumed: number): unknown {
  if (isInputError(err) || err instanceof ExtractError) return err;
  if (err instanceof Error && err.name === 'AbortError') return err;
  const detail = err instanceof Error ? err.message : String(err);
  const what = /unexpected end/i.test(detail)
    ? `truncated input: the ${fmt.format} stream ends early (after ${consumed} compressed bytes)`
    : `corrupt ${fmt.format} data (bad header, block or checksum; ${detail}) within the first ${consumed} compressed bytes`;
  return new ExtractError(`${fmt.id}: ${what}`, { cause: err });
}
