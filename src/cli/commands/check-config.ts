/**
 * `otaflux check-config`: runs every check `serve` runs before it listens (flags and env vars, the
 * config file, TLS and MQTT files, the cache folder, each plugin's setup and validate, the app's
 * routes), prints each device composition, and exits: 0 when `serve` would start, 2 with the reason
 * when it would not. No listener is opened and no device is polled.
 */
import type { FlagValues } from '../flags.ts';
import { fail } from '../errors.ts';
import { resolveSettings, type Settings } from '../../config/settings.ts';
import { createLogger, type LogLevel } from '../../log.ts';
import { startRuntime } from '../../runtime.ts';
import { checkTlsFiles } from '../../server.ts';
import { brokerOptions } from '../../notify/mqtt-options.ts';
import { createApp } from '../../http/app.ts';

export const checkConfigCommand = {
  name: 'check-config',
  usage: 'check-config [--config PATH]',
  help: 'Run every start-up check (plugins included) without listening, then exit',
  run: checkConfig,
};

async function checkConfig(flags: FlagValues): Promise<number> {
  let settings: Settings;
  try {
    settings = await resolveSettings(flags);
    if (settings.tls) checkTlsFiles(settings.tls, settings.configDir);
    if (settings.mqtt) brokerOptions(settings.mqtt);
    // Only errors: the compositions printed below already show what serve would warn about (auth none).
    const level: LogLevel = settings.logLevel === 'off' ? 'off' : 'error';
    const runtime = await startRuntime(settings, createLogger({ level, format: settings.logFormat ?? 'text' }));
    try {
      createApp(runtime);
    } finally {
      await runtime.close();
    }
  } catch (e) {
    // Whatever stops `serve` is a configuration error here.
    fail(e);
    return 2;
  }
  process.stdout.write(`${settings.configFile ?? 'no config file (flags and env vars)'}: ok\n`);
  for (const c of settings.composer.all()) {
    const auth = c.auth === 'none' ? 'none' : c.auth.map((a) => a.id).join('+');
    const extract = c.extract === 'auto' ? 'auto' : c.extract.map((x) => x.id).join(' → ');
    process.stdout.write(`  ${c.matchedBy}: ${c.source.id}, ${c.verifier.id}, extract ${extract}, auth ${auth}${c.allowPrerelease ? ', prereleases' : ''}\n`);
  }
  return 0;
}
