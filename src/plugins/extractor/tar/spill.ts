/**
 * A temporary file for tar members while the archive is read to its end (the selection rules need
 * every member's name before one is chosen). It is unlinked as soon as it is created, so nothing
 * is left behind even when the process dies; the open handle keeps the data until `close()`.
 */
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

const READ_CHUNK = 256 * 1024;

export class Spill {
  /** Bytes written so far (the offset of the next write). */
  size = 0;

  private constructor(private readonly fh: FileHandle) {}

  static async create(dir: string): Promise<Spill> {
    const path = join(dir, `.otaflux-tar-${randomBytes(8).toString('hex')}`);
    const fh = await open(path, 'wx+', 0o600);
    await rm(path, { force: true });
    return new Spill(fh);
  }

  async write(chunk: Uint8Array): Promise<void> {
    let done = 0;
    while (done < chunk.byteLength) {
      const { bytesWritten } = await this.fh.write(chunk, done, chunk.byteLength - done, this.size + done);
      done += bytesWritten;
    }
    this.size += chunk.byteLength;
  }

  /** Yields `length` bytes from `offset`, in fresh buffers of at most 256 KiB. */
  async *read(offset: number, length: number): AsyncGenerator<Uint8Array> {
    let at = offset;
    const end = offset + length;
    while (at < end) {
      const buf = new Uint8Array(Math.min(READ_CHUNK, end - at));
      const { bytesRead } = await this.fh.read(buf, 0, buf.byteLength, at);
      if (bytesRead === 0) throw new Error(`reading the tar spill file: it ends at ${at}, expected ${end}`);
      at += bytesRead;
      yield bytesRead === buf.byteLength ? buf : buf.subarray(0, bytesRead);
    }
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}
