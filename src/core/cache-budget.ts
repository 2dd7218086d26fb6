/**
 * CacheBudget keeps the disk cache within `cache.maxBytes` and `cache.maxEntries` (one entry is one
 * blob: the bytes of a release, shared by every release record naming them), evicting the least
 * recently used blobs first:
 * - at start, over what is already on disk (records naming missing blobs are removed);
 * - before a fetch is written, to make room for its expected size, and after, with its real size
 *   (the new blob itself is kept);
 * - when the last download of an evicted blob ends.
 * An evicted blob leaves the index at once: its release records are removed, the resolver forgets
 * the answers naming it (`onEvicted`; the device's next poll fetches it again), and the metrics stop
 * counting it. Its file is deleted at once unless a download is reading it: then it is deleted when
 * the last such download ends, so a download in flight always completes byte-exact.
 *
 * Use is remembered in memory and written to the blob's mtime at most once a minute, so the LRU order
 * survives a restart.
 */
import { rm } from 'node:fs/promises';
import type { Logger } from '../plugin.ts';
import type { ContentStore } from './content-store.ts';
import type { CoreEventBus, CoreEvents, HttpRequestDone } from './events.ts';
import type { RecordIndex, ReleaseStore } from './release-store.ts';

export interface CacheBudgetOptions {
  content: ContentStore;
  releases: ReleaseStore;
  events: CoreEventBus;
  logger: Logger;
  maxBytes: number;
  maxEntries: number;
  /** Called for each evicted blob: whoever remembers it forgets it. */
  onEvicted?: (sha256: string) => void;
}

/** How often a blob's last use is written to its mtime, at most. */
const PERSIST_USE_MS = 60_000;

interface Entry {
  size: number;
  usedAt: number;
  persistedAt: number;
}

export class CacheBudget implements RecordIndex {
  private readonly blobs = new Map<string, Entry>();
  private bytes = 0;
  /** Record files by the blob they name, and the blob each record file names. */
  private readonly recordsOf = new Map<string, Set<string>>();
  private readonly blobOf = new Map<string, string>();
  /** Readers (downloads, builds) of each blob; a pinned blob's file outlives its eviction. */
  private readonly pins = new Map<string, number>();
  /** Evicted blobs whose file waits for its last reader. */
  private readonly doomed = new Set<string>();
  /** File deletions under way (evicted blobs and their records). */
  private readonly deleting = new Set<Promise<unknown>>();
  private detach?: () => void;
  /** Evictions made at start, by bound (before metrics listen to events). */
  readonly evictedAtLoad = { bytes: 0, entries: 0 };
  private loading = false;

  constructor(private readonly o: CacheBudgetOptions) {
    o.releases.index = this;
  }

  /** Indexes what is on disk and applies the bound to it. */
  async load(): Promise<void> {
    await this.o.content.clearTemp();
    for (const b of await this.o.content.list()) {
      this.blobs.set(b.sha256, { size: b.size, usedAt: b.usedAt, persistedAt: b.usedAt });
      this.bytes += b.size;
    }
    let orphans = 0;
    for (const r of await this.o.releases.all()) {
      if (this.recorded(r.sha256, r.path)) continue;
      await rm(r.path, { force: true });
      orphans++;
    }
    this.loading = true;
    const evicted = this.enforce(0, 0);
    this.loading = false;
    await this.settled();
    this.o.logger.info('cache loaded', { entries: this.blobs.size, bytes: this.bytes, evicted, orphanRecordsRemoved: orphans, maxEntries: this.o.maxEntries, maxBytes: this.o.maxBytes });
  }

  /** Pins blobs while `/firmware` answers read them (from `device-seen` to that request's `http-request`). */
  watchDownloads(events: CoreEventBus): void {
    const reading = new Map<string, string[]>();
    const onSeen = (e: CoreEvents['device-seen'][0]) => {
      if (e.route !== 'firmware' || !e.release) return;
      const list = reading.get(e.device);
      if (list) list.push(e.release.sha256);
      else reading.set(e.device, [e.release.sha256]);
      this.pin(e.release.sha256);
    };
    const onDone = (e: HttpRequestDone) => {
      if (e.route !== '/firmware' || !e.device) return;
      const list = reading.get(e.device);
      const sha = list?.shift();
      if (list?.length === 0) reading.delete(e.device);
      if (sha) this.unpin(sha);
    };
    events.on('device-seen', onSeen);
    events.on('http-request', onDone);
    this.detach = () => {
      events.off('device-seen', onSeen);
      events.off('http-request', onDone);
    };
  }

  close(): void {
    this.detach?.();
  }

  /**
   * Evicts until one more blob of `size` bytes would fit, keeping `keep` (the device's current
   * release: until the new one is written, a failed fetch must not cost the device its copy). A size
   * over the whole bound evicts nothing for its bytes: such a blob is refused once written.
   */
  makeRoom(size: number, keep?: string): Promise<void> {
    this.enforce(size <= this.o.maxBytes ? size : 0, 1, keep);
    return this.settled();
  }

