/**
 * ContentStore keeps served firmware on disk, addressed by the SHA-256 of its bytes:
 * `<cacheDir>/blobs/sha256/<hex>`. Writes go to a temp file, are fsynced and renamed into place,
 * so a crash or a failed fetch never leaves a partial blob under a real name, and never replaces
 * a good one. Blobs are re-hashed once per process before they are first served.
 */
import { mkdirSync } from 'node:fs';
import { open, rename, rm, stat, readdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ContentHasher } from './hashing.ts';

export interface StoredBlob {
  sha256: string;
  crc32: number;
  size: number;
  path: string;
}

export class ContentStore {
  private readonly blobDir: string;
  private readonly tmpDir: string;
  private readonly verified = new Set<string>();
  /** Blobs being deleted: a put of the same bytes waits, so the delete never takes the new file. */
  private readonly removing = new Map<string, Promise<void>>();

  constructor(readonly root: string) {
    this.blobDir = join(root, 'blobs', 'sha256');
    this.tmpDir = join(root, 'tmp');
    mkdirSync(this.blobDir, { recursive: true });
    mkdirSync(this.tmpDir, { recursive: true });
  }

  pathOf(sha256: string): string {
    if (!/^[a-f0-9]{64}$/.test(sha256)) throw new Error(`not a sha256 hex digest: ${sha256}`);
    return join(this.blobDir, sha256);
  }

  /**
   * Writes a stream into the store, hashing it in the same pass. Nothing is kept if the stream errors.
   * `checkedSha256` (hex): the SHA-256 the stream itself checks its bytes against, erroring at its end
   * when they differ; it is taken as the blob's name instead of hashing the bytes again.
   */
  async put(input: ReadableStream<Uint8Array>, signal?: AbortSignal, checkedSha256?: string): Promise<StoredBlob> {
    if (checkedSha256 !== undefined && !/^[a-f0-9]{64}$/.test(checkedSha256)) throw new Error(`not a sha256 hex digest: ${checkedSha256}`);
    const tmp = join(this.tmpDir, `${Date.now()}-${randomBytes(6).toString('hex')}`);
    const fh = await open(tmp, 'wx', 0o644);
    const hasher = new ContentHasher(checkedSha256);
    let ok = false;
    try {
      for await (const chunk of input) {
        signal?.throwIfAborted();
        hasher.update(chunk);
        await fh.write(chunk);
      }
      await fh.sync();
      ok = true;
    } finally {
      await fh.close();
      if (!ok) await rm(tmp, { force: true });
    }
    const { sha256, crc32, size } = hasher.digest();
    const path = this.pathOf(sha256);
    await this.removing.get(sha256);
    await rename(tmp, path);
    this.verified.add(sha256);
    return { sha256, crc32, size, path };
  }

  /** Whether a blob is present with the expected size (cheap; content is checked by `verify`). */
  async has(sha256: string, size?: number): Promise<boolean> {
    try {
      const s = await stat(this.pathOf(sha256));
      return size === undefined || s.size === size;
    } catch {
      return false;
    }
  }

  /** Re-hashes a blob once per process; a corrupt blob is deleted and reported false. */
  async verify(sha256: string): Promise<boolean> {
    if (this.verified.has(sha256)) return true;
    const path = this.pathOf(sha256);
    const hasher = new ContentHasher();
    try {
      for await (const chunk of Bun.file(path).stream()) hasher.update(chunk);
    } catch {
      return false;
    }
    if (hasher.digest().sha256 !== sha256) {
      await rm(path, { force: true });
      return false;
    }
    this.verified.add(sha256);
    return true;
  }

  /** Marks a blob as recently used (mtime), for eviction. */
  async touch(sha256: string): Promise<void> {
    const now = new Date();
    await utimes(this.pathOf(sha256), now, now).catch(() => {});
  }

  async remove(sha256: string): Promise<void> {
    this.verified.delete(sha256);
    const done = rm(this.pathOf(sha256), { force: true }).finally(() => {
      if (this.removing.get(sha256) === done) this.removing.delete(sha256);
    });
    this.removing.set(sha256, done);
    await done;
  }

  /** Deletes what interrupted writes left in the temp folder (at start, before any write). */
  async clearTemp(): Promise<void> {
    for (const name of await readdir(this.tmpDir).catch(() => [] as string[])) await rm(join(this.tmpDir, name), { force: true });
  }

  /** Every blob with its size and last use, oldest first. */
  async list(): Promise<{ sha256: string; size: number; usedAt: number }[]> {
    const names = await readdir(this.blobDir);
    const out = [];
    for (const name of names) {
      if (!/^[a-f0-9]{64}$/.test(name)) continue;
      const s = await stat(join(this.blobDir, name)).catch(() => null);
      if (s) out.push({ sha256: name, size: s.size, usedAt: s.mtimeMs });
    }
    return out.sort((a, b) => a.usedAt - b.usedAt);
  }
}
