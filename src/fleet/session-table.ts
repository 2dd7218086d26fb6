/**
 * Dashboard sessions in the fleet store (`fleet_sessions`), so that a session outlives a restart and
 * every replica sharing the store knows it. A row is found by the SHA-256 of the cookie's id, never
 * the id itself: whoever reads the database cannot sign in with what is there.
 */
import type { SQL } from 'bun';

export interface SessionRow {
  id_hash: string;
  operator: string;
  role: string;
  /** 1: signed in with the shared admin token. */
  shared: number;
  /** The fingerprint of the credential signed in with (src/http/admin-auth.ts). */
  credential: string;
  csrf: string;
  created_at: number;
  last_used_at: number;
  /** The message for the next page, as JSON. */
  flash: string | null;
}

/** Where session rows are kept: this table, or memory when fleet control is off (src/dashboard/memory-session-rows.ts). */
export interface SessionRows {
  /** Adds a row after removing expired ones (`idle` and `max`: the oldest last use and sign-in kept) and, beyond `keep`, the oldest. */
  insert(row: SessionRow, expired: { idle: number; max: number }, keep: number): Promise<void>;
  find(idHash: string): Promise<SessionRow | undefined>;
  touch(idHash: string, at: number): Promise<void>;
  setFlash(idHash: string, flash: string | null): Promise<void>;
  delete(idHash: string): Promise<void>;
  /** Removes the expired rows; returns how many. */
  purge(expired: { idle: number; max: number }): Promise<number>;
  count(): Promise<number>;
}

export class SessionTable implements SessionRows {
  constructor(private readonly sql: SQL) {}

  async insert(row: SessionRow, expired: { idle: number; max: number }, keep: number): Promise<void> {
    await this.sql.begin(async (tx) => {
      await tx`DELETE FROM fleet_sessions WHERE last_used_at < ${expired.idle} OR created_at < ${expired.max}`;
      const [c] = await tx`SELECT count(*) AS n FROM fleet_sessions`;
      const over = Number(c.n) - keep + 1;
      if (over > 0) {
        await tx`DELETE FROM fleet_sessions WHERE id_hash IN (SELECT id_hash FROM fleet_sessions ORDER BY created_at, id_hash LIMIT ${over})`;
      }
      await tx`INSERT INTO fleet_sessions ${this.sql(row)}`;
    });
  }

  async find(idHash: string): Promise<SessionRow | undefined> {
    const [r] = await this.sql`SELECT * FROM fleet_sessions WHERE id_hash = ${idHash}`;
    if (!r) return undefined;
    return {
      id_hash: String(r.id_hash), operator: String(r.operator), role: String(r.role), shared: Number(r.shared), credential: String(r.credential),
      csrf: String(r.csrf), created_at: Number(r.created_at), last_used_at: Number(r.last_used_at), flash: r.flash == null ? null : String(r.flash),
    };
  }

  async touch(idHash: string, at: number): Promise<void> {
    await this.sql`UPDATE fleet_sessions SET last_used_at = ${at} WHERE id_hash = ${idHash}`;
  }

  async setFlash(idHash: string, flash: string | null): Promise<void> {
    await this.sql`UPDATE fleet_sessions SET flash = ${flash} WHERE id_hash = ${idHash}`;
  }

  async delete(idHash: string): Promise<void> {
    await this.sql`DELETE FROM fleet_sessions WHERE id_hash = ${idHash}`;
  }

  async purge(expired: { idle: number; max: number }): Promise<number> {
    const r = await this.sql`DELETE FROM fleet_sessions WHERE last_used_at < ${expired.idle} OR created_at < ${expired.max}`;
    return Number(r.count ?? 0);
  }

  async count(): Promise<number> {
    const [c] = await this.sql`SELECT count(*) AS n FROM fleet_sessions`;
    return Number(c.n);
  }
}
