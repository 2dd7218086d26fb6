/**
 * Command-line flags. The Rust server's flags keep their names and env vars (every flag has an env
 * var of the same name in UPPER_SNAKE); flags beat env vars, and both beat the config file.
 */

export type FlagType = 'string' | 'boolean' | 'int';

export interface FlagSpec {
  name: string;
  type: FlagType;
  group: 'Server' | 'Registry (OCI source)' | 'Local source' | 'Verification' | 'Cache' | 'TLS and device auth' | 'MQTT' | 'Operations';
  help: string;
  /** Env var; default: the flag name in UPPER_SNAKE. `null`: no env var. */
  env?: string | null;
  /** Shown in --help only. */
  default?: string;
  /** Hidden from logs and --help values. */
  secret?: boolean;
}

export const FLAGS: readonly FlagSpec[] = [
  { name: 'config', type: 'string', group: 'Server', help: 'Config file', env: 'OTAFLUX_CONFIG', default: './otaflux.config.ts if present' },
  { name: 'listen-addr', type: 'string', group: 'Server', help: 'Device API address (plain HTTP)', default: '0.0.0.0:8080' },
  { name: 'metrics-listen-addr', type: 'string', group: 'Server', help: 'Prometheus /metrics address', default: '0.0.0.0:9090' },
  { name: 'log-level', type: 'string', group: 'Server', help: 'off, error, warn, info, debug or trace', default: 'info' },
  { name: 'log-format', type: 'string', group: 'Server', help: 'json or text', default: 'text on a terminal, else json' },
  { name: 'header-timeout', type: 'int', group: 'Server', help: 'Seconds a client has to send a whole request head (then 408 and close)', default: '60' },
  { name: 'workers', type: 'string', group: 'Server', help: 'Processes serving the device ports (one per core: auto); they share the cache, the state store and one registry poll', default: '1' },
  { name: 'drain-timeout', type: 'int', group: 'Server', help: 'Seconds a stopping server (SIGTERM) lets downloads in flight finish, then exits', default: '10' },
  { name: 'max-connections', type: 'int', group: 'Server', help: 'Open device connections (HTTP and HTTPS together); more are closed at once', default: '10000' },
  { name: 'registry-url', type: 'string', group: 'Registry (OCI source)', help: 'Registry: host:port, https://host or http://host:port' },
  { name: 'repository-prefix', type: 'string', group: 'Registry (OCI source)', help: 'Repository of a device is {prefix}/{device}' },
  { name: 'registry-username', type: 'string', group: 'Registry (OCI source)', help: 'Registry user (omit for anonymous pulls)' },
  { name: 'registry-password', type: 'string', group: 'Registry (OCI source)', help: 'Registry password or token', secret: true },
  { name: 'registry-insecure', type: 'boolean', group: 'Registry (OCI source)', help: 'Plain HTTP to the registry' },
  { name: 'registry-ca-cert-path', type: 'string', group: 'Registry (OCI source)', help: 'CA bundle for a registry with a private certificate' },
  { name: 'firmware-dir', type: 'string', group: 'Local source', help: 'Serve DIR/<device>/<version>.bin (quick start, no registry)' },
  { name: 'cosign-pub-key-path', type: 'string', group: 'Verification', help: 'Cosign public key; when set, only signed firmware is served' },
  { name: 'allow-prerelease', type: 'boolean', group: 'Verification', help: 'Serve prereleases (1.2.0-rc.1) to devices of the default composition' },
  { name: 'cache-dir', type: 'string', group: 'Cache', help: 'Firmware cache folder', default: '.otaflux-cache' },
  { name: 'cache-size', type: 'int', group: 'Cache', help: 'Releases kept in the cache (entries)', default: '100' },
  { name: 'cache-max-bytes', type: 'int', group: 'Cache', help: 'Disk bytes kept for firmware', default: '2147483648' },
  { name: 'refresh-interval', type: 'int', group: 'Cache', help: 'Seconds a device\'s latest version is reused', default: '60' },
  { name: 'tls-listen-addr', type: 'string', group: 'TLS and device auth', help: 'HTTPS device API address', default: '0.0.0.0:8443' },
  { name: 'tls-cert', type: 'string', group: 'TLS and device auth', help: 'Server certificate (PEM); turns HTTPS on' },
  { name: 'tls-key', type: 'string', group: 'TLS and device auth', help: 'Server private key (PEM)' },
  { name: 'tls-client-ca', type: 'string', group: 'TLS and device auth', help: 'CA that client certificates must chain to (mutual TLS); a certificate fetches only the device its CN names (<device> or <device>:<instance>)' },
  { name: 'metrics-device-labels', type: 'boolean', group: 'Operations', help: 'Per-device series in /metrics (one per device, capped at 20 000)' },
  { name: 'admin-token', type: 'string', group: 'Operations', help: 'Bearer token for the status API (/api)', secret: true },
  { name: 'admin-listen-addr', type: 'string', group: 'Operations', help: 'Operator listener: dashboard, operator API, API docs (false: off)', default: '127.0.0.1:8081' },
  { name: 'admin-on-device-port', type: 'boolean', group: 'Operations', help: 'Also serve the operator routes on the device port (as before the operator listener)' },
  { name: 'webhook-secret', type: 'string', group: 'Operations', help: 'Secret Harbor sends to POST /webhooks/harbor', secret: true },
  { name: 'database-url', type: 'string', group: 'Operations', help: 'Fleet state store: postgres://user@host:port/db (replicas share it)', default: 'sqlite://<cache-dir>/fleet.sqlite', secret: true },
  { name: 'server', type: 'string', group: 'Operations', help: 'Running OtaFlux for rollout/device commands (operator API base URL)', env: 'OTAFLUX_SERVER', default: 'http://127.0.0.1:8081' },
  { name: 'instance', type: 'string', group: 'Operations', help: 'inspect, device: the instance to explain (cert:…, mac:…, addr:…, or the instance= value)', env: null },
  { name: 'mqtt-url', type: 'string', group: 'MQTT', help: 'Broker, e.g. mqtt://host:1883 or mqtts://host:8883' },
  { name: 'mqtt-username', type: 'string', group: 'MQTT', help: 'Broker user' },
  { name: 'mqtt-password', type: 'string', group: 'MQTT', help: 'Broker password', secret: true },
  { name: 'mqtt-topic', type: 'string', group: 'MQTT', help: 'Topic prefix: messages go to {topic}/{device}' },
  { name: 'mqtt-ca-cert-path', type: 'string', group: 'MQTT', help: 'CA of the broker' },
  { name: 'mqtt-client-cert-path', type: 'string', group: 'MQTT', help: 'Client certificate for the broker' },
  { name: 'mqtt-client-key-path', type: 'string', group: 'MQTT', help: 'Client key for the broker' },
];

