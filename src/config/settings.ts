/**
 * Settings are the resolved configuration the server runs with. Resolution order, in one place:
 * command-line flags, then env vars (same names in UPPER_SNAKE), then `otaflux.config.ts`, then
 * built-in defaults. The Rust server's registry flags build the default composition
 * (`oci` source, `cosign` verifier when a key is given) so its deployments work unchanged.
 */
import { workerCount } from '../cluster/workers-option.ts';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { AuthenticatorPlugin, ExtractLimits, ExtractorPlugin, SourcePlugin, VerifierPlugin } from '../plugin.ts';
import type { DeviceConfig, OtaFluxConfig, TlsConfig } from './define.ts';
import type { FleetConfig } from '../fleet/spec.ts';
import { ddiSettings, type DdiSettings } from '../protocols/ddi/config.ts';
import { arduinoSettings, type ArduinoSettings } from '../protocols/arduino/config.ts';
import { raucSettings, type RaucSettings } from '../protocols/rauc/config.ts';
import type { FlagValues } from '../cli/flags.ts';
import { UsageError } from '../cli/flags.ts';
import { ConfigError, DEFAULT_CONFIG_FILE, loadConfigFile } from './load.ts';
import { Composer, type Composition, type CompositionRule } from '../core/composition.ts';
import type { ExtractSpec } from '../core/extract-chain.ts';
import { parseLogLevel, type LogFormat, type LogLevel } from '../log.ts';
import { dir } from '../plugins/source/dir.ts';
import { none } from '../plugins/verifier/none.ts';
import { raw } from '../plugins/extractor/raw.ts';
import { builtinExtractors } from '../plugins/extractor/builtin.ts';
import { authFromClientCa, sourceFromRegistryFlags, verifierFromKeyFlag } from './flag-plugins.ts';

export interface CacheSettings {
  dir: string;
  maxBytes: number;
  maxEntries: number;
  memoryBytes: number;
  refreshMs: number;
}

export interface MqttSettings {
  url: string;
  username?: string;
  password?: string;
  topic: string;
  caCertPath?: string;
  clientCertPath?: string;
  clientKeyPath?: string;
}

export interface Settings {
  /** The config file read, if any. */
  configFile?: string;
  /** Relative paths in the config resolve against this folder. */
  configDir: string;
  listenAddr: string | false;
  metricsListenAddr: string | false;
  logLevel: LogLevel;
  logFormat?: LogFormat;
  tls?: TlsConfig & { listenAddr: string };
  /** `otaflux_device_requests_total{device,route}`: one series per device, so off unless asked for. */
  metricsDeviceLabels: boolean;
  adminToken?: string;
  /** The operator listener, sign-in and upload (README "Dashboard"). */
  admin: AdminSettings;
  webhookSecret?: string;
  /** Repository prefix given by flag, for device-id length checks and webhooks. */
  repositoryPrefix: string;
  cache: CacheSettings;
  limits: ExtractLimits;
  /** Every extractor available to auto-detection. */
  extractors: ExtractorPlugin[];
  composer: Composer;
  mqtt?: MqttSettings;
  /** Devices with `auth: 'none'` (warned about at start-up). */
  unauthenticated: string[];
  /** Time a client has to send a whole request head (`--header-timeout`, seconds, in ms here). */
  headerTimeoutMs: number;
  /** Open device connections over the HTTP and HTTPS listeners (`--max-connections`). */
  maxConnections: number;
  /** Processes serving the device ports (`--workers N|auto`; src/cluster/). */
  workers: number;
  /** How long a stopping server lets downloads in flight finish (`--drain-timeout`). */
  drainTimeoutMs: number;
  /** Fleet control (README "Fleet control"); absent when `fleet.enabled` is false. */
  fleet?: FleetSettings;
  /** The hawkBit DDI front door (README "hawkBit DDI"); absent when `protocols.ddi` is not set. */
  ddi?: DdiSettings;
  /** Arduino HTTPUpdate: MAC → stream for update URLs without `device` (README "Device protocols"). */
  arduino?: ArduinoSettings;
  /** The RAUC simple server's manifest endpoints; absent when `protocols.rauc` is not set. */
  rauc?: RaucSettings;
}

export interface AdminSettings {
  /** Where the dashboard, the operator API and the API docs listen; false: nowhere but (maybe) the device port. */
  listenAddr: string | false;
  /** Operator routes also on the device port (the behaviour before the operator listener). */
  onDevicePort: boolean;
  /** Per-person tokens (hashes) with their roles. */
  operators: { name: string; role: 'viewer' | 'operator'; token: string }[];
  /** Largest upload into a local folder source, in bytes. */
  uploadMaxBytes: number;
}

