/**
 * Runtime wires the core from Settings: stores, resolver, device service, plugin lifecycles.
 * It has no HTTP in it, so the CLI's `inspect` and `prefetch` use it without starting a server.
 */
import { join } from 'node:path';
import type { Logger, Plugin } from './plugin.ts';
import type { Settings } from './config/settings.ts';
import { ContentStore } from './core/content-store.ts';
import { ReleaseStore } from './core/release-store.ts';
import { MemoryTier } from './core/memory-tier.ts';
import { ReleaseBodies } from './core/release-bodies.ts';
import { CacheBudget } from './core/cache-budget.ts';
import { Resolver, type SharedLookup } from './core/resolver.ts';
import { DeviceService } from './core/device-service.ts';
import { AuthAttempts } from './core/auth-attempts.ts';
import { CoreEventBus } from './core/events.ts';
import { PluginHost } from './core/plugin-host.ts';
import { DeviceTracker } from './ops/device-tracker.ts';
import { timeSource } from './ops/source-timing.ts';
import { StartupError } from './cli/errors.ts';
import { FleetService } from './fleet/service.ts';

export interface Runtime {
  settings: Settings;
  logger: Logger;
  events: CoreEventBus;
  content: ContentStore;
  releases: ReleaseStore;
  /** The disk cache's bound (LRU in bytes and entries) and what it keeps. */
  cache: CacheBudget;
  bodies: ReleaseBodies;
  resolver: Resolver;
  devices: DeviceService;
  host: PluginHost;
  /** What devices polled, were served and were refused (status API, metrics). */
  tracker: DeviceTracker;
  /** Fleet control: rollouts, pins, yanks, check-ins (absent when `fleet.enabled` is false). */
  fleet?: FleetService;
  close(): Promise<void>;
}

/** Largest image kept in memory: bigger ones stream from disk. */
const MAX_MEMORY_ITEM = 32 * 1024 * 1024;

/** How this process shares work with other workers and replicas (src/cluster/); default: alone. */
export interface RuntimeCluster {
  /** Registry lookups shared with the other workers of the host. */
  shared?: SharedLookup;
  /** Whether this process evaluates the rollout gates (the leader). */
  leads?: () => boolean;
}

export async function startRuntime(settings: Settings, logger: Logger, cluster: RuntimeCluster = {}): Promise<Runtime> {
  const events = new CoreEventBus();
  const { content, releases } = openCache(settings.cache.dir);
  const memory = new MemoryTier(settings.cache.memoryBytes, Math.min(MAX_MEMORY_ITEM, settings.cache.memoryBytes));
  let resolver: Resolver | undefined;
  const cache = new CacheBudget({
    content, releases, events, logger,
    maxBytes: settings.cache.maxBytes,
    maxEntries: settings.cache.maxEntries,
    onEvicted: (sha256) => {
      memory.delete(sha256);
      resolver?.forgetBlob(sha256);
    },
  });
  await cache.load();
  cache.watchDownloads(events);
  const bodies = new ReleaseBodies(content, memory, cache, (sha256) => cache.lost(sha256));
  const host = new PluginHost(logger, settings.configDir, join(settings.cache.dir, 'plugins'));
  resolver = new Resolver({
    content, releases, budget: cache, events, logger, signal: host.signal,
    extractors: settings.extractors,
    limits: settings.limits,
    refreshMs: settings.cache.refreshMs,
    negativeMs: Math.min(settings.cache.refreshMs, 5000),
    staleAfterMs: 2000,
    ...(cluster.shared ? { shared: cluster.shared } : {}),
  });
  await host.start(pluginsOf(settings));
  if (settings.unauthenticated.length > 0) {
    logger.warn("devices are not authenticated: anyone can fetch their firmware (auth: 'none')", { devices: settings.unauthenticated });
  }
  let fleet: FleetService | undefined;
  if (settings.fleet) {
    try {
      fleet = await FleetService.start({
        databaseUrl: settings.fleet.databaseUrl, config: settings.fleet.config, checkins: settings.fleet.checkins, refreshMs: settings.fleet.refreshMs,
        resolver, events, logger, compositionOf: (stream) => settings.composer.for(stream),
        ...(cluster.leads ? { leads: cluster.leads } : {}),
      });
    } catch (e) {
      await host.close();
      throw e;
    }
  }
  const devices = new DeviceService(settings.composer, resolver, settings.repositoryPrefix, new AuthAttempts(events, logger), fleet, logger);
  // Operations: source call latency/errors as 'upstream-request' events, device activity.
  for (const c of settings.composer.all()) timeSource(c.source, events);
  const tracker = new DeviceTracker(events);
  return {
    settings, logger, events, content, releases, cache, bodies, resolver, devices, host, tracker,
    ...(fleet ? { fleet } : {}),
    close: async () => {
      tracker.close();
      cache.close();
      await fleet?.close();
      await host.close();
    },
  };
}

/** The cache stores, or one line naming `--cache-dir` when the folder cannot be made or written. */
function openCache(dir: string): { content: ContentStore; releases: ReleaseStore } {
  try {
    return { content: new ContentStore(dir), releases: new ReleaseStore(dir) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
    throw new StartupError(`--cache-dir ${dir}: cannot create the cache there (${code}); choose a folder this user can write (cache.dir)`);
  }
}

function pluginsOf(s: Settings): Plugin[] {
  const out: Plugin[] = [...s.extractors];
  for (const c of s.composer.all()) {
    out.push(c.source, c.verifier);
    if (c.extract !== 'auto') out.push(...c.extract);
    if (c.auth !== 'none') out.push(...c.auth);
  }
  return out;
}
