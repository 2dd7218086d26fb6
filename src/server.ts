/**
 * Starts OtaFlux: the runtime, the Elysia app, and the listeners (device API over HTTP).
 * Returns the bound addresses and a `close()` that drains and stops everything.
 */
import type { Logger } from './plugin.ts';
import type { Settings } from './config/settings.ts';
import type { Release } from './core/release.ts';
import { startRuntime, type Runtime } from './runtime.ts';
import { createApp } from './http/app.ts';
import { parseListenAddr } from './http/listen.ts';
import { startRawListener, type ListenerDeps, type RawListener } from './http/raw-listener.ts';
import { protocolDeps } from './protocols/protocol-deps.ts';
import { MANIFEST_ROUTES } from './protocols/rauc/manifest.ts';
import { HttpsListener } from './http/tls/https-listener.ts';
import { DEFAULT_LIMITS, FrontDoor } from './http/front-door.ts';
import { join } from 'node:path';
import { MqttPublisher } from './notify/mqtt-publisher.ts';
import { startOps, type Ops } from './ops/start-ops.ts';
import { StartupError } from './cli/errors.ts';
import { loadTlsMaterial } from './http/tls/tls-material.ts';
import type { TlsConfig } from './config/define.ts';
import { registerFleetMetrics } from './fleet/metrics.ts';
import { startAdminListener } from './http/admin-listener.ts';
import { OperatorCredentials } from './http/admin-auth.ts';
import { startClusterNode, type ClusterNode } from './cluster/node.ts';
import { LeaderNotices } from './cluster/leader-notices.ts';
import { freshReleaseEvents } from './cluster/fresh-release-events.ts';
import { announceMissing } from './cluster/retained-notices.ts';

export interface RunningServer {
  runtime: Runtime;
  /** Bound ports by listener name (`http`, `https`, `metrics`, `admin`). */
  ports: Record<string, number>;
  /** MQTT notifications, when `--mqtt-url` is set and this process leads (src/cluster/). */
  readonly mqtt?: MqttPublisher;
  /** Workers and replicas: leadership, shared lookups. */
  cluster: ClusterNode;
  close(): Promise<void>;
}