export interface FleetSettings {
  /** `sqlite://FILE` (default beside the cache) or `postgres://…`. */
  databaseUrl: string;
  checkins: boolean;
  refreshMs: number;
  config: FleetConfig;
}

export const DEFAULTS = {
  listenAddr: '0.0.0.0:8080',
  metricsListenAddr: '0.0.0.0:9090',
  tlsListenAddr: '0.0.0.0:8443',
  cacheDir: '.otaflux-cache',
  cacheMaxBytes: 2 * 1024 ** 3,
  cacheEntries: 100,
  memoryBytes: 64 * 1024 ** 2,
  refreshSeconds: 60,
  maxOutputBytes: 512 * 1024 ** 2,
  maxRatio: 200,
  headerTimeoutSeconds: 60,
  maxConnections: 10_000,
  drainTimeoutSeconds: 10,
  adminListenAddr: '127.0.0.1:8081',
  uploadMaxBytes: 256 * 1024 ** 2,
} as const;

/** Resolves flags (already merged with env vars) and the config file into Settings. */
export async function resolveSettings(flags: FlagValues, cwd = process.cwd()): Promise<Settings> {
  const configFile = pickConfigFile(flags, cwd);
  const file: OtaFluxConfig = configFile ? await loadConfigFile(configFile) : {};
  const configDir = configFile ? dirname(configFile) : cwd;
  const str = (k: string) => (typeof flags[k] === 'string' ? (flags[k] as string) : undefined);
  const num = (k: string) => (typeof flags[k] === 'number' ? (flags[k] as number) : undefined);
  const bool = (k: string) => (typeof flags[k] === 'boolean' ? (flags[k] as boolean) : undefined);

  const logLevelGiven = str('log-level');
  const logLevel = logLevelGiven === undefined ? file.server?.logLevel ?? 'info' : parseLogLevel(logLevelGiven);
  if (logLevel === undefined) throw new UsageError(`--log-level ${logLevelGiven}: expected off, error, warn, info, debug or trace (any case), or 0 to 5`);
  const logFormat = str('log-format') ?? file.server?.logFormat;
  if (logFormat !== undefined && logFormat !== 'json' && logFormat !== 'text') throw new UsageError(`--log-format: expected json or text, got '${logFormat}'`);
  const cacheSize = num('cache-size') ?? file.cache?.maxEntries ?? DEFAULTS.cacheEntries;
  if (cacheSize === 0) throw new UsageError('--cache-size: must be at least 1');
  const headerTimeout = num('header-timeout') ?? file.server?.headerTimeout ?? DEFAULTS.headerTimeoutSeconds;
  if (headerTimeout === 0) throw new UsageError('--header-timeout: must be at least 1 second');
  const maxConnections = num('max-connections') ?? file.server?.maxConnections ?? DEFAULTS.maxConnections;
  if (maxConnections === 0) throw new UsageError('--max-connections: must be at least 1');

  // Flags and env vars overlay the config file's `defaults` key by key: --registry-url/--firmware-dir
  // set its source, --cosign-pub-key-path its verifier, --allow-prerelease its allowPrerelease.
  // Device entries are merged over that, so an entry that names its own source keeps it.
  const flagSource = await sourceFromRegistryFlags(flags) ?? (str('firmware-dir') ? dir({ root: resolve(cwd, str('firmware-dir') as string) }) : undefined);
  const flagVerifier = await verifierFromKeyFlag(flags, cwd);
  const flagPrerelease = bool('allow-prerelease');
  const overlay: DeviceConfig = { ...(flagSource ? { source: flagSource } : {}), ...(flagVerifier ? { verifier: flagVerifier } : {}), ...optional('allowPrerelease', flagPrerelease) };
  const defaults: DeviceConfig | undefined =
    file.defaults || flagSource ? { ...file.defaults, ...overlay } : flagPrerelease !== undefined ? overlay : undefined;
  if (!configFile && !flagSource) {
    throw new UsageError(`nothing to serve: no ${DEFAULT_CONFIG_FILE} here, and neither --registry-url nor --firmware-dir was given (see otaflux --help)`);
  }

  const shown = configFile ?? 'command line';
  const unauthenticated: string[] = [];
  // With a client CA, a device whose auth is not set is bound to its certificate (flag-plugins.ts).
  const clientCa = str('tls-client-ca') ?? file.server?.tls?.clientCa;
  const certificateAuth = clientCa !== undefined ? await authFromClientCa() : undefined;
  const compose = (key: string, d: DeviceConfig, where: string): Composition => {
    const merged: DeviceConfig = key === 'defaults' ? d : { ...defaults, ...d };
    if (!merged.source) throw new ConfigError(`${shown}: ${where}.source: expected a source plugin (no defaults.source to fall back on)`);
    const auth = merged.auth === undefined && certificateAuth ? [certificateAuth] : normaliseAuth(merged.auth);
    if (auth === 'none') unauthenticated.push(key);
    return {
      source: merged.source,
      verifier: (flagVerifier && key !== 'defaults' && !d.verifier ? flagVerifier : merged.verifier) ?? none(),
      extract: normaliseExtract(merged.extract),
      auth,
      allowPrerelease: merged.allowPrerelease ?? false,
      options: merged.options ?? {},
      matchedBy: key,
    };
  };
  const rules: CompositionRule[] = Object.entries(file.devices ?? {}).map(([pattern, d]) => ({ ...compose(pattern, d, `devices[${JSON.stringify(pattern)}]`), pattern }));
  const fallback = file.defaults || flagSource ? compose('defaults', defaults as DeviceConfig, 'defaults') : undefined;

  const listenAddr = listenAddrFlag('listen-addr', str('listen-addr')) ?? file.server?.listenAddr ?? DEFAULTS.listenAddr;
  const tlsCert = str('tls-cert') ?? file.server?.tls?.cert;
  const tlsKey = str('tls-key') ?? file.server?.tls?.key;
  if ((tlsCert === undefined) !== (tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together: give both or neither');
  if (clientCa !== undefined && tlsCert === undefined) throw new UsageError('--tls-client-ca needs --tls-cert and --tls-key: client certificates are only asked for over HTTPS');
  const tls = tlsCert && tlsKey
    ? {
        ...file.server?.tls,
        cert: resolve(configDir, tlsCert),
        key: resolve(configDir, tlsKey),
        ...(clientCa ? { clientCa: resolve(configDir, clientCa) } : {}),
        listenAddr: checkedAddr('tls-listen-addr', str('tls-listen-addr')) ?? file.server?.tls?.listenAddr ?? DEFAULTS.tlsListenAddr,
      }
    : undefined;
  if (listenAddr === false && !tls) {
    throw new UsageError('--listen-addr false turns off plain HTTP, and HTTPS is off too: devices could not connect; give a listen address, or --tls-cert and --tls-key');
  }
  checkSecretLength('admin-token', str('admin-token'), 16);
  checkSecretLength('webhook-secret', str('webhook-secret'), 8);

  // MQTT: flags win key by key over the config file's `mqtt` section.
  const fileMqtt = file.mqtt;
  const inConfigDir = (p: string | undefined) => (p === undefined ? undefined : resolve(configDir, p));
  const mqttUrl = str('mqtt-url') ?? fileMqtt?.url;
  const mqtt: MqttSettings | undefined = mqttUrl
    ? {
        url: mqttUrl,
        topic: str('mqtt-topic') ?? fileMqtt?.topic ?? 'otaflux',
        ...optional('username', str('mqtt-username') ?? fileMqtt?.username),
        ...optional('password', str('mqtt-password') ?? fileMqtt?.password),
        ...optional('caCertPath', str('mqtt-ca-cert-path') ?? inConfigDir(fileMqtt?.caCertPath)),
        ...optional('clientCertPath', str('mqtt-client-cert-path') ?? inConfigDir(fileMqtt?.clientCertPath)),
        ...optional('clientKeyPath', str('mqtt-client-key-path') ?? inConfigDir(fileMqtt?.clientKeyPath)),
      }
    : undefined;

  const cacheDir = resolve(str('cache-dir') ? cwd : configDir, str('cache-dir') ?? file.cache?.dir ?? DEFAULTS.cacheDir);
  const fleetFile: FleetConfig = file.fleet ?? {};
  const fleet: FleetSettings | undefined = fleetFile.enabled === false
    ? undefined
    : {
        databaseUrl: str('database-url') ?? fleetFile.databaseUrl ?? `sqlite://${resolve(cacheDir, 'fleet.sqlite')}`,
        checkins: fleetFile.checkins ?? true,
        refreshMs: (fleetFile.refreshInterval ?? 2) * 1000,
        config: fleetFile,
      };
  if (fleet && !/^(postgres(ql)?|sqlite):\/\//.test(fleet.databaseUrl)) throw new UsageError(`--database-url: expected postgres://user@host:port/db or sqlite://FILE, got '${fleet.databaseUrl.replace(/\/\/[^@/]*@/, '//…@')}'`);

  return {
    ...(configFile ? { configFile } : {}),
    configDir,
    listenAddr,
    metricsListenAddr: listenAddrFlag('metrics-listen-addr', str('metrics-listen-addr')) ?? file.server?.metricsListenAddr ?? DEFAULTS.metricsListenAddr,
    logLevel,
    ...(logFormat ? { logFormat } : {}),
    ...(tls ? { tls } : {}),
    metricsDeviceLabels: bool('metrics-device-labels') ?? file.server?.metricsDeviceLabels ?? false,
    ...optional('adminToken', str('admin-token') ?? file.server?.adminToken),
    admin: {
      listenAddr: listenAddrFlag('admin-listen-addr', str('admin-listen-addr')) ?? file.server?.adminListenAddr ?? DEFAULTS.adminListenAddr,
      onDevicePort: bool('admin-on-device-port') ?? file.server?.adminOnDevicePort ?? false,
      operators: file.server?.operators ?? [],
      uploadMaxBytes: file.server?.uploadMaxBytes ?? DEFAULTS.uploadMaxBytes,
    },
    ...optional('webhookSecret', str('webhook-secret') ?? file.server?.webhookSecret),
    repositoryPrefix: (str('repository-prefix') ?? '').replace(/\/$/, ''),
    cache: {
      dir: cacheDir,
      maxBytes: num('cache-max-bytes') ?? file.cache?.maxBytes ?? DEFAULTS.cacheMaxBytes,
      maxEntries: cacheSize,
      memoryBytes: file.cache?.memoryBytes ?? DEFAULTS.memoryBytes,
      refreshMs: (num('refresh-interval') ?? file.cache?.refreshInterval ?? DEFAULTS.refreshSeconds) * 1000,
    },
    limits: {
      maxOutputBytes: file.limits?.maxOutputBytes ?? DEFAULTS.maxOutputBytes,
      maxRatio: file.limits?.maxRatio ?? DEFAULTS.maxRatio,
    },
    extractors: [...builtinExtractors(), ...(file.extractors ?? [])],
    composer: new Composer(rules, fallback),
    ...(mqtt ? { mqtt } : {}),
    unauthenticated,
    headerTimeoutMs: headerTimeout * 1000,
    maxConnections,
    workers: workerCount(str('workers') ?? file.server?.workers),
    drainTimeoutMs: (num('drain-timeout') ?? file.server?.drainTimeout ?? DEFAULTS.drainTimeoutSeconds) * 1000,
    ...(fleet ? { fleet } : {}),
    ...(file.protocols?.ddi ? { ddi: ddiSettings(file.protocols.ddi) } : {}),
    ...(file.protocols?.arduino ? { arduino: arduinoSettings(file.protocols.arduino) } : {}),
    ...(file.protocols?.rauc ? { rauc: raucSettings(file.protocols.rauc) } : {}),
  };
}

function pickConfigFile(flags: FlagValues, cwd: string): string | undefined {
  const given = typeof flags.config === 'string' ? flags.config : undefined;
  if (given) return resolve(cwd, given);
  // The file in the working folder is read whatever flags are given: flags overlay it, never replace it.
  const here = resolve(cwd, DEFAULT_CONFIG_FILE);
  return existsSync(here) ? here : undefined;
}

const ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):(\d{1,5})$/;

/** A listen address given by flag or env var, checked as the config schema checks it; `false`/`off` turns the listener off. */
function listenAddrFlag(name: string, value: string | undefined): string | false | undefined {
  if (value !== undefined && /^(false|off)$/i.test(value)) return false;
  return checkedAddr(name, value);
}

function checkedAddr(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const m = ADDRESS.exec(value);
  if (!m || Number(m[2]) > 65535) {
    throw new UsageError(`--${name} ${value}: expected host:port with a port up to 65535, e.g. 0.0.0.0:8080 or [::]:8080${name === 'tls-listen-addr' ? '' : ', or false to turn it off'}`);
  }
  return value;
}

/** Secrets given by flag or env var meet the same minimum length as in the config file. */
function checkSecretLength(name: string, value: string | undefined, min: number): void {
  if (value !== undefined && value.length < min) {
    throw new UsageError(`--${name}: ${value.length} character${value.length === 1 ? '' : 's'} is too short to guess-proof it; use at least ${min}, e.g. the output of: openssl rand -hex 16`);
  }
}

function normaliseExtract(x: DeviceConfig['extract']): ExtractSpec {
  if (x === undefined || x === 'auto') return 'auto';
  if (x === 'raw') return [raw()];
  return x;
}

function normaliseAuth(a: DeviceConfig['auth']): 'none' | AuthenticatorPlugin[] {
  if (a === undefined || a === 'none') return 'none';
  return Array.isArray(a) ? a : [a];
}

function optional<K extends string, V>(key: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [key]: v }) as { [P in K]?: V };
}

export type { SourcePlugin, VerifierPlugin };