export type FlagValues = Partial<Record<string, string | boolean | number>>;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function envName(f: FlagSpec): string | null {
  return f.env === null ? null : (f.env ?? f.name.toUpperCase().replaceAll('-', '_'));
}

const BY_NAME = new Map(FLAGS.map((f) => [f.name, f]));

/** Parses `--flag value`, `--flag=value` and boolean `--flag`; returns flag values and positional words. */
export function parseArgs(argv: readonly string[], extra: readonly string[] = ['help', 'version', 'h', 'V']): { flags: FlagValues; positional: string[] } {
  const flags: FlagValues = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') { positional.push(...argv.slice(i + 1)); break; }
    if (!arg.startsWith('-') || arg === '-') { positional.push(arg); continue; }
    const [rawName, inline] = arg.replace(/^--?/, '').split(/=(.*)/s, 2) as [string, string | undefined];
    if (extra.includes(rawName)) { flags[rawName] = true; continue; }
    const spec = BY_NAME.get(rawName);
    if (!spec) throw new UsageError(`unknown flag --${rawName}${suggest(rawName)}; see otaflux --help`);
    if (spec.type === 'boolean') {
      flags[spec.name] = inline === undefined ? true : parseBool(spec.name, inline);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || (inline === undefined && value.startsWith('--'))) throw new UsageError(`--${spec.name} needs a value`);
    flags[spec.name] = spec.type === 'int' ? parseIntStrict(`--${spec.name}`, value) : value;
  }
  return { flags, positional };
}

/** Flag values from env vars, for the flags not given on the command line. */
export function fromEnv(env: Record<string, string | undefined>, given: FlagValues): FlagValues {
  const out: FlagValues = { ...given };
  for (const f of FLAGS) {
    const name = envName(f);
    const raw = name ? env[name] : undefined;
    if (out[f.name] !== undefined || raw === undefined || raw === '') continue;
    out[f.name] = f.type === 'boolean' ? parseBool(name as string, raw) : f.type === 'int' ? parseIntStrict(name as string, raw) : raw;
  }
  return out;
}

function parseBool(what: string, v: string): boolean {
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new UsageError(`${what}: expected true or false, got '${v}'`);
}

function parseIntStrict(what: string, v: string): number {
  // A leading '+' is accepted, as Rust's integer parsing (the Rust server's --cache-size) does.
  if (!/^\+?\d+$/.test(v)) throw new UsageError(`${what}: expected a whole number, got '${v}'`);
  return Number(v);
}

function suggest(name: string): string {
  const close = FLAGS.find((f) => f.name.includes(name) || name.includes(f.name) || levenshtein(f.name, name) <= 2);
  return close ? ` (did you mean --${close.name}?)` : '';
}

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)] as number[]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[], prev = d[i - 1] as number[];
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  return (d[a.length] as number[])[b.length] as number;
}