export async function startServer(settings: Settings, logger: Logger): Promise<RunningServer> {
  // Workers and replicas (src/cluster/): who leads, lookups shared over IPC, SO_REUSEPORT.
  const cluster = await startClusterNode(settings, logger);
  let runtime: Runtime;
  try {
    runtime = await startRuntime(settings, logger, { ...(cluster.shared ? { shared: cluster.shared } : {}), leads: () => cluster.leadership.leads() });
    await cluster.attach(runtime);
  } catch (e) {
    await cluster.close();
    throw e;
  }
  const listeners: Pick<RawListener, 'close'>[] = [];
  const ports: Record<string, number> = {};
  let mqtt: LeaderNotices | undefined;
  let ops: Ops | undefined;
  try {
    // MQTT notifications (from the leader only): started before the listeners, so the first release found is published.
    const fleet = runtime.fleet;
    const mqttSettings = settings.mqtt;
    if (mqttSettings) {
      // Replicas: a change reaches the publisher after the decision state was read again (rollouts made
      // elsewhere) and the lead confirmed; a new leader announces what the broker was not told of.
      const fresh = fleet && cluster.replicated
        ? freshReleaseEvents(runtime.events, { reloadState: () => fleet.refresh(), confirmLead: () => cluster.leadership.confirm() })
        : undefined;
      const catchUp = fresh ? () => announceMissing(mqttSettings, () => runtime.resolver.snapshot(), (e) => fresh.announce(e), logger) : undefined;
      mqtt = new LeaderNotices(cluster.leadership, () => MqttPublisher.start({
        settings: mqttSettings, events: fresh?.events ?? runtime.events, ledgerDir: join(settings.cache.dir, 'notify', 'mqtt'), logger,
        // Fleet control: a release under a staged rollout is announced once the rollout reaches 100 %.
        ...(fleet ? { hold: (device: string, release: Release) => fleet.holdsNotice(device, release) } : {}),
      }), logger, catchUp);
      await mqtt.begin();
      const notices = mqtt;
      fleet?.onStateChange(() => notices.current?.releaseHeld());
    }
    const app = createApp(runtime, { operatorRoutes: settings.admin.onDevicePort });
    // Operations: request log, metrics listener, downloads in flight.
    ops = await startOps(runtime, [...app.routes.map((r) => r.path), ...MANIFEST_ROUTES]);
    if (ops.metricsPort !== undefined) ports.metrics = ops.metricsPort;
    // One connection cap and one request-body budget for the HTTP and HTTPS listeners together.
    const frontDoor = new FrontDoor({ ...DEFAULT_LIMITS, headerTimeoutMs: settings.headerTimeoutMs, maxConnections: settings.maxConnections }, logger);
    ops.metrics.watchFrontDoor(() => frontDoor.stats());
    if (runtime.fleet) registerFleetMetrics(ops.metrics.registry, runtime.fleet);
    const deps: ListenerDeps = {
      devices: runtime.devices, bodies: runtime.bodies, events: runtime.events, logger,
      fallback: (request) => app.handle(request),
      // Arduino HTTPUpdate, ESP-IDF and RAUC on /firmware (README "Device protocols").
      protocols: protocolDeps(runtime),
      frontDoor,
      docsAssets: settings.admin.onDevicePort,
    };
    if (settings.listenAddr !== false) {
      // Plain HTTP on the Bun.listen device listener (src/http/raw-listener.ts: it accepts the ESP32's
      // leading CRLF, which Bun.serve refuses, and beats node:http several times; bench/README.md).
      const raw = await startRawListener(deps, settings.listenAddr, { reusePort: cluster.reusePort });
      listeners.push(raw);
      ports.http = raw.port;
      logger.info('device API listening', { url: `http://${displayHost(settings.listenAddr)}:${ports.http}` });
    }
    if (settings.tls) {
      // HTTPS, with mutual TLS when a client CA is set: src/http/tls/https-listener.ts.
      checkTlsFiles(settings.tls, settings.configDir);
      const https = await HttpsListener.start({ tls: settings.tls, configDir: settings.configDir, deps, logger, reusePort: cluster.reusePort });
      listeners.push(https);
      ports.https = https.port;
      logger.info('device API listening', { url: `https://${displayHost(settings.tls.listenAddr)}:${ports.https}`, clientCertificates: settings.tls.clientCa ? (settings.tls.requireClientCert === false ? 'optional' : 'required') : 'off' });
    }
    // The operator listener: only when someone can sign in (an admin token or operators).
    if (settings.admin.listenAddr !== false && new OperatorCredentials(settings.adminToken, settings.admin.operators).configured) {
      const operatorApp = createApp(runtime, { operatorRoutes: true });
      const admin = startAdminListener({
        addr: settings.admin.listenAddr, handle: (request) => operatorApp.handle(request), logger, maxBodyBytes: settings.admin.uploadMaxBytes,
        ...(settings.tls ? { tls: { cert: settings.tls.cert, key: settings.tls.key } } : {}),
      });
      listeners.push({ close: () => admin.close() });
      ports.admin = admin.port;
      logger.info('operator listener (dashboard, operator API, docs) listening', { url: admin.url });
    }
  } catch (e) {
    await ops?.close();
    await Promise.all(listeners.map((l) => l.close(0)));
    await mqtt?.close();
    await runtime.close();
    await cluster.close();
    throw e;
  }
  const notices = mqtt;
  return {
    runtime,
    ports,
    cluster,
    get mqtt() {
      return notices?.current;
    },
    async close() {
      // Graceful drain: listeners stop accepting; downloads in flight get up to `--drain-timeout`.
      await Promise.all(listeners.map((l) => l.close(settings.drainTimeoutMs)));
      await ops?.close();
      await notices?.close();
      await runtime.close();
      await cluster.close();
    },
  };
}

/**
 * Reads the HTTPS certificate, key, client CA and CRL as the listener will, so a missing or
 * mismatched file stops start-up (and `check-config`) with one line naming the settings.
 */
export function checkTlsFiles(tls: TlsConfig, configDir: string): void {
  try {
    loadTlsMaterial(tls, configDir);
  } catch (e) {
    throw new StartupError(`${e instanceof Error ? e.message : String(e)}; check --tls-cert, --tls-key, --tls-client-ca (server.tls)`);
  }
}

function displayHost(addr: string): string {
  const { host } = parseListenAddr(addr);
  return host.includes(':') ? `[${host}]` : host;
}
