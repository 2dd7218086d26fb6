/** Output limits against decompression bombs: total output size and output/input ratio. */
import type { ExtractLimits } from '../../plugin.ts';
import { ExtractLimitError } from './errors.ts';
import { guardStream } from './stream-guard.ts';

/**
 * The ratio limit is only enforced once the output passes this many bytes, so a small image that
 * compresses very well (a mostly-erased flash dump) is not mistaken for a bomb.
 */
export const RATIO_FLOOR_BYTES = 1024 * 1024;

/**
 * Passes `output` through and errors it (cancelling what produced it) as soon as it goes over
 * `limits.maxOutputBytes`, or over `limits.maxRatio` times `inputBytes()` past the ratio floor.
 */
export function limitOutput(
  output: ReadableStream<Uint8Array>,
  limits: ExtractLimits,
  inputBytes: () => number,
  who: string,
): ReadableStream<Uint8Array> {
  let produced = 0;
  return guardStream(output, {
    onChunk(chunk) {
      produced += chunk.byteLength;
      checkLimits(produced, inputBytes(), limits, who);
    },
    onEnd() {
      checkLimits(produced, inputBytes(), limits, who);
    },
  });
}

function checkLimits(produced: number, consumed: number, limits: ExtractLimits, who: string): void {
  if (produced > limits.maxOutputBytes) {
    throw new ExtractLimitError(
      `${who}: output exceeds the limit of ${limits.maxOutputBytes} bytes (limits.maxOutputBytes); refusing a possible decompression bomb`,
    );
  }
  if (produced > RATIO_FLOOR_BYTES && produced > limits.maxRatio * Math.max(consumed, 1)) {
    throw new ExtractLimitError(
      `${who}: ${produced} bytes out of ${consumed} bytes in is over the ratio limit of ${limits.maxRatio} (limits.maxRatio); refusing a possible decompression bomb`,
    );
  }
}
