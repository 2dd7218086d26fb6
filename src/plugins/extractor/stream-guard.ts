/**
 * Small stream helpers shared by the extractors: a lazy pass-through that can inspect every
 * chunk and rewrite errors, a byte counter for the input, and a peek at the first bytes.
 */

/** What `guardStream` calls while bytes pass. Any hook may throw to error the stream. */
export interface GuardHooks {
  /** Sees every chunk before it is passed on. */
  onChunk?(chunk: Uint8Array): void;
  /** Runs when the source ends cleanly, before the output closes. */
  onEnd?(): void;
  /** Turns an error from the source into the error the consumer sees. */
  mapError?(err: unknown): unknown;
}

/**
 * Passes `source` through one chunk per read (nothing is read ahead, so memory stays bounded by
 * the consumer's pace), calling `hooks` on the way. Cancelling the result cancels the source.
 */
export function guardStream(source: ReadableStream<Uint8Array>, hooks: GuardHooks): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(ctl) {
        const step = await reader.read().catch((err: unknown) => ({ failed: err }));
        if ('failed' in step) {
          ctl.error(hooks.mapError ? hooks.mapError(step.failed) : step.failed);
          return;
        }
        try {
          if (step.done) {
            hooks.onEnd?.();
            ctl.close();
            return;
          }
          hooks.onChunk?.(step.value);
          ctl.enqueue(step.value);
        } catch (err) {
          ctl.error(err);
          reader.cancel(err).catch(() => {});
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** Errors that came from an extractor's input (the source, or an earlier extractor), passed on unchanged. */
const inputErrors = new WeakSet<object>();

/** Whether `err` came from an extractor's input rather than from the extractor itself. */
export function isInputError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && inputErrors.has(err);
}

/** Counts the bytes read from an input stream and marks the input's own errors (see `isInputError`). */
export class InputCounter {
  bytes = 0;

  wrap(input: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    return guardStream(input, {
      onChunk: (chunk) => {
        this.bytes += chunk.byteLength;
      },
      mapError: (err) => {
        if (typeof err === 'object' && err !== null) inputErrors.add(err);
        return err;
      },
    });
  }
}

/** Reads at least `n` bytes (fewer only at the end of the input) and returns them with a stream of all the bytes. */
export async function peekHead(input: ReadableStream<Uint8Array>, n: number): Promise<{ head: Uint8Array; stream: ReadableStream<Uint8Array> }> {
  const reader = input.getReader();
  const seen: Uint8Array[] = [];
  let length = 0;
  let done = false;
  try {
    while (length < n) {
      const step = await reader.read();
      if (step.done) {
        done = true;
        break;
      }
      seen.push(step.value);
      length += step.value.byteLength;
    }
  } catch (err) {
    reader.releaseLock();
    throw err;
  }
  const head = concat(seen, length);
  let replayed = false;
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(ctl) {
        if (!replayed) {
          replayed = true;
          if (head.byteLength > 0) {
            ctl.enqueue(head);
            return;
          }
        }
        if (done) {
          ctl.close();
          return;
        }
        try {
          const step = await reader.read();
          if (step.done) ctl.close();
          else ctl.enqueue(step.value);
        } catch (err) {
          ctl.error(err);
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return { head, stream };
}

/** A stream that fails with `err` when read. */
export function erroredStream(err: unknown): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(ctl) {
      ctl.error(err);
    },
  });
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
