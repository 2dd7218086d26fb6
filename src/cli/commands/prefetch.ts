/**
 * `otaflux prefetch [device…]`: warms the cache for every device named in the config (or the ones
 * given), so the first poll after a deploy is served from disk. Shows a progress bar on a terminal
 * and one line per device otherwise. Exit 0 when every device has a release, 1 otherwise.
 */
import { UsageError, type FlagValues } from '../flags.ts';
import { resolveSettings } from '../../config/settings.ts';
import { createLogger } from '../../log.ts';
import { startRuntime } from '../../runtime.ts';
import { errorMessage } from '../../core/errors.ts';
import { progressBar } from './progress.ts';

/** Devices fetched at the same time. */
const CONCURRENCY = 4;

export const prefetchCommand = {
  name: 'prefetch',
  usage: 'prefetch [device...] [flags]',
  help: 'Download, verify and cache the latest firmware of every named device',
  run: prefetch,
};

async function prefetch(flags: FlagValues, args: string[]): Promise<number> {
  const settings = await resolveSettings(flags);
  const devices = args.length ? args : settings.composer.namedDevices();
  if (devices.length === 0) {
    throw new UsageError('prefetch: the config names no device (patterns and defaults cannot be listed): name devices, e.g. otaflux prefetch esp32-a esp32-b');
  }
  const logger = createLogger({ level: typeof flags['log-level'] === 'string' ? settings.logLevel : 'error', ...(settings.logFormat ? { format: settings.logFormat } : {}) });
  const rt = await startRuntime(settings, logger);
  const tty = Boolean(process.stderr.isTTY);
  const bar = tty ? progressBar(devices.length, process.stderr) : undefined;
  const say = (line: string) => (bar ? bar.log(line) : process.stdout.write(`${line}\n`));
  let failed = 0;
  let bytes = 0;
  const started = performance.now();
  try {
    const queue = [...devices];
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        try {
          const r = await rt.devices.refresh(id);
          bytes += r.size;
          say(`ok     ${id} ${r.version} (${r.size} bytes, sha256 ${r.sha256.slice(0, 12)}…)`);
        } catch (e) {
          failed++;
          say(`failed ${id}: ${errorMessage(e)}`);
        }
        bar?.tick(id);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, devices.length) }, worker));
  } finally {
    bar?.done();
    await rt.close();
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  say(`${devices.length - failed} of ${devices.length} devices cached (${bytes} bytes) in ${seconds} s`);
  return failed === 0 ? 0 : 1;
}
