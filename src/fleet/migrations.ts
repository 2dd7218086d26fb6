/**
 * Forward-only schema migrations of the fleet store, the same SQL for SQLite and PostgreSQL (only
 * portable types: TEXT, INTEGER, BIGINT; times are epoch milliseconds written by OtaFlux, never
 * `now()`; booleans are 0/1 integers). Each runs once, recorded in `schema_migrations`; pending ones
 * are applied together in one transaction at start. Append new ones; never edit a released one.
 */
export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'fleet state: rollouts, pins, yanks, channels, instances, outcomes, audit',
    statements: [
      `CREATE TABLE fleet_rollouts (
        id TEXT PRIMARY KEY, version TEXT NOT NULL, spec TEXT NOT NULL, state TEXT NOT NULL,
        step INTEGER NOT NULL, step_started_at BIGINT NOT NULL, created_at BIGINT NOT NULL,
        reason TEXT, updated_at BIGINT NOT NULL)`,
      `CREATE TABLE fleet_pins (
        id TEXT PRIMARY KEY, stream TEXT NOT NULL, instances TEXT NOT NULL, version TEXT NOT NULL,
        reason TEXT, created_at BIGINT NOT NULL)`,
      `CREATE TABLE fleet_yanks (
        stream TEXT NOT NULL, version TEXT NOT NULL, reason TEXT, at BIGINT NOT NULL,
        PRIMARY KEY (stream, version))`,
      `CREATE TABLE fleet_channels (instance TEXT PRIMARY KEY, channels TEXT NOT NULL, updated_at BIGINT NOT NULL)`,
      `CREATE TABLE fleet_instances (
        instance TEXT PRIMARY KEY, weak INTEGER NOT NULL, stream TEXT NOT NULL, route TEXT NOT NULL,
        reported_version TEXT, boot_id TEXT, served_version TEXT, served_sha256 TEXT, address TEXT NOT NULL,
        identity TEXT, first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL,
        downloaded_version TEXT, downloaded_at BIGINT)`,
      `CREATE TABLE fleet_outcomes (
        instance TEXT NOT NULL, stream TEXT NOT NULL, version TEXT NOT NULL, rollout_id TEXT,
        state TEXT NOT NULL, inferred INTEGER NOT NULL, boot_id TEXT, offered_at BIGINT NOT NULL,
        downloaded_at BIGINT, updated_at BIGINT NOT NULL,
        PRIMARY KEY (instance, stream, version))`,
      `CREATE INDEX fleet_outcomes_rollout ON fleet_outcomes (rollout_id, state)`,
      `CREATE TABLE fleet_audit (
        id TEXT PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
        target TEXT NOT NULL, detail TEXT NOT NULL, reason TEXT)`,
      `CREATE INDEX fleet_audit_at ON fleet_audit (at)`,
    ],
  },
  {
    version: 2,
    name: 'outcomes by update time, so replicas pick up each other\'s outcome changes',
    statements: [`CREATE INDEX fleet_outcomes_updated ON fleet_outcomes (updated_at)`],
  },
  {
    version: 3,
    name: 'check-in history: each written check-in that changed what an instance runs, is served or how it asks',
    statements: [
      `CREATE TABLE fleet_checkin_log (
        instance TEXT NOT NULL, at BIGINT NOT NULL, stream TEXT NOT NULL, route TEXT NOT NULL,
        reported_version TEXT, served_version TEXT, boot_id TEXT, address TEXT NOT NULL, identity TEXT)`,
      `CREATE INDEX fleet_checkin_log_instance ON fleet_checkin_log (instance, at)`,
      `CREATE INDEX fleet_checkin_log_at ON fleet_checkin_log (at)`,
    ],
  },
  {
    version: 4,
    name: 'dashboard sessions, so that they outlive a restart and work on every replica',
    statements: [
      `CREATE TABLE fleet_sessions (
        id_hash TEXT PRIMARY KEY, operator TEXT NOT NULL, role TEXT NOT NULL, shared INTEGER NOT NULL,
        credential TEXT NOT NULL, csrf TEXT NOT NULL, created_at BIGINT NOT NULL, last_used_at BIGINT NOT NULL, flash TEXT)`,
      `CREATE INDEX fleet_sessions_last_used ON fleet_sessions (last_used_at)`,
    ],
  },
];

export const LATEST_SCHEMA = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
