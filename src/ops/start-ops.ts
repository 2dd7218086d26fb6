/**
 * Starts what an operator watches, beside the device listeners: the request log, the metrics and
 * their listener (`--metrics-listen-addr`), and the in-flight download count that shutdown drains.
 *
 * Per-device metric labels are off; `--metrics-device-labels` (`server.metricsDeviceLabels`) turns
 * them on (one series per device: only for small fleets).
 */
import type { Server } from 'node:net';
import type { Runtime } from '../runtime.ts';
import pkg from '../../package.json' with { type: 'json' };
import { OtaFluxMetrics } from '../metrics/otaflux-metrics.ts';
import { connectionsOf, countConnections } from '../metrics/open-connections.ts';
import { routeTemplates } from '../metrics/route-templates.ts';
import { createMetricsServer } from '../http/metrics-server.ts';
import { listen } from '../http/listen.ts';
import { logRequests } from './request-log.ts';
import { DownloadsInFlight } from './downloads.ts';

export interface Ops {
  metrics: OtaFluxMetrics;
  downloads: DownloadsInFlight;
  /** Bound port of the metrics listener, when it runs. */
  metricsPort?: number;
  /** Stops the metrics listener and the request log (after the device listeners drained). */
  close(): Promise<void>;
}

/** `routes` are the app's route templates (Elysia's `app.routes[].path`). */
export async function startOps(rt: Runtime, routes: readonly string[]): Promise<Ops> {
  const routeOf = routeTemplates(['/version', '/firmware', '/health', ...routes]);
  const stopLog = logRequests(rt.events, rt.logger, routeOf);
  const downloads = new DownloadsInFlight(rt.events);
  const metrics = new OtaFluxMetrics({
    events: rt.events,
    routeOf,
    cacheBlobs: async () => rt.cache.kept(),
    devicesSeen: () => rt.tracker.seenCount(),
    downloadsInFlight: () => downloads.count(),
    perDeviceLabels: rt.settings.metricsDeviceLabels,
    version: pkg.version,
  });
  for (const [bound, n] of Object.entries(rt.cache.evictedAtLoad)) if (n > 0) metrics.cacheEvictions.inc({ bound }, n);
  let server: Server | undefined;
  let metricsPort: number | undefined;
  const addr = rt.settings.metricsListenAddr;
  if (addr !== false) {
    server = createMetricsServer(() => metrics.render(), rt.logger);
    countConnections(rt.events, 'metrics', () => connectionsOf(server as Server));
    try {
      metricsPort = await listen(server, addr);
    } catch (e) {
      stopLog();
      metrics.close();
      downloads.close();
      throw e;
    }
    rt.logger.info('metrics listening', { url: `http://${addr.replace(/:\d+$/, '')}:${metricsPort}/metrics` });
  }
  return {
    metrics,
    downloads,
    ...(metricsPort !== undefined ? { metricsPort } : {}),
    async close() {
      if (server) {
        const s = server as Server & { closeAllConnections?(): void };
        await new Promise<void>((r) => {
          s.close(() => r());
          s.closeAllConnections?.();
        });
      }
      stopLog();
      metrics.close();
      downloads.close();
    },
  };
}
