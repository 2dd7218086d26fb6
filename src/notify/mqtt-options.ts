/**
 * Turns the `--mqtt-*` settings into mqtt.js client options. The URL is the Rust server's format,
 * `mqtt[s]://[user:password@]host[:port][?client_id=id]`; `--mqtt-username`/`--mqtt-password`
 * beat credentials in the URL. As in the Rust server, giving a CA or a client certificate turns
 * TLS on even with an `mqtt://` URL. Certificate files are read once, here, so a wrong path stops
 * start-up with a message naming the flag.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { IClientOptions } from 'mqtt';
import type { MqttSettings } from '../config/settings.ts';
import { UsageError } from '../cli/flags.ts';

const PLAIN = new Set(['mqtt:', 'tcp:']);
const SECURE = new Set(['mqtts:', 'ssl:', 'tls:']);

export interface BrokerOptions {
  /** Options for `mqtt.connect` (reconnects are driven by the publisher, so `reconnectPeriod` is 0). */
  client: IClientOptions;
  /** The broker without credentials, safe to log: `mqtts://broker:8883`. */
  display: string;
}

export function brokerOptions(s: MqttSettings, readFile: (path: string) => Buffer = readFileSync): BrokerOptions {
  let url: URL;
  try {
    url = new URL(s.url);
  } catch {
    throw new UsageError('--mqtt-url: expected mqtt://host:port or mqtts://host:port');
  }
  const certGiven = Boolean(s.caCertPath || s.clientCertPath || s.clientKeyPath);
  if (!PLAIN.has(url.protocol) && !SECURE.has(url.protocol)) {
    throw new UsageError(`--mqtt-url: unsupported scheme '${url.protocol.replace(/:$/, '')}', expected mqtt:// or mqtts://`);
  }
  if (url.hostname === '') throw new UsageError('--mqtt-url: missing host, expected mqtt://host:port');
  if ((s.clientCertPath === undefined) !== (s.clientKeyPath === undefined)) {
    throw new UsageError('--mqtt-client-cert-path and --mqtt-client-key-path go together: give both or neither');
  }
  const tls = SECURE.has(url.protocol) || certGiven;
  const port = url.port ? Number(url.port) : tls ? 8883 : 1883;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const username = s.username ?? (url.username ? decodeURIComponent(url.username) : undefined);
  const password = s.password ?? (url.password ? decodeURIComponent(url.password) : undefined);
  const read = (flag: string, path: string) => {
    try {
      return readFile(path);
    } catch (e) {
      throw new UsageError(`${flag}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };
  const client: IClientOptions = {
    protocol: tls ? 'mqtts' : 'mqtt',
    host,
    port,
    clientId: url.searchParams.get('client_id') || `otaflux-${hostname()}-${randomBytes(3).toString('hex')}`,
    protocolVersion: 4,
    clean: true,
    keepalive: 30,
    connectTimeout: 10_000,
    reconnectPeriod: 0,
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(tls
      ? {
          rejectUnauthorized: true,
          ...(s.caCertPath ? { ca: read('--mqtt-ca-cert-path', s.caCertPath) } : {}),
          ...(s.clientCertPath ? { cert: read('--mqtt-client-cert-path', s.clientCertPath) } : {}),
          ...(s.clientKeyPath ? { key: read('--mqtt-client-key-path', s.clientKeyPath) } : {}),
        }
      : {}),
  };
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { client, display: `${tls ? 'mqtts' : 'mqtt'}://${shownHost}:${port}` };
}
