/**
 * The fleet state store on Bun.SQL: one data layer for the embedded SQLite file (default,
 * `<cache.dir>/fleet.sqlite`) and PostgreSQL (`--database-url postgres://…`), with the same
 * tagged-template queries. Decision changes (rollouts, pins, yanks, channels) are written at once with
 * their audit record in one transaction; check-ins arrive in batches from the check-in buffer.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { SQL } from 'bun';
import { randomUUID } from 'node:crypto';
import { LATEST_SCHEMA, MIGRATIONS } from './migrations.ts';
import { SessionTable } from './session-table.ts';
import type { DecisionState, Pin, Rollout, RolloutState, Yank } from './model.ts';
import type { OutcomeState } from './outcomes.ts';

export class StoreTooNew extends Error {
  override readonly name = 'StoreTooNew';
}

/** The store cannot be opened at start: without a last known state there is nothing safe to decide from. */
export class StoreUnavailable extends Error {
  override readonly name = 'StoreUnavailable';
}

export interface InstanceRow {
  instance: string;
  weak: number;
  stream: string;
  route: string;
  reported_version: string | null;
  boot_id: string | null;
  served_version: string | null;
  served_sha256: string | null;
  address: string;
  identity: string | null;
  first_seen: number;
  last_seen: number;
  downloaded_version: string | null;
  downloaded_at: number | null;
}

export interface OutcomeRow {
  instance: string;
  stream: string;
  version: string;
  rollout_id: string | null;
  state: OutcomeState;
  inferred: number;
  boot_id: string | null;
  offered_at: number;
  downloaded_at: number | null;
  updated_at: number;
}

export interface AuditEntry {
  id: string;
  at: number;
  actor: string;
  action: string;
  target: string;
  detail: unknown;
  reason?: string;
}

/** Days of check-in history kept; pruned at most once an hour, as check-ins are written. */
export const CHECKIN_LOG_DAYS = 30;
const CHECKIN_LOG_PRUNE_MS = 3_600_000;

export interface CheckinLogRow {
  instance: string;
  at: number;
  stream: string;
  route: string;
  reported_version: string | null;
  served_version: string | null;
  boot_id: string | null;
  address: string;
  identity: string | null;
}

/** What one instance ran on one stream from a moment on (a check-in history row, or its row now). */
export interface VersionRow {
  instance: string;
  at: number;
  stream: string;
  version: string;
}

export interface InstanceFilter {
  q: string;
  stream: string;
  version: string;
  outcome: string;
  limit: number;
  offset: number;
}

export interface Actor {
  who: string;
  why?: string;
}

/** Advisory lock id taken while migrating (PostgreSQL): any constant shared by every OtaFlux. */
const MIGRATION_LOCK = 0x07a_f10;

/** Rows per INSERT statement (SQLite allows 32 766 bound values). */
const CHUNK = 500;

type Tx = SQL;

export class FleetStore {
  /** When the check-in history was last pruned (this process). */
  private prunedAt = 0;

  private constructor(
    private readonly sql: SQL,
    readonly kind: 'sqlite' | 'postgres',
    readonly where: string,
  ) {}

