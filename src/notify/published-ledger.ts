/**
 * PublishedLedger remembers, per device and on disk beside the cache (`<cache>/notify/mqtt/`),
 * which notification OtaFlux wants retained on the broker and whether the broker acknowledged it.
 * It is what makes notifications exact across restarts: a restart that finds the same release
 * publishes nothing (the broker already retains it), and a change that happened while the broker
 * was unreachable is still published after a restart.
 */
import { mkdirSync } from 'node:fs';
import { open, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export interface LedgerEntry {
  /** Full topic, `{prefix}/{device}`. */
  topic: string;
  /** Exact JSON body. */
  payload: string;
  /** Broker it is meant for, without credentials (`mqtts://host:8883`). */
  broker: string;
  /** Whether the broker acknowledged (PUBACK) this exact topic, payload and broker. */
  published: boolean;
  /** When this entry was last written (ISO 8601). */
  at: string;
}

export class PublishedLedger {
  /** Writes per device run one after another, so an older entry never lands after a newer one. */
  private readonly writes = new Map<string, Promise<void>>();

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** Every device's entry. Unreadable files are skipped (their device is published again on its next change). */
  async load(): Promise<Map<string, LedgerEntry>> {
    const out = new Map<string, LedgerEntry>();
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      try {
        const e = JSON.parse(await readFile(join(this.dir, name), 'utf8')) as LedgerEntry;
        if (typeof e.topic === 'string' && typeof e.payload === 'string' && typeof e.broker === 'string') {
          out.set(decodeURIComponent(name.slice(0, -'.json'.length)), { ...e, published: e.published === true });
        }
      } catch {
        // A torn or foreign file: ignore it.
      }
    }
    return out;
  }

  /** Writes a device's entry atomically (temp file, fsync, rename), after that device's earlier writes. */
  put(device: string, entry: LedgerEntry): Promise<void> {
    const previous = this.writes.get(device) ?? Promise.resolve();
    const copy = { ...entry };
    const next = previous.catch(() => {}).then(() => this.write(device, copy));
    this.writes.set(device, next);
    void next.finally(() => { if (this.writes.get(device) === next) this.writes.delete(device); }).catch(() => {});
    return next;
  }

  /** Resolves when every write started so far has finished. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.writes.values()]);
  }

  private async write(device: string, entry: LedgerEntry): Promise<void> {
    const tmp = join(this.dir, `.${randomBytes(6).toString('hex')}.tmp`);
    await writeFile(tmp, JSON.stringify(entry));
    const fh = await open(tmp, 'r+');
    await fh.sync();
    await fh.close();
    await rename(tmp, join(this.dir, `${encodeURIComponent(device)}.json`));
  }
}
