/**
 * Replicas on one PostgreSQL tell each other about new releases through a small table: a replica that
 * finds a new release of a stream (its poll, or a Harbor webhook it received) writes it there, and
 * every replica reads the table each round and refreshes the streams whose release it has not seen.
 * So a webhook hitting any replica refreshes all, and the leader learns of every change it must
 * announce. Rows older than a minute are not read (a replica that was cut off longer finds the
 * release at its own next poll, within the refresh interval).
 */
import { SQL } from 'bun';
import type { Logger } from '../plugin.ts';
import type { Release } from '../core/release.ts';

/** Rows changed within this window are read every round (it also absorbs clock skew between replicas). */
const WINDOW_MS = 60_000;

export class ReleaseBoard {
  private readonly seen = new Map<string, string>();
  private timer?: ReturnType<typeof setInterval>;
  private round?: Promise<void>;

  private constructor(
    private readonly sql: SQL,
    private readonly origin: string,
    private readonly refresh: (stream: string, changedAt: number) => void,
    private readonly log: Logger,
  ) {}

  static async start(o: { url: string; everyMs: number; origin: string; refresh: (stream: string, changedAt: number) => void; logger: Logger }): Promise<ReleaseBoard> {
    const sql = new SQL(o.url, { max: 2, idleTimeout: 30, connectionTimeout: 5, connection: { statement_timeout: 5000 } });
    // Kept out of the fleet schema's migrations: it holds nothing that outlives a minute.
    await sql`CREATE TABLE IF NOT EXISTS otaflux_cluster_releases (
      stream TEXT PRIMARY KEY, version TEXT NOT NULL, sha256 TEXT NOT NULL, changed_at BIGINT NOT NULL, origin TEXT NOT NULL)`.catch(async (e: unknown) => {
      // Two replicas creating it at the same moment: the loser sees a duplicate; anything else is real.
      if (!/already exists|duplicate key/i.test(String(e))) throw e;
    });
    const board = new ReleaseBoard(sql, o.origin, o.refresh, o.logger.child({ component: 'release-board' }));
    board.timer = setInterval(() => void board.read(), o.everyMs);
    return board;
  }

  /** A release this process found: recorded for the others (once per change of the stream's release). */
  found(release: Release): void {
    if (this.seen.get(release.device) === release.sha256) return;
    this.seen.set(release.device, release.sha256);
    const now = Date.now();
    this.sql`INSERT INTO otaflux_cluster_releases (stream, version, sha256, changed_at, origin)
      VALUES (${release.device}, ${release.version}, ${release.sha256}, ${now}, ${this.origin})
      ON CONFLICT (stream) DO UPDATE SET version = excluded.version, sha256 = excluded.sha256, changed_at = excluded.changed_at, origin = excluded.origin
      WHERE otaflux_cluster_releases.sha256 <> excluded.sha256`.catch((e: unknown) => {
      this.log.warn('cannot tell the other replicas about a new release; they find it at their next poll', { stream: release.device, error: String(e).split('\n')[0] });
    });
  }

  /** One round: refreshes the streams another replica found a new release of. */
  read(): Promise<void> {
    if (this.round) return this.round;
    this.round = (async () => {
      const rows: { stream: string; sha256: string; changed_at: number | string; origin: string }[] =
        await this.sql`SELECT stream, sha256, changed_at, origin FROM otaflux_cluster_releases WHERE changed_at > ${Date.now() - WINDOW_MS}`;
      for (const r of rows) {
        if (this.seen.get(r.stream) === r.sha256) continue;
        this.seen.set(r.stream, r.sha256);
        if (r.origin === this.origin) continue;
        this.log.debug('another replica found a new release: refreshing', { stream: r.stream, by: r.origin });
        this.refresh(r.stream, Number(r.changed_at));
      }
    })()
      .catch((e: unknown) => this.log.debug('release board not readable this round', { error: String(e).split('\n')[0] }))
      .finally(() => (this.round = undefined));
    return this.round;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.round;
    await this.sql.close({ timeout: 2 }).catch(() => undefined);
  }
}
