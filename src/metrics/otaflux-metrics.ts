/**
 * OtaFlux's metrics, fed by the core's events. The Rust server's names come first, so its
 * dashboards keep working: `http_requests_total{method,path,status}`,
 * `http_requests_duration_seconds`, `firmware_cache_entries`, `firmware_cache_hit_total`,
 * `firmware_cache_miss_total`. The rest are prefixed `otaflux_`.
 *
 * Labels are bounded: `path` is a route template, never a raw path; sources, verifiers and reasons
 * are plugin ids and short codes. Device ids appear only in `otaflux_device_requests_total`, and only
 * when `perDeviceLabels` is on (a fleet of 10 000 devices makes 10 000 series).
 *
 * Process and runtime metrics (`process_*`, `nodejs_*`) come from process-metrics.ts;
 * `otaflux_open_connections{listener}` counts what the listeners registered with the event bus
 * (open-connections.ts).
 */
import type { CoreEventBus } from '../core/events.ts';
import { MetricsRegistry } from './registry.ts';
import { registerProcessMetrics, type ProcessMetrics } from './process-metrics.ts';
import { openConnections } from './open-connections.ts';
import { isDdiRoute } from '../protocols/ddi/routes.ts';

export interface OtaFluxMetricsOptions {
  events: CoreEventBus;
  /** Maps a request path to its route template (see route-templates.ts). */
  routeOf?: (path: string) => string;
  /** Blobs in the firmware cache, read at scrape time. */
  cacheBlobs?: () => Promise<readonly { size: number }[]>;
  /** Devices that polled successfully, read at scrape time. */
  devicesSeen?: () => number;
  /** Firmware downloads being sent right now, read at scrape time. */
  downloadsInFlight?: () => number;
  /** Adds `otaflux_device_requests_total{device,route}` (opt-in: one series per device). */
  perDeviceLabels?: boolean;
  version?: string;
}

/** Seconds buckets for registry calls and downloads: slower than API calls. */
const UPSTREAM_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The series one (method, route, status) counts into. */
interface RequestSeries {
  requests: { inc(by?: number): void };
  duration: { observe(v: number): void };
  served: { inc(by?: number): void };
  /** The client protocol of the route, when the route names one (hawkBit DDI). */
  protocol?: string;
}

export class OtaFluxMetrics {
  readonly registry = new MetricsRegistry();
  private readonly detach: () => void;
  private readonly process: ProcessMetrics;
  private connections = new Map<string, number>();

