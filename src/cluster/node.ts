/**
 * This process's place among workers and replicas, from its environment and settings:
 * - a worker of `--workers` (started by the primary): shares registry lookups with the other workers
 *   over IPC, binds the device ports with SO_REUSEPORT, and only the first worker binds the metrics and
 *   operator listeners;
 * - with a PostgreSQL state store: leadership by advisory lock, and the release board;
 * - otherwise one process alone, which leads.
 * `attach` wires it to the runtime once that exists.
 */
import { hostname } from 'node:os';
import type { Logger } from '../plugin.ts';
import type { Settings } from '../config/settings.ts';
import type { Runtime } from '../runtime.ts';
import type { SharedLookup } from '../core/resolver.ts';
import { fixedLeadership, PostgresLeadership, type Leadership } from './leadership.ts';
import { ReleaseBoard } from './release-board.ts';
import { WorkerLink } from './worker-link.ts';
import { WORKER_INDEX_ENV, WORKER_LEADER_ENV } from './messages.ts';

export interface ClusterNode {
  /** Worker number under `--workers`, else undefined. */
  worker?: number;
  leadership: Leadership;
  /** For the resolver: lookups shared with the other workers. */
  shared?: SharedLookup;
  /** Replicas share a PostgreSQL store (leadership by advisory lock, the release board). */
  replicated: boolean;
  /** Bind the device ports with SO_REUSEPORT (workers). */
  reusePort: boolean;
  attach(rt: Runtime): Promise<void>;
  close(): Promise<void>;
}

export async function startClusterNode(settings: Settings, logger: Logger, env: Record<string, string | undefined> = process.env): Promise<ClusterNode> {
  const raw = env[WORKER_INDEX_ENV];
  const worker = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined;
  const url = settings.fleet?.databaseUrl ?? '';
  const postgres = /^postgres(ql)?:\/\//.test(url);
  const refreshMs = settings.fleet?.refreshMs ?? 2000;
  const log = logger.child({ component: 'cluster', ...(worker !== undefined ? { worker } : {}) });
  // One metrics listener and one operator listener per host: the first worker's.
  if (worker !== undefined && worker > 0) {
    settings.metricsListenAddr = false;
    settings.admin.listenAddr = false;
  }
  const leadership: Leadership = postgres
    ? await PostgresLeadership.start(url, refreshMs, log)
    : fixedLeadership(worker === undefined || env[WORKER_LEADER_ENV] === '1');
  const link = worker !== undefined && process.send ? new WorkerLink() : undefined;
  let board: ReleaseBoard | undefined;
  return {
    ...(worker !== undefined ? { worker } : {}),
    leadership,
    ...(link ? { shared: link.lookup } : {}),
    replicated: postgres,
    reusePort: worker !== undefined,
    async attach(rt) {
      const refresh = (stream: string, at: number) =>
        void rt.devices.refresh(stream, at).catch((e: unknown) => log.debug('refresh after a change elsewhere failed', { stream, error: String(e) }));
      link?.changed(refresh);
      link?.ready();
      if (postgres) {
        board = await ReleaseBoard.start({ url, everyMs: refreshMs, origin: `${hostname()}:${process.pid}`, refresh, logger: log });
        const b = board;
        rt.events.on('release-changed', (e) => b.found(e.release));
      }
    },
    async close() {
      link?.close();
      await board?.close();
      await leadership.close();
    },
  };
}
