/** Reads exact byte counts from a stream of arbitrary chunks, without copying when a chunk suffices. */
export class ByteReader {
  private chunk: Uint8Array = new Uint8Array(0);
  private readonly reader: { read(): Promise<{ done: boolean; value?: Uint8Array }>; cancel(reason?: unknown): Promise<void> };
  private at = 0;
  private ended = false;
  /** Bytes handed out or skipped so far (the offset of the next byte). */
  offset = 0;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.reader = stream.getReader();
  }

  /** Whether the stream has ended with nothing left. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill());
  }

  /**
   * The next `n` bytes, or fewer only when the stream ends first (the caller decides whether that is
   * truncation). Copies only when `n` spans chunks.
   */
  async exact(n: number): Promise<Uint8Array> {
    if (!(await this.fill())) return new Uint8Array(0);
    if (this.chunk.byteLength - this.at >= n) return this.take(n);
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n && (await this.fill())) {
      const part = this.take(Math.min(n - got, this.chunk.byteLength - this.at));
      out.set(part, got);
      got += part.byteLength;
    }
    return got === n ? out : out.subarray(0, got);
  }

  /** Yields the next `n` bytes as they arrive (views into the stream's chunks). Stops early at the end of the stream. */
  async *span(n: number): AsyncGenerator<Uint8Array> {
    let left = n;
    while (left > 0 && (await this.fill())) {
      const part = this.take(Math.min(left, this.chunk.byteLength - this.at));
      left -= part.byteLength;
      yield part;
    }
  }

  /** Skips `n` bytes; returns how many were actually there. */
  async skip(n: number): Promise<number> {
    let skipped = 0;
    for await (const part of this.span(n)) skipped += part.byteLength;
    return skipped;
  }

  cancel(reason?: unknown): Promise<void> {
    return this.reader.cancel(reason);
  }

  private take(n: number): Uint8Array {
    const out = this.chunk.subarray(this.at, this.at + n);
    this.at += n;
    this.offset += n;
    return out;
  }

  private async fill(): Promise<boolean> {
    while (this.at >= this.chunk.byteLength) {
      if (this.ended) return false;
      const step = await this.reader.read();
      if (step.done || !step.value) {
        this.ended = true;
        return false;
      }
      this.chunk = step.value;
      this.at = 0;
    }
    return true;
  }
}
