/**
 * Who leads: the one process (of a host, or of every replica on one PostgreSQL) that evaluates the
 * rollout gates and publishes MQTT notices.
 *
 * - PostgreSQL: a session-level advisory lock on a connection of its own, asked again every round
 *   (`pg_try_advisory_lock`). When the leader dies its session ends and the lock is released, so
 *   another replica holds it at its next round. The session sets `idle_session_timeout` to a few
 *   rounds, so a leader that vanished without closing its connection (power cut, partition) loses
 *   the lock within that time too. A leader whose round fails (store unreachable) steps down at once.
 * - Otherwise (SQLite, one host): fixed, decided by the primary (`--workers`) or the single process.
 */
import { SQL } from 'bun';
import type { Logger } from '../plugin.ts';

/** Advisory lock key of the leader (any constant shared by every OtaFlux; the migration lock is another). */
export const LEADER_LOCK = 0x07a_f11;

export interface Leadership {
  leads(): boolean;
  /** Asks the store now whether this process still leads (the fixed kinds answer at once). */
  confirm(): Promise<boolean>;
  /** Calls `fn` whenever this process becomes or stops being the leader. */
  onChange(fn: (leads: boolean) => void): void;
  close(): Promise<void>;
}

export function fixedLeadership(leads: boolean): Leadership {
  return { leads: () => leads, confirm: async () => leads, onChange: () => {}, close: async () => {} };
}

export class PostgresLeadership implements Leadership {
  private leading = false;
  private readonly listeners: ((leads: boolean) => void)[] = [];
  private timer?: ReturnType<typeof setInterval>;
  private round?: Promise<void>;
  private closed = false;

  private constructor(private readonly sql: SQL, private readonly log: Logger) {}

  /** Connects (one connection) and asks for the lock once before resolving, then every `everyMs`. */
  static async start(url: string, everyMs: number, logger: Logger): Promise<PostgresLeadership> {
    const idleMs = Math.max(10_000, everyMs * 5);
    const sql = new SQL(url, { max: 1, idleTimeout: 0, connectionTimeout: 5, connection: { statement_timeout: 5000, idle_session_timeout: idleMs } });
    const l = new PostgresLeadership(sql, logger.child({ component: 'leadership' }));
    await l.ask();
    l.timer = setInterval(() => void l.ask(), everyMs);
    return l;
  }

  leads(): boolean {
    return this.leading;
  }

  onChange(fn: (leads: boolean) => void): void {
    this.listeners.push(fn);
  }

  async confirm(): Promise<boolean> {
    // A round already under way may have started before the question: wait for it, then ask again.
    await this.round;
    await this.ask();
    return this.leading;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.round;
    this.set(false, 'stopping');
    // Closing the session releases the lock at once: another replica leads at its next round.
    await this.sql.close({ timeout: 2 }).catch(() => undefined);
  }

  private ask(): Promise<void> {
    if (this.round || this.closed) return this.round ?? Promise.resolve();
    this.round = (async () => {
      try {
        // Asked only when this session does not hold it yet: each successful call stacks one more hold.
        const [row] = await this.sql`SELECT CASE
            WHEN EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
                         AND classid = 0 AND objsubid = 1 AND objid::bigint = ${LEADER_LOCK}::bigint) THEN true
            ELSE pg_try_advisory_lock(${LEADER_LOCK}::bigint) END AS got`;
        const got = row?.got === true;
        this.set(got, got ? 'holds the advisory lock' : 'another replica holds the advisory lock');
      } catch (e) {
        this.set(false, `the store did not answer (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
      }
    })().finally(() => (this.round = undefined));
    return this.round;
  }

  private set(leads: boolean, why: string): void {
    if (leads === this.leading) return;
    this.leading = leads;
    if (leads) this.log.info('this process leads: rollout gates and MQTT notices run here', { why, pid: process.pid });
    else this.log.info('this process no longer leads', { why });
    for (const fn of this.listeners) fn(leads);
  }
}