  readonly httpRequests = this.registry.counter({ name: 'http_requests_total', help: 'HTTP requests answered, by method, route template and status.', labelNames: ['method', 'path', 'status'] });
  readonly httpDuration = this.registry.histogram({ name: 'http_requests_duration_seconds', help: 'Time to answer an HTTP request, until the whole body is handed to the socket.', labelNames: ['method', 'path', 'status'] });
  readonly cacheEntries = this.registry.gauge({ name: 'firmware_cache_entries', help: 'Firmware images in the disk cache.' });
  readonly cacheHits = this.registry.counter({ name: 'firmware_cache_hit_total', help: 'Lookups (on refresh) that found the release already built in the cache.' });
  readonly cacheMisses = this.registry.counter({ name: 'firmware_cache_miss_total', help: 'Lookups (on refresh) that had to download and build the release.' });
  readonly cacheBytes = this.registry.gauge({ name: 'otaflux_cache_bytes', help: 'Bytes of firmware in the disk cache.' });
  readonly cacheEvictions = this.registry.counter({ name: 'otaflux_cache_evictions_total', help: 'Blobs evicted from the disk cache (least recently used first), by the bound that required it (bytes or entries).', labelNames: ['bound'] });
  readonly servedBytes = this.registry.counter({ name: 'otaflux_served_bytes_total', help: 'Response body bytes sent, by route template.', labelNames: ['path'] });
  readonly inFlight = this.registry.gauge({ name: 'otaflux_downloads_in_flight', help: 'Firmware downloads being sent now.' });
  readonly devicesSeen = this.registry.gauge({ name: 'otaflux_devices_seen', help: 'Distinct devices served since start (bounded memory: at most 10 000 remembered).' });
  readonly devicePolls = this.registry.counter({ name: 'otaflux_device_polls_total', help: 'Successful device polls, by route.', labelNames: ['route'] });
  readonly upstreamRequests = this.registry.counter({ name: 'otaflux_upstream_requests_total', help: 'Calls to firmware sources (registry), by source, operation and outcome.', labelNames: ['source', 'operation', 'outcome'] });
  readonly upstreamDuration = this.registry.histogram({ name: 'otaflux_upstream_request_duration_seconds', help: 'Latency of calls to firmware sources (registry).', labelNames: ['source', 'operation'], buckets: UPSTREAM_BUCKETS });
  readonly upstreamErrors = this.registry.counter({ name: 'otaflux_upstream_errors_total', help: 'Failed calls to firmware sources, by source, operation and error kind.', labelNames: ['source', 'operation', 'kind'] });
  readonly verifyFailures = this.registry.counter({ name: 'otaflux_verification_failures_total', help: 'Versions refused by a verifier, by verifier and reason (once per device and digest).', labelNames: ['verifier', 'reason'] });
  readonly refreshFailures = this.registry.counter({ name: 'otaflux_refresh_failures_total', help: 'Failed refreshes, by whether a last good release was served instead.', labelNames: ['stale'] });
  readonly releaseChanges = this.registry.counter({ name: 'otaflux_release_changes_total', help: 'Times a device\'s latest release changed (or was first found).' });
  readonly authFailures = this.registry.counter({ name: 'otaflux_auth_failures_total', help: 'Refused device credentials, by stage (tls: at the handshake; request: by the device\'s authenticators; rate-limited) and status (401, 403, 429; closed for tls).', labelNames: ['stage', 'status'] });
  readonly deviceRequests = this.registry.counter({ name: 'otaflux_device_requests_total', help: 'Successful polls by device and route (only with per-device labels enabled).', labelNames: ['device', 'route'], maxSeries: 20_000 });
  readonly protocolRequests = this.registry.counter({ name: 'otaflux_device_protocol_requests_total', help: 'Device firmware and version requests by client protocol (native, arduino, esp-idf, rauc, rauc-manifest, ddi) and status.', labelNames: ['protocol', 'status'], maxSeries: 200 });
  readonly connectionsRefused = this.registry.counter({ name: 'otaflux_connections_refused_total', help: 'Connections closed on arrival because the open-connection cap (--max-connections) was reached.' });
  readonly bodyBytesBuffered = this.registry.gauge({ name: 'otaflux_request_body_bytes_buffered', help: 'Request body bytes held now, out of the shared body budget.' });
  readonly bodiesRefused = this.registry.counter({ name: 'otaflux_request_bodies_refused_total', help: 'Requests answered 503 because the shared request-body budget was full.' });
  readonly buildInfo = this.registry.gauge({ name: 'otaflux_build_info', help: 'Always 1; the version label says which OtaFlux runs.', labelNames: ['version'] });
  readonly openConnections = this.registry.collected({
    name: 'otaflux_open_connections', help: 'Connections open now, by listener (device: plain HTTP, tls: HTTPS, metrics).', type: 'gauge', labelNames: ['listener'],
    collect: () => [...this.connections].map(([listener, n]) => [{ listener }, n] as const),
  });

  /** The series each (method, raw route, status) counts into, looked up once (the per-request path). */
  private readonly byRequest = new Map<string, RequestSeries>();
  private readonly pollsByRoute = new Map<string, { inc(by?: number): void }>();
  private readonly byProtocol = new Map<string, Map<number, { inc(by?: number): void }>>();

  /** The last series counted into, and its (method, route, status): a device fleet's polls repeat them. */
  private last: { method: string; route: string; status: number; series: RequestSeries } | undefined;

  private requestSeries(method: string, route: string, status: number, routeOf: (p: string) => string): RequestSeries {
    const last = this.last;
    if (last && last.status === status && last.route === route && last.method === method) return last.series;
    const series = this.lookUpSeries(method, route, status, routeOf);
    this.last = { method, route, status, series };
    return series;
  }

  private lookUpSeries(method: string, route: string, status: number, routeOf: (p: string) => string): RequestSeries {
    const key = `${method} ${status} ${route}`;
    let s = this.byRequest.get(key);
    if (!s) {
      const labels = { method, path: routeOf(route), status: String(status) };
      s = { requests: this.httpRequests.child(labels), duration: this.httpDuration.child(labels), served: this.servedBytes.child({ path: labels.path }), ...(isDdiRoute(labels.path) ? { protocol: 'ddi' } : {}) };
      // Raw routes are the client's paths: remember the common ones, not every path a scanner tries.
      if (this.byRequest.size < 1000) this.byRequest.set(key, s);
    }
    return s;
  }