  /** Opens the store and applies pending migrations; refuses a database newer than this binary. */
  static async open(url: string): Promise<FleetStore> {
    const kind = url.startsWith('postgres://') || url.startsWith('postgresql://') ? 'postgres' : 'sqlite';
    // The default file lives in the cache folder, which may not exist yet on a first start.
    if (kind === 'sqlite') {
      try {
        mkdirSync(dirname(url.replace(/^sqlite:\/\//, '')), { recursive: true });
      } catch {
        // Opening the file below says what is wrong with its folder.
      }
    }
    const sql = kind === 'postgres' ? new SQL(url, { max: 4, idleTimeout: 30, connectionTimeout: 5, connection: { statement_timeout: 5000 } }) : new SQL(url);
    const store = new FleetStore(sql, kind, kind === 'postgres' ? redact(url) : url.replace(/^sqlite:\/\//, ''));
    try {
      // Workers of one host share the file: a writer waits up to 5 s for another's lock instead of failing.
      if (kind === 'sqlite') await sql`PRAGMA busy_timeout = 5000`.catch(() => undefined);
      if (kind === 'sqlite') await sql`PRAGMA journal_mode = WAL`.catch(() => undefined);
      await store.migrate();
    } catch (e) {
      await sql.close().catch(() => undefined);
      if (e instanceof StoreTooNew) throw e;
      const message = (e instanceof Error ? e.message : String(e)).split('\n')[0];
      throw new StoreUnavailable(`fleet database ${store.where} cannot be opened (${message}): start it, or fix --database-url / DATABASE_URL / fleet.databaseUrl`);
    }
    return store;
  }

  async close(): Promise<void> {
    await this.sql.close();
  }

  /** The dashboard's sessions (`fleet_sessions`). */
  get sessions(): SessionTable {
    return new SessionTable(this.sql);
  }

  /**
   * Applies pending migrations in one transaction. On PostgreSQL an advisory lock serialises replicas
   * starting at the same moment (concurrent CREATE TABLE would collide in the catalog); SQLite
   * serialises writers itself.
   */
  async migrate(): Promise<number[]> {
    return this.sql.begin(async (tx) => {
      if (this.kind === 'postgres') await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
      await tx`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`;
      const done = new Set<number>((await tx`SELECT version FROM schema_migrations`).map((r: { version: number | string }) => Number(r.version)));
      const newest = Math.max(0, ...done);
      if (newest > LATEST_SCHEMA) {
        throw new StoreTooNew(`fleet database ${this.where} has schema version ${newest}, this OtaFlux knows up to ${LATEST_SCHEMA}: run a newer OtaFlux or point --database-url at another database`);
      }
      const applied: number[] = [];
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        for (const st of m.statements) await tx.unsafe(st);
        await tx`INSERT INTO schema_migrations (version, name, applied_at) VALUES (${m.version}, ${m.name}, ${Date.now()})`;
        applied.push(m.version);
      }
      return applied;
    });
  }

  async schemaVersions(): Promise<number[]> {
    return (await this.sql`SELECT version FROM schema_migrations ORDER BY version`).map((r: { version: number | string }) => Number(r.version));
  }

  /** Rollouts, pins, yanks and channel subscriptions (labels come from the config only). */
  async loadDecisionState(): Promise<Omit<DecisionState, 'labels'>> {
    const [rollouts, pins, yanks, channels] = await Promise.all([
      this.sql`SELECT * FROM fleet_rollouts ORDER BY created_at, id`,
      this.sql`SELECT * FROM fleet_pins ORDER BY created_at, id`,
      this.sql`SELECT * FROM fleet_yanks ORDER BY at`,
      this.sql`SELECT * FROM fleet_channels`,
    ]);
    return {
      rollouts: rollouts.map(rolloutOf),
      pins: pins.map((p: Record<string, unknown>): Pin => ({
        id: String(p.id), stream: String(p.stream), instances: JSON.parse(String(p.instances)), version: String(p.version),
        ...(p.reason ? { reason: String(p.reason) } : {}), createdAt: Number(p.created_at),
      })),
      yanks: yanks.map((y: Record<string, unknown>): Yank => ({ stream: String(y.stream), version: String(y.version), ...(y.reason ? { reason: String(y.reason) } : {}), at: Number(y.at) })),
      channels: Object.fromEntries(channels.map((c: Record<string, unknown>) => [String(c.instance), JSON.parse(String(c.channels)) as string[]])),
    };
  }

  /**
   * Writes a batch of check-ins (latest per instance) and outcome changes in one transaction. A
   * check-in that changes an instance's stream, route, reported or served version or boot id is
   * also appended to its history (`fleet_checkin_log`, kept CHECKIN_LOG_DAYS); one that changes only
   * the time or the address is not, so the history grows with events, not with polls.
   */
  async writeCheckins(instances: readonly InstanceRow[], outcomes: readonly OutcomeRow[]): Promise<void> {
    if (instances.length === 0 && outcomes.length === 0) return;
    const now = Date.now();
    const prune = now - this.prunedAt > CHECKIN_LOG_PRUNE_MS;
    if (prune) this.prunedAt = now;
    await this.sql.begin(async (tx) => {
      if (prune) await tx`DELETE FROM fleet_checkin_log WHERE at < ${now - CHECKIN_LOG_DAYS * 86_400_000}`;
      for (let i = 0; i < instances.length; i += CHUNK) {
        const rows = instances.slice(i, i + CHUNK);
        const log = changedCheckins(rows, await tx`SELECT instance, stream, route, reported_version, served_version, boot_id FROM fleet_instances WHERE instance IN ${this.sql(rows.map((r) => r.instance))}`);
        if (log.length > 0) await tx`INSERT INTO fleet_checkin_log ${this.sql(log)}`;
        await tx`INSERT INTO fleet_instances ${this.sql(rows)}
          ON CONFLICT (instance) DO UPDATE SET weak = excluded.weak, stream = excluded.stream, route = excluded.route,
            reported_version = COALESCE(excluded.reported_version, fleet_instances.reported_version),
            boot_id = COALESCE(excluded.boot_id, fleet_instances.boot_id),
            served_version = COALESCE(excluded.served_version, fleet_instances.served_version),
            served_sha256 = COALESCE(excluded.served_sha256, fleet_instances.served_sha256),
            address = excluded.address, identity = COALESCE(excluded.identity, fleet_instances.identity),
            last_seen = excluded.last_seen,
            downloaded_version = COALESCE(excluded.downloaded_version, fleet_instances.downloaded_version),
            downloaded_at = COALESCE(excluded.downloaded_at, fleet_instances.downloaded_at)`;
      }
      for (let i = 0; i < outcomes.length; i += CHUNK) {
        const rows = outcomes.slice(i, i + CHUNK);
        await tx`INSERT INTO fleet_outcomes ${this.sql(rows)}
          ON CONFLICT (instance, stream, version) DO UPDATE SET rollout_id = COALESCE(excluded.rollout_id, fleet_outcomes.rollout_id),
            state = excluded.state, inferred = excluded.inferred, boot_id = COALESCE(excluded.boot_id, fleet_outcomes.boot_id),
            downloaded_at = COALESCE(excluded.downloaded_at, fleet_outcomes.downloaded_at), updated_at = excluded.updated_at`;
      }
    });
  }

  /** Every outcome a rollout offered: its state and times (for progress per step and over time). */
  async rolloutOutcomes(id: string): Promise<{ state: string; offered_at: number; downloaded_at: number | null; updated_at: number }[]> {
    const rows = await this.sql`SELECT state, offered_at, downloaded_at, updated_at FROM fleet_outcomes WHERE rollout_id = ${id}`;
    return rows.map((r: Record<string, unknown>) => ({ state: String(r.state), offered_at: Number(r.offered_at), downloaded_at: r.downloaded_at == null ? null : Number(r.downloaded_at), updated_at: Number(r.updated_at) }));
  }

  /** The audit records of one target (a rollout's creation and transitions), oldest first. */
  async auditOf(target: string, limit = 1000): Promise<AuditEntry[]> {
    const rows = await this.sql`SELECT * FROM fleet_audit WHERE target = ${target} ORDER BY at, id LIMIT ${limit}`;
    return rows.map((r: Record<string, unknown>): AuditEntry => ({
      id: String(r.id), at: Number(r.at), actor: String(r.actor), action: String(r.action), target: String(r.target),
      detail: JSON.parse(String(r.detail)), ...(r.reason ? { reason: String(r.reason) } : {}),
    }));
  }

  /** An instance's check-in history, newest first. */
  async checkinLog(instance: string, limit = 100): Promise<CheckinLogRow[]> {
    const rows = await this.sql`SELECT * FROM fleet_checkin_log WHERE instance = ${instance} ORDER BY at DESC LIMIT ${limit}`;
    const s = (v: unknown) => (v == null ? null : String(v));
    return rows.map((r: Record<string, unknown>): CheckinLogRow => ({
      instance: String(r.instance), at: Number(r.at), stream: String(r.stream), route: String(r.route), reported_version: s(r.reported_version),
      served_version: s(r.served_version), boot_id: s(r.boot_id), address: String(r.address), identity: s(r.identity),
    }));
  }

  /** Outcome rows of some instances (to resume their outcome tracking after a restart). */
  async outcomesOf(instance: string): Promise<OutcomeRow[]> {
    const rows = await this.sql`SELECT * FROM fleet_outcomes WHERE instance = ${instance} ORDER BY updated_at DESC`;
    return rows.map(outcomeOf);
  }

  /** Outcomes written at or after `since` (epoch ms), by any replica. */
  async outcomesSince(since: number): Promise<OutcomeRow[]> {
    return (await this.sql`SELECT * FROM fleet_outcomes WHERE updated_at >= ${since}`).map(outcomeOf);
  }

  async allOutcomes(): Promise<OutcomeRow[]> {
    return (await this.sql`SELECT * FROM fleet_outcomes`).map(outcomeOf);
  }

  async instance(id: string): Promise<InstanceRow | undefined> {
    const [r] = await this.sql`SELECT * FROM fleet_instances WHERE instance = ${id}`;
    return r ? instanceOf(r) : undefined;
  }

  async instanceCount(): Promise<number> {
    const [r] = await this.sql`SELECT count(*) AS n FROM fleet_instances`;
    return Number(r.n);
  }

  /** Outcome counts per rollout (`{ rolloutId: { verified: 3, … } }`). */
  async rolloutCounts(): Promise<Map<string, Record<string, number>>> {
    const rows = await this.sql`SELECT rollout_id, state, count(*) AS n FROM fleet_outcomes WHERE rollout_id IS NOT NULL GROUP BY rollout_id, state`;
    const out = new Map<string, Record<string, number>>();
    for (const r of rows) {
      const id = String(r.rollout_id);
      const m = out.get(id) ?? {};
      m[String(r.state)] = Number(r.n);
      out.set(id, m);
    }
    return out;
  }

  /** Marks downloads of a rollout not proven either way since `before` as timed out; returns how many. */
  async timeOut(rolloutId: string, before: number, now: number): Promise<number> {
    const r = await this.sql`UPDATE fleet_outcomes SET state = 'timed_out', updated_at = ${now}
      WHERE rollout_id = ${rolloutId} AND state = 'downloaded' AND downloaded_at < ${before}`;
    return Number(r.count ?? 0);
  }

  /**
   * One page of instances for the dashboard, newest check-in first, with each one's latest outcome:
   * `q` matches instance, stream, identity or address (case-insensitive substring); the other
   * filters are exact. Paged in the database, so a page costs the same at 10 000 instances as at 10.
   */
  async instancePage(f: InstanceFilter): Promise<{ total: number; rows: (InstanceRow & { last_outcome: string | null })[] }> {
    const like = `%${f.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const last = this.sql`(SELECT o.state FROM fleet_outcomes o WHERE o.instance = i.instance ORDER BY o.updated_at DESC LIMIT 1)`;
    const where = this.sql`(${f.q} = '' OR lower(i.instance) LIKE ${like} ESCAPE '\\' OR lower(i.stream) LIKE ${like} ESCAPE '\\'
        OR lower(COALESCE(i.identity, '')) LIKE ${like} ESCAPE '\\' OR lower(i.address) LIKE ${like} ESCAPE '\\')
      AND (${f.stream} = '' OR i.stream = ${f.stream})
      AND (${f.version} = '' OR i.reported_version = ${f.version} OR i.served_version = ${f.version})
      AND (${f.outcome} = '' OR ${last} = ${f.outcome})`;
    const [count] = await this.sql`SELECT count(*) AS n FROM fleet_instances i WHERE ${where}`;
    const rows = await this.sql`SELECT i.*, ${last} AS last_outcome FROM fleet_instances i WHERE ${where}
      ORDER BY i.last_seen DESC, i.instance LIMIT ${f.limit} OFFSET ${f.offset}`;
    return { total: Number(count.n), rows: rows.map((r: Record<string, unknown>) => ({ ...instanceOf(r), last_outcome: r.last_outcome == null ? null : String(r.last_outcome) })) };
  }

  /** How many instances report (or were last served) each version, per stream: the fleet's version distribution. */
  async versionDistribution(): Promise<{ stream: string; version: string; n: number }[]> {
    const rows = await this.sql`SELECT stream, COALESCE(reported_version, served_version, '') AS version, count(*) AS n
      FROM fleet_instances GROUP BY stream, COALESCE(reported_version, served_version, '') ORDER BY stream, n DESC`;
    return rows.map((r: Record<string, unknown>) => ({ stream: String(r.stream), version: String(r.version), n: Number(r.n) }));
  }

  /**
   * What the version distribution over a time window is computed from (src/dashboard/version-history.ts):
   * each instance's latest check-in history row at or before `from`, the rows after it up to `to`,
   * and every instance's first check-in and what it runs now. A version is the reported one, else the
   * one last served, as in versionDistribution.
   */
  async versionTimeline(from: number, to: number): Promise<{ rows: VersionRow[]; instances: (VersionRow & { first_seen: number })[] }> {
    const version = this.sql`COALESCE(l.reported_version, l.served_version, '')`;
    const [before, during, instances] = await Promise.all([
      this.sql`SELECT l.instance, l.at, l.stream, ${version} AS version FROM fleet_checkin_log l
        JOIN (SELECT instance, max(at) AS at FROM fleet_checkin_log WHERE at <= ${from} GROUP BY instance) m ON m.instance = l.instance AND m.at = l.at`,
      this.sql`SELECT l.instance, l.at, l.stream, ${version} AS version FROM fleet_checkin_log l WHERE l.at > ${from} AND l.at <= ${to} ORDER BY l.at`,
      this.sql`SELECT instance, first_seen, last_seen AS at, stream, COALESCE(reported_version, served_version, '') AS version FROM fleet_instances WHERE first_seen <= ${to}`,
    ]);
    const row = (r: Record<string, unknown>): VersionRow => ({ instance: String(r.instance), at: Number(r.at), stream: String(r.stream), version: String(r.version) });
    return { rows: [...before.map(row), ...during.map(row)], instances: instances.map((r: Record<string, unknown>) => ({ ...row(r), first_seen: Number(r.first_seen) })) };
  }

  /** The distinct streams instances checked in on (for the fleet page's filter). */
  async streams(): Promise<string[]> {
    return (await this.sql`SELECT DISTINCT stream FROM fleet_instances ORDER BY stream LIMIT 1000`).map((r: Record<string, unknown>) => String(r.stream));
  }

  /** An audit record of a change made outside the decision state (an upload into a folder source). */
  async record(actor: Actor, action: string, target: string, detail: unknown): Promise<void> {
    await this.audited(actor, action, target, detail, async () => true);
  }

  // ---- decision changes: each in one transaction with its audit record ----

  async createRollout(r: Rollout, actor: Actor): Promise<boolean> {
    return this.audited(actor, 'rollout.create', r.id, r, async (tx) => {
      const exists = await tx`SELECT id FROM fleet_rollouts WHERE id = ${r.id}`;
      if (exists.length > 0) return false;
      await tx`INSERT INTO fleet_rollouts ${this.sql(rolloutRow(r))}`;
      return true;
    });
  }

  /**
   * Changes a rollout's state and/or step only if it is still as the caller saw it (compare and set),
   * so two replicas evaluating the same gate advance it once.
   */
  async transition(id: string, from: { state: RolloutState; step: number }, to: { state: RolloutState; step: number; reason?: string }, actor: Actor, action: string, now = Date.now()): Promise<boolean> {
    return this.audited(actor, action, id, { from, to }, async (tx) => {
      const stepStarted = to.step !== from.step ? now : undefined;
      const r = stepStarted !== undefined
        ? await tx`UPDATE fleet_rollouts SET state = ${to.state}, step = ${to.step}, step_started_at = ${stepStarted}, reason = ${to.reason ?? null}, updated_at = ${now}
            WHERE id = ${id} AND state = ${from.state} AND step = ${from.step}`
        : await tx`UPDATE fleet_rollouts SET state = ${to.state}, reason = ${to.reason ?? null}, updated_at = ${now}
            WHERE id = ${id} AND state = ${from.state} AND step = ${from.step}`;
      return Number(r.count ?? 0) === 1;
    });
  }

  /** Records the digest a rollout pins for a stream, when none is pinned yet. */
  async pinRolloutDigest(id: string, stream: string, sha256: string): Promise<void> {
    await this.sql.begin(async (tx) => {
      const [row] = await tx`SELECT spec FROM fleet_rollouts WHERE id = ${id}`;
      if (!row) return;
      const spec = JSON.parse(String(row.spec));
      if (spec.digests?.[stream]) return;
      spec.digests = { ...spec.digests, [stream]: sha256 };
      await tx`UPDATE fleet_rollouts SET spec = ${JSON.stringify(spec)}, updated_at = ${Date.now()} WHERE id = ${id}`;
    });
  }

  async addPin(p: Pin, actor: Actor): Promise<boolean> {
    return this.audited(actor, 'pin.create', p.id, p, async (tx) => {
      const exists = await tx`SELECT id FROM fleet_pins WHERE id = ${p.id}`;
      if (exists.length > 0) return false;
      await tx`INSERT INTO fleet_pins (id, stream, instances, version, reason, created_at)
        VALUES (${p.id}, ${p.stream}, ${JSON.stringify(p.instances)}, ${p.version}, ${p.reason ?? null}, ${p.createdAt})`;
      return true;
    });
  }

  async deletePin(id: string, actor: Actor): Promise<boolean> {
    return this.audited(actor, 'pin.delete', id, {}, async (tx) => Number((await tx`DELETE FROM fleet_pins WHERE id = ${id}`).count ?? 0) === 1);
  }

  async yank(y: Yank, actor: Actor): Promise<boolean> {
    return this.audited(actor, 'release.yank', `${y.stream}@${y.version}`, y, async (tx) => {
      const exists = await tx`SELECT version FROM fleet_yanks WHERE stream = ${y.stream} AND version = ${y.version}`;
      if (exists.length > 0) return false;
      await tx`INSERT INTO fleet_yanks (stream, version, reason, at) VALUES (${y.stream}, ${y.version}, ${y.reason ?? null}, ${y.at})`;
      return true;
    });
  }

  async setChannels(instance: string, channels: string[], actor: Actor): Promise<boolean> {
    return this.audited(actor, 'channels.set', instance, { channels }, async (tx) => {
      await tx`INSERT INTO fleet_channels (instance, channels, updated_at) VALUES (${instance}, ${JSON.stringify(channels)}, ${Date.now()})
        ON CONFLICT (instance) DO UPDATE SET channels = excluded.channels, updated_at = excluded.updated_at`;
      return true;
    });
  }

  async audit(limit = 200): Promise<AuditEntry[]> {
    const rows = await this.sql`SELECT * FROM fleet_audit ORDER BY at DESC, id DESC LIMIT ${limit}`;
    return rows.map((r: Record<string, unknown>): AuditEntry => ({
      id: String(r.id), at: Number(r.at), actor: String(r.actor), action: String(r.action), target: String(r.target),
      detail: JSON.parse(String(r.detail)), ...(r.reason ? { reason: String(r.reason) } : {}),
    }));
  }

  /** Runs a change and writes its audit record in the same transaction; no record when it changed nothing. */
  private async audited<T extends boolean>(actor: Actor, action: string, target: string, detail: unknown, change: (tx: Tx) => Promise<T>): Promise<T> {
    return this.sql.begin(async (tx) => {
      const changed = await change(tx as unknown as Tx);
      if (changed) {
        const at = Date.now();
        await tx`INSERT INTO fleet_audit (id, at, actor, action, target, detail, reason)
          VALUES (${auditId(at)}, ${at}, ${actor.who}, ${action}, ${target}, ${JSON.stringify(detail)}, ${actor.why ?? null})`;
      }
      return changed;
    }) as Promise<T>;
  }
}

let auditSequence = 0;

/**
 * An audit record's id: its time, then a counter of this process, then random characters. Two
 * changes in the same millisecond keep their order (the audit log is sorted by time, then id);
 * the random part keeps ids of replicas apart.
 */
function auditId(at: number): string {
  auditSequence = (auditSequence + 1) % 1_000_000;
  return `${String(at).padStart(15, '0')}-${String(auditSequence).padStart(6, '0')}-${randomUUID().slice(0, 8)}`;
}

/** Rows of the batch that change what the stored row says (or have none), as history rows. */
function changedCheckins(rows: readonly InstanceRow[], stored: Record<string, unknown>[]): CheckinLogRow[] {
  const before = new Map(stored.map((r) => [String(r.instance), r]));
  const out: CheckinLogRow[] = [];
  for (const r of rows) {
    const b = before.get(r.instance);
    // The upsert keeps a stored value where the check-in has none: compare what the row will say.
    const reported = r.reported_version ?? (b?.reported_version as string | null | undefined) ?? null;
    const served = r.served_version ?? (b?.served_version as string | null | undefined) ?? null;
    const boot = r.boot_id ?? (b?.boot_id as string | null | undefined) ?? null;
    if (b && b.stream === r.stream && b.route === r.route && (b.reported_version ?? null) === reported && (b.served_version ?? null) === served && (b.boot_id ?? null) === boot) continue;
    out.push({ instance: r.instance, at: r.last_seen, stream: r.stream, route: r.route, reported_version: reported, served_version: served, boot_id: boot, address: r.address, identity: r.identity });
  }
  return out;
}

function rolloutRow(r: Rollout) {
  const { id, version, state, step, stepStartedAt, createdAt, reason, ...spec } = r;
  return {
    id, version, spec: JSON.stringify(spec), state, step, step_started_at: stepStartedAt, created_at: createdAt,
    reason: reason ?? null, updated_at: Date.now(),
  };
}

function rolloutOf(row: Record<string, unknown>): Rollout {
  const spec = JSON.parse(String(row.spec));
  return {
    ...spec,
    id: String(row.id), version: String(row.version), state: String(row.state) as RolloutState, step: Number(row.step),
    stepStartedAt: Number(row.step_started_at), createdAt: Number(row.created_at), ...(row.reason ? { reason: String(row.reason) } : {}),
  };
}

function outcomeOf(r: Record<string, unknown>): OutcomeRow {
  return {
    instance: String(r.instance), stream: String(r.stream), version: String(r.version), rollout_id: r.rollout_id == null ? null : String(r.rollout_id),
    state: String(r.state) as OutcomeState, inferred: Number(r.inferred), boot_id: r.boot_id == null ? null : String(r.boot_id),
    offered_at: Number(r.offered_at), downloaded_at: r.downloaded_at == null ? null : Number(r.downloaded_at), updated_at: Number(r.updated_at),
  };
}

function instanceOf(r: Record<string, unknown>): InstanceRow {
  const n = (v: unknown) => (v == null ? null : Number(v));
  const s = (v: unknown) => (v == null ? null : String(v));
  return {
    instance: String(r.instance), weak: Number(r.weak), stream: String(r.stream), route: String(r.route),
    reported_version: s(r.reported_version), boot_id: s(r.boot_id), served_version: s(r.served_version), served_sha256: s(r.served_sha256),
    address: String(r.address), identity: s(r.identity), first_seen: Number(r.first_seen), last_seen: Number(r.last_seen),
    downloaded_version: s(r.downloaded_version), downloaded_at: n(r.downloaded_at),
  };
}

/** A database URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
