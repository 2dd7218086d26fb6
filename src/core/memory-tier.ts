/**
 * A byte-bounded LRU of hot firmware images held in memory, so `/firmware` answers from a Buffer
 * (one write, no file read per request) instead of the disk. Images larger than `maxItemBytes` are
 * always streamed from disk.
 */
export class MemoryTier {
  private readonly items = new Map<string, Buffer>();
  private bytes = 0;

  constructor(readonly maxBytes: number, readonly maxItemBytes: number) {}

  get(key: string): Buffer | undefined {
    const b = this.items.get(key);
    if (b) {
      this.items.delete(key);
      this.items.set(key, b);
    }
    return b;
  }

  /** Whether an image of this size would be kept. */
  accepts(size: number): boolean {
    return size <= this.maxItemBytes && size <= this.maxBytes;
  }

  set(key: string, value: Buffer): void {
    if (!this.accepts(value.byteLength)) return;
    const old = this.items.get(key);
    if (old) {
      this.bytes -= old.byteLength;
      this.items.delete(key);
    }
    this.items.set(key, value);
    this.bytes += value.byteLength;
    for (const [k, v] of this.items) {
      if (this.bytes <= this.maxBytes) break;
      this.items.delete(k);
      this.bytes -= v.byteLength;
    }
  }

  /** Drops an image (its blob left the disk cache). */
  delete(key: string): void {
    const b = this.items.get(key);
    if (!b) return;
    this.items.delete(key);
    this.bytes -= b.byteLength;
  }

  get usedBytes(): number {
    return this.bytes;
  }
}
