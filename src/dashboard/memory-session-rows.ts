/**
 * Session rows in this process's memory, for a server without fleet control (no fleet store): a
 * restart then signs everyone out, and each replica keeps its own.
 */
import type { SessionRow, SessionRows } from '../fleet/session-table.ts';

export class MemorySessionRows implements SessionRows {
  /** In sign-in order, so the first is the oldest. */
  private readonly rows = new Map<string, SessionRow>();

  async insert(row: SessionRow, expired: { idle: number; max: number }, keep: number): Promise<void> {
    await this.purge(expired);
    for (const id of this.rows.keys()) {
      if (this.rows.size < keep) break;
      this.rows.delete(id);
    }
    this.rows.set(row.id_hash, { ...row });
  }

  async find(idHash: string): Promise<SessionRow | undefined> {
    const r = this.rows.get(idHash);
    return r ? { ...r } : undefined;
  }

  async touch(idHash: string, at: number): Promise<void> {
    const r = this.rows.get(idHash);
    if (r) r.last_used_at = at;
  }

  async setFlash(idHash: string, flash: string | null): Promise<void> {
    const r = this.rows.get(idHash);
    if (r) r.flash = flash;
  }

  async delete(idHash: string): Promise<void> {
    this.rows.delete(idHash);
  }

  async purge(expired: { idle: number; max: number }): Promise<number> {
    let n = 0;
    for (const [id, r] of this.rows) {
      if (r.last_used_at < expired.idle || r.created_at < expired.max) {
        this.rows.delete(id);
        n++;
      }
    }
    return n;
  }

  async count(): Promise<number> {
    return this.rows.size;
  }
}
