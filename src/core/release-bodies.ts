/**
 * ReleaseBodies hands the HTTP layer the bytes of a release: from the memory tier when it is small
 * enough, else as a path on disk. A blob is re-hashed once per process before it is first served;
 * a corrupt blob is never served.
 */
import type { ContentStore } from './content-store.ts';
import type { MemoryTier } from './memory-tier.ts';
import type { CacheBudget } from './cache-budget.ts';
import type { Release } from './release.ts';
import { SingleFlight } from './single-flight.ts';

export type ReleaseBody = { kind: 'buffer'; buffer: Buffer } | { kind: 'file'; path: string };

export class CorruptBlob extends Error {
  override readonly name = 'CorruptBlob';
}

export class ReleaseBodies {
  private readonly loads = new SingleFlight<ReleaseBody>();

  constructor(
    private readonly content: ContentStore,
    private readonly memory: MemoryTier,
    private readonly budget: Pick<CacheBudget, 'touch'>,
    /** Told when a release's blob is gone or corrupt, so the release is fetched again. */
    private readonly onMissing: (sha256: string) => void | Promise<void> = () => {},
  ) {}

  /** Synchronous fast path: the in-memory bytes if they are there. */
  cached(release: Release): Buffer | undefined {
    return this.memory.get(release.sha256);
  }

  async body(release: Release): Promise<ReleaseBody> {
    const hot = this.memory.get(release.sha256);
    this.budget.touch(release.sha256);
    if (hot) return { kind: 'buffer', buffer: hot };
    return this.loads.run(release.sha256, async () => {
      const missing = async () => {
        await this.onMissing(release.sha256);
        return new CorruptBlob(`cached firmware ${release.sha256} is missing or corrupt`);
      };
      if (!(await this.content.verify(release.sha256))) throw await missing();
      const path = this.content.pathOf(release.sha256);
      if (!this.memory.accepts(release.size)) {
        if (!(await this.content.has(release.sha256, release.size))) throw await missing();
        return { kind: 'file', path };
      }
      let buffer: Buffer;
      try {
        buffer = Buffer.from(await Bun.file(path).arrayBuffer());
      } catch {
        throw await missing();
      }
      if (buffer.byteLength !== release.size) throw await missing();
      this.memory.set(release.sha256, buffer);
      return { kind: 'buffer', buffer };
    });
  }
}