  /** A blob was written: it is counted, kept, and the others make room for it (their files deleted when this resolves). */
  added(blob: { sha256: string; size: number }): Promise<void> {
    const now = Date.now();
    const had = this.blobs.get(blob.sha256);
    if (had) this.bytes -= had.size;
    this.blobs.set(blob.sha256, { size: blob.size, usedAt: now, persistedAt: now });
    this.bytes += blob.size;
    this.doomed.delete(blob.sha256);
    this.enforce(0, 0, blob.sha256);
    return this.settled();
  }

  /** Resolves when the file deletions started so far are done. */
  async settled(): Promise<void> {
    await Promise.all([...this.deleting]);
  }

  /** A record naming `sha256` was written at `path`; false when that blob is not kept (the record must go). */
  recorded(sha256: string, path: string): boolean {
    const before = this.blobOf.get(path);
    if (before !== undefined && before !== sha256) this.recordsOf.get(before)?.delete(path);
    if (!this.blobs.has(sha256)) {
      this.blobOf.delete(path);
      return false;
    }
    this.blobOf.set(path, sha256);
    const set = this.recordsOf.get(sha256);
    if (set) set.add(path);
    else this.recordsOf.set(sha256, new Set([path]));
    return true;
  }

  /**
   * A blob found missing or corrupt when read: it leaves the index with its records (not counted as
   * an eviction), its file is deleted, and `onEvicted` makes the devices it served fetch it again.
   */
  lost(sha256: string): Promise<void> {
    const entry = this.blobs.get(sha256);
    if (!entry) return this.settled();
    this.blobs.delete(sha256);
    this.bytes -= entry.size;
    this.dropRecords(sha256);
    if (!this.pins.has(sha256)) this.deleteFile(this.o.content.remove(sha256));
    else this.doomed.add(sha256);
    this.o.logger.warn('cached firmware missing or corrupt: it will be fetched again', { sha256 });
    this.o.onEvicted?.(sha256);
    return this.settled();
  }

  /** Whether a blob of this size can be kept at all (it is not larger than `maxBytes`). */
  canHold(size: number): boolean {
    return size <= this.o.maxBytes;
  }

  /** Whether a blob is in the cache (not evicted). */
  holds(sha256: string): boolean {
    return this.blobs.has(sha256);
  }

  /** Marks a blob as used now. */
  touch(sha256: string): void {
    const b = this.blobs.get(sha256);
    if (!b) return;
    const now = Date.now();
    b.usedAt = now;
    if (now - b.persistedAt >= PERSIST_USE_MS) {
      b.persistedAt = now;
      void this.o.content.touch(sha256);
    }
  }

  pin(sha256: string): void {
    this.pins.set(sha256, (this.pins.get(sha256) ?? 0) + 1);
  }

  unpin(sha256: string): void {
    const n = this.pins.get(sha256) ?? 0;
    if (n > 1) {
      this.pins.set(sha256, n - 1);
      return;
    }
    this.pins.delete(sha256);
    if (this.doomed.delete(sha256)) this.deleteFile(this.o.content.remove(sha256));
    else this.enforce(0, 0);
  }

  /** The blobs kept (what `firmware_cache_entries` and `otaflux_cache_bytes` count). */
  kept(): { sha256: string; size: number }[] {
    return [...this.blobs].map(([sha256, b]) => ({ sha256, size: b.size }));
  }

  get maxBytes(): number {
    return this.o.maxBytes;
  }

  get usedBytes(): number {
    return this.bytes;
  }

  /** Evicts least recently used blobs (unread ones first) until `incoming` more would fit; returns how many. */
  private enforce(incomingBytes: number, incomingEntries: number, keep?: string): number {
    const fits = () => this.bytes + incomingBytes <= this.o.maxBytes && this.blobs.size + incomingEntries <= this.o.maxEntries;
    if (fits()) return 0;
    const order = [...this.blobs]
      .filter(([sha]) => sha !== keep)
      .sort(([a, x], [b, y]) => Number(this.pins.has(a)) - Number(this.pins.has(b)) || x.usedAt - y.usedAt);
    let evicted = 0;
    for (const [sha, entry] of order) {
      if (fits()) break;
      this.evict(sha, entry, this.blobs.size + incomingEntries > this.o.maxEntries ? 'entries' : 'bytes');
      evicted++;
    }
    return evicted;
  }

  private dropRecords(sha256: string): void {
    for (const path of this.recordsOf.get(sha256) ?? []) {
      this.blobOf.delete(path);
      this.deleteFile(rm(path, { force: true }));
    }
    this.recordsOf.delete(sha256);
  }

  private deleteFile(p: Promise<unknown>): void {
    const tracked = p.catch(() => {}).finally(() => this.deleting.delete(tracked));
    this.deleting.add(tracked);
  }

  private evict(sha256: string, entry: Entry, bound: 'bytes' | 'entries'): void {
    this.blobs.delete(sha256);
    this.bytes -= entry.size;
    this.dropRecords(sha256);
    const reading = this.pins.has(sha256);
    if (reading) this.doomed.add(sha256);
    else this.deleteFile(this.o.content.remove(sha256));
    if (this.loading) this.evictedAtLoad[bound]++;
    this.o.logger.info('cache evicted', { sha256, size: entry.size, bound, deferredForDownload: reading });
    this.o.events.emit('cache-evicted', { sha256, size: entry.size, bound });
    this.o.onEvicted?.(sha256);
  }
}
