/**
 * The shape of `otaflux.config.ts`. `defineConfig` only gives types; the loader checks the value
 * and says exactly what is wrong (file, key path, what was expected). These types are plain, with no
 * zod in them, so the SDK's declarations stand alone; schema-types.ts holds them to the schema
 * (schema.ts): `tsc` fails when they differ from what it accepts.
 */
import type { AuthenticatorPlugin, ExtractorPlugin, SourcePlugin, VerifierPlugin } from '../plugin.ts';
import type { LogFormat, LogLevel } from '../log.ts';
import type { DdiConfig } from '../protocols/ddi/config-types.ts';
import type { ArduinoConfig, RaucConfig } from '../protocols/config-types.ts';

/** How one device, or a group of devices matched by a `*` pattern, is served. */
export interface DeviceConfig {
  /** Where firmware comes from: `dir({ root })`, `oci({ url, prefix })`, or a plugin of yours. */
  source?: SourcePlugin;
  /** Who must have signed it: `cosign({ keys })`, or `none()`. Default: `none()`. */
  verifier?: VerifierPlugin;
  /** `'auto'` (default) sniffs gzip/zstd/tar; `'raw'` serves stored bytes; or a pinned chain `[gzip(), tar()]`. */
  extract?: 'auto' | 'raw' | ExtractorPlugin[];
  /**
   * Who may fetch it: `'none'` (anyone; logged as a warning), or authenticators, any of which may allow.
   * Unset: `'none'`, or, when a client CA is configured, `mtls({ instances: true })` (CN = device id or `<device>:<instance>`).
   */
  auth?: 'none' | AuthenticatorPlugin | AuthenticatorPlugin[];
  /** Whether prerelease versions (`2.0.0-rc.1`) may be served. Default false. */
  allowPrerelease?: boolean;
  /** Free-form options for plugins (e.g. the OCI layer title). */
  options?: Record<string, unknown>;
}

export interface TlsConfig {
  /** Listen address of the HTTPS listener, e.g. `0.0.0.0:8443`. */
  listenAddr?: string;
  cert: string;
  key: string;
  /** CA bundle that client certificates must chain to (turns on mutual TLS). */
  clientCa?: string;
  /** Reject clients without a certificate (default true when clientCa is set). */
  requireClientCert?: boolean;
  /** PEM CRL file honoured for client certificates. */
  crl?: string;
}