  constructor(o: OtaFluxMetricsOptions) {
    const routeOf = o.routeOf ?? ((p: string) => p);
    this.buildInfo.set({ version: o.version ?? 'unknown' }, 1);
    const ev = o.events;
    const handlers = {
      'http-request': (e: { method: string; route: string; status: number; bytes: number; durationMs: number; protocol?: string }) => {
        const s = this.requestSeries(e.method, e.route, e.status, routeOf);
        s.requests.inc();
        s.duration.observe(e.durationMs / 1000);
        if (e.bytes > 0) s.served.inc(e.bytes);
        const protocol = e.protocol ?? (e.route === '/version' ? 'native' : s.protocol);
        if (protocol) {
          let byStatus = this.byProtocol.get(protocol);
          if (!byStatus) this.byProtocol.set(protocol, (byStatus = new Map()));
          let c = byStatus.get(e.status);
          if (!c) byStatus.set(e.status, (c = this.protocolRequests.child({ protocol, status: String(e.status) })));
          c.inc();
        }
      },
      'cache-lookup': (e: { hit: boolean }) => (e.hit ? this.cacheHits : this.cacheMisses).inc(),
      'cache-evicted': (e: { bound: string }) => this.cacheEvictions.inc({ bound: e.bound }),
      'device-seen': (e: { device: string; route: string }) => {
        let polls = this.pollsByRoute.get(e.route);
        if (!polls) this.pollsByRoute.set(e.route, (polls = this.devicePolls.child({ route: e.route })));
        polls.inc();
        if (o.perDeviceLabels) this.deviceRequests.inc({ device: e.device, route: e.route });
      },
      'upstream-request': (e: { source: string; operation: string; ok: boolean; durationMs: number; errorKind?: string }) => {
        this.upstreamRequests.inc({ source: e.source, operation: e.operation, outcome: e.ok ? 'ok' : 'error' });
        this.upstreamDuration.observe({ source: e.source, operation: e.operation }, e.durationMs / 1000);
        if (!e.ok) this.upstreamErrors.inc({ source: e.source, operation: e.operation, kind: e.errorKind ?? 'unknown' });
      },
      'verify-rejected': (e: { verifier: string; reason: string }) => this.verifyFailures.inc({ verifier: e.verifier, reason: e.reason }),
      'refresh-failed': (e: { stale: boolean }) => this.refreshFailures.inc({ stale: String(e.stale) }),
      'release-changed': () => this.releaseChanges.inc(),
      'auth-failed': (e: { stage: string; status?: number }) => this.authFailures.inc({ stage: e.stage, status: e.status ? String(e.status) : 'closed' }),
    } as const;
    for (const [name, fn] of Object.entries(handlers)) ev.on(name as 'http-request', fn as never);
    this.detach = () => {
      for (const [name, fn] of Object.entries(handlers)) ev.off(name as 'http-request', fn as never);
    };

    this.registry.beforeScrape(async () => {
      if (o.cacheBlobs) {
        const blobs = await o.cacheBlobs();
        this.cacheEntries.set(undefined, blobs.length);
        this.cacheBytes.set(undefined, blobs.reduce((n, b) => n + b.size, 0));
      }
    });
    this.registry.beforeScrape(() => {
      if (o.devicesSeen) this.devicesSeen.set(undefined, o.devicesSeen());
      if (o.downloadsInFlight) this.inFlight.set(undefined, o.downloadsInFlight());
    });
    this.registry.beforeScrape(async () => {
      this.connections = await openConnections(ev);
    });
    this.process = registerProcessMetrics(this.registry);
  }

  /** Reads the device listeners' bounds at scrape time: refused connections, buffered and refused bodies. */
  watchFrontDoor(stats: () => { connectionsRefused: number; bodyBytesBuffered: number; bodiesRefused: number }): void {
    this.registry.beforeScrape(() => {
      const s = stats();
      this.bodyBytesBuffered.set(undefined, s.bodyBytesBuffered);
      // Counters only go up: add what was counted since the last scrape.
      this.connectionsRefused.inc(undefined, s.connectionsRefused - this.connectionsRefused.get());
      this.bodiesRefused.inc(undefined, s.bodiesRefused - this.bodiesRefused.get());
    });
  }

  render(): Promise<string> {
    return this.registry.render();
  }

  close(): void {
    this.detach();
    this.process.close();
  }
}
