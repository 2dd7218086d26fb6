/**
 * Starts OtaFlux in this process for a test, on 127.0.0.1 with free ports and a temp cache, from
 * flags (as the CLI would get them) and/or a config file. Returns its base URL and a `close()`.
 *
 *   const s = await startTestServer({ flags: { 'firmware-dir': dir } });
 *   await fetch(`${s.url}/version?device=esp32-demo`);
 *   await s.close();
 */
import { resolveSettings, type Settings } from '../../src/config/settings.ts';
import { createLogger, type LogFormat, type LogLevel } from '../../src/log.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import type { FlagValues } from '../../src/cli/flags.ts';
import { tempDir } from './tmp.ts';

export interface TestServer extends RunningServer {
  url: string;
  /** The operator listener (dashboard, operator API, docs), when operator credentials are configured. */
  adminUrl?: string;
  settings: Settings;
  /** Log lines written so far (JSON). */
  logs: string[];
}

export async function startTestServer(opts: { flags?: FlagValues; config?: string; cwd?: string; edit?: (s: Settings) => void; logFormat?: LogFormat; logLevel?: LogLevel } = {}): Promise<TestServer> {
  const flags: FlagValues = {
    'listen-addr': '127.0.0.1:0',
    'metrics-listen-addr': '127.0.0.1:0',
    'cache-dir': tempDir('otaflux-cache-'),
    'admin-listen-addr': '127.0.0.1:0',
    // Tests written before the operator listener reach the operator routes on the device port, through
    // the compatibility switch; test/dashboard/ checks the listener itself with this set to false.
    'admin-on-device-port': true,
    ...(opts.config ? { config: opts.config } : {}),
    ...opts.flags,
  };
  // A working folder of its own unless one is given: an otaflux.config.ts there is read whatever the
  // flags (they overlay it), so the checkout's own file must not become part of every test.
  const settings = await resolveSettings(flags, opts.cwd ?? tempDir('otaflux-cwd-'));
  opts.edit?.(settings);
  const logs: string[] = [];
  const logger = createLogger({ level: opts.logLevel ?? 'debug', format: opts.logFormat ?? 'json', sink: { write: (l) => void logs.push(l) } });
  const running = await startServer(settings, logger);
  const adminUrl = running.ports.admin === undefined ? undefined : `${settings.tls ? 'https' : 'http'}://127.0.0.1:${running.ports.admin}`;
  return { ...running, url: `http://127.0.0.1:${running.ports.http}`, ...(adminUrl ? { adminUrl } : {}), settings, logs };
}