export interface OtaFluxConfig {
  server?: {
    /** Device API (plain HTTP); `false` turns it off when only HTTPS is wanted. Default `0.0.0.0:8080`. */
    listenAddr?: string | false;
    /** Prometheus `/metrics`. Default `0.0.0.0:9090`; `false` turns it off. */
    metricsListenAddr?: string | false;
    logLevel?: LogLevel;
    logFormat?: LogFormat;
    tls?: TlsConfig;
    /** Per-device series in `/metrics` (`otaflux_device_requests_total{device,route}`). Default false: a fleet of 10 000 devices makes 10 000 series. */
    metricsDeviceLabels?: boolean;
    /** Bearer token protecting the operator status API (`/api/*`). Unset: the status API is off. */
    adminToken?: string;
    /** Operator listener: dashboard, operator API and API docs. Default `127.0.0.1:8081`; `false` turns it off. */
    adminListenAddr?: string | false;
    /** Also serve the operator routes on the device port, as before the operator listener. Default false. */
    adminOnDevicePort?: boolean;
    /** People who sign in to the dashboard (or call the API) with their own token: `otaflux hash-token` makes the hash. */
    operators?: { name: string; role: 'viewer' | 'operator'; token: string }[];
    /** Largest firmware file the dashboard accepts for upload into a local folder source. Default 256 MiB. */
    uploadMaxBytes?: number;
    /** Shared secret Harbor sends in `Authorization` to `POST /webhooks/harbor`. Unset: the webhook is off. */
    webhookSecret?: string;
    /** Seconds a client has to send a whole request head, however slowly it trickles in (then 408 and close). Default 60. */
    headerTimeout?: number;
    /** Open device connections, HTTP and HTTPS together; more are closed as soon as they are accepted. Default 10 000. */
    maxConnections?: number;
    /** Processes serving the device ports on one port (README "Scale: workers and replicas"); `auto` is one per core. Default 1. */
    workers?: number | 'auto';
    /** Seconds a stopping server (SIGTERM) lets downloads in flight finish before it exits. Default 10. */
    drainTimeout?: number;
  };
  cache?: {
    /** Default `.otaflux-cache` beside the config file. */
    dir?: string;
    /** Disk bytes kept for firmware blobs (LRU). Default 2 GiB. */
    maxBytes?: number;
    /** Releases kept (the Rust server's `--cache-size`). Default 100. */
    maxEntries?: number;
    /** Hot images kept in memory. Default 64 MiB. */
    memoryBytes?: number;
    /** Seconds a device's latest version is reused before the source is asked again. Default 60. */
    refreshInterval?: number;
  };
  limits?: {
    /** Largest extracted image. Default 512 MiB. */
    maxOutputBytes?: number;
    /** Largest extracted/stored ratio (decompression bombs). Default 200. */
    maxRatio?: number;
  };
  /**
   * MQTT notifications, the `--mqtt-*` flags in a file; a flag wins over its key here.
   * Relative certificate paths resolve against the config file's folder.
   */
  mqtt?: {
    /** `mqtt://host:1883` or `mqtts://host:8883` (optionally `?client_id=…`). */
    url: string;
    /** Messages go to `{topic}/{device}`. Default `otaflux`. */
    topic?: string;
    username?: string;
    password?: string;
    caCertPath?: string;
    clientCertPath?: string;
    clientKeyPath?: string;
  };
  /** Extra extractors available to `'auto'` detection, besides the built-in gzip, zstd and tar. */
  extractors?: ExtractorPlugin[];
  /** Composition for devices that no entry of `devices` matches. Unset: such devices get 404. */
  defaults?: DeviceConfig;
  /** Per device id, or per pattern with `*` (`esp32-*`): the most specific match wins, then `defaults`. */
  devices?: Record<string, DeviceConfig>;
  /** Fleet control: state store, staged rollouts, pins, channels, labels (README "Fleet control"). */
  fleet?: FleetConfig;
  /** Device protocols of other OTA servers that OtaFlux also speaks (README "hawkBit DDI", "Device protocols"). */
  protocols?: { ddi?: DdiConfig; arduino?: ArduinoConfig; rauc?: RaucConfig };
}

/** A staged rollout of one version to the instances of some streams. */
export interface RolloutConfig {
  /** Stable id (config rollouts are created once, by id; later changes go through the operator API). */
  id: string;
  /** Stream ids or `*` patterns. */
  streams: string | string[];
  /** The version rolled out (semver). */
  version: string;
  /** SHA-256 of the served firmware, pinned; default: the first one seen for that version. */
  digest?: string;
  /** Only these instances / instances with these labels (default: every instance of the streams). */
  instances?: string[];
  labels?: string[];
  /** Instances that get it first, before any percentage step. */
  canary?: string[];
  /** Cumulative percentages, each with a minimum soak time in seconds. */
  steps: { percent: number; soak?: number }[];
  gates?: { successPercent?: number; minSample?: number; failurePercent?: number; maxDownloadsPerMinute?: number; timeout?: number };
  /** Bucket salt (default: the id). */
  salt?: string;
  /** Created paused. */
  paused?: boolean;
  /** Why (kept in the audit log). */
  reason?: string;
}

export interface FleetConfig {
  /** Fleet control on (default true). Off: every device gets the newest verified release, nothing is recorded. */
  enabled?: boolean;
  /** `postgres://user@host:port/db` for replicas (`--database-url`, `DATABASE_URL`); default `sqlite://<cache.dir>/fleet.sqlite`. */
  databaseUrl?: string;
  /** Record check-ins and outcomes (default true). */
  checkins?: boolean;
  /** Seconds between reloads of the decision state from the store and gate evaluations (default 2). */
  refreshInterval?: number;
  rollouts?: RolloutConfig[];
  /** Hold a stream, or some of its instances, on a version. */
  pins?: { id: string; stream: string; instances?: string[]; version: string; reason?: string }[];
  /** Channel → instances subscribed (`beta: ['mac:aa:bb:…']`): they may be offered that channel's prereleases. */
  channels?: Record<string, string[]>;
  /** Label → instances, for rollout selectors. */
  labels?: Record<string, string[]>;
}

/** Identity function that gives `otaflux.config.ts` its types. */
export function defineConfig(config: OtaFluxConfig): OtaFluxConfig {
  return config;
}
