/**
 * Check-ins are many and cheap to lose one of: they are kept in memory, latest per instance (and per
 * outcome), and written in one transaction per flush (every second, or sooner once `flushAt` are
 * pending). While the store is down they stay queued; beyond `max` pending rows the oldest are dropped
 * and counted (`dropped`), so memory stays bounded and the loss is known.
 */
import type { InstanceRow, OutcomeRow } from './store.ts';

export class CheckinBuffer {
  private instances = new Map<string, InstanceRow>();
  private outcomes = new Map<string, OutcomeRow>();
  /** Rows dropped because the buffer was full (store down for long). */
  dropped = 0;
  /** Rows written since start. */
  written = 0;

  constructor(private readonly max: number) {}

  get size(): number {
    return this.instances.size + this.outcomes.size;
  }

  instance(row: InstanceRow): void {
    const old = this.instances.get(row.instance);
    if (old) {
      this.instances.delete(row.instance);
      this.instances.set(row.instance, merge(old, row));
    } else {
      this.instances.set(row.instance, row);
      this.bound(this.instances);
    }
  }

  outcome(row: OutcomeRow): void {
    const key = `${row.instance}\0${row.stream}\0${row.version}`;
    this.outcomes.delete(key);
    this.outcomes.set(key, row);
    this.bound(this.outcomes);
  }

  /** Takes everything pending; `restore` puts back what a failed write did not store. */
  take(): { instances: InstanceRow[]; outcomes: OutcomeRow[]; restore(): void } {
    const instances = this.instances;
    const outcomes = this.outcomes;
    this.instances = new Map();
    this.outcomes = new Map();
    return {
      instances: [...instances.values()],
      outcomes: [...outcomes.values()],
      restore: () => {
        // Newer rows (taken after this one) win; older ones are merged under them.
        for (const [k, row] of instances) {
          const newer = this.instances.get(k);
          this.instances.set(k, newer ? merge(row, newer) : row);
        }
        for (const [k, row] of outcomes) if (!this.outcomes.has(k)) this.outcomes.set(k, row);
        this.bound(this.instances);
        this.bound(this.outcomes);
      },
    };
  }

  private bound<V>(m: Map<string, V>): void {
    while (m.size > this.max) {
      m.delete(m.keys().next().value as string);
      this.dropped++;
    }
  }
}

/** A newer check-in over an older one: newer facts win, facts it lacks are kept. */
function merge(old: InstanceRow, row: InstanceRow): InstanceRow {
  return {
    ...row,
    first_seen: Math.min(old.first_seen, row.first_seen),
    reported_version: row.reported_version ?? old.reported_version,
    boot_id: row.boot_id ?? old.boot_id,
    served_version: row.served_version ?? old.served_version,
    served_sha256: row.served_sha256 ?? old.served_sha256,
    identity: row.identity ?? old.identity,
    downloaded_version: row.downloaded_version ?? old.downloaded_version,
    downloaded_at: row.downloaded_at ?? old.downloaded_at,
  };
}
