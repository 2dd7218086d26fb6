/**
 * Messages between the primary process and its workers (`--workers`), over Bun's IPC channel.
 *
 * Lookups: a worker about to ask the registry for a device asks the primary first. The primary
 * answers `go` to one worker (it asks the source and reports `done` or `failed`), and hands the
 * others that asked meanwhile, or within the refresh interval, what that worker found: one registry
 * poll per device per interval for the whole host. When the release found differs from the one
 * before, the primary tells every other worker (`changed`), so each serves it and the leader
 * announces it.
 */
import type { Built } from '../core/resolver.ts';

export type WorkerMessage =
  | { t: 'lookup'; id: number; device: string; notBefore: number }
  | { t: 'done'; device: string; built: Built; at: number }
  | { t: 'failed'; device: string }
  /** The worker's state store is open (migrations applied): the primary starts the other workers. */
  | { t: 'ready' };

export type PrimaryMessage =
  | { t: 'go'; id: number }
  | { t: 'result'; id: number; built: Built; at: number }
  | { t: 'changed'; device: string; at: number };

/** Environment variables the primary sets for its workers (internal: not flags). */
export const WORKER_INDEX_ENV = 'OTAFLUX_WORKER_INDEX';
export const WORKER_FLAGS_ENV = 'OTAFLUX_WORKER_FLAGS';
/** Set for the one worker that leads the host when the state store is SQLite (no advisory locks). */
export const WORKER_LEADER_ENV = 'OTAFLUX_WORKER_LEADER';
