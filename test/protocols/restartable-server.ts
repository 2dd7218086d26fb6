/**
 * OtaFlux (src/main.ts) as a child process that can be stopped and started again on the same cache
 * folder and config file, as an operator restarts it after editing the config: a real restart, with
 * nothing kept in memory from the run before.
 *
 *   const s = restartableServer(configPath);
 *   await s.start();             // waits for /health
 *   await fetch(`${s.url}/version?device=x`);
 *   await s.restart();           // SIGTERM, wait for exit, start again (same cache, same config path)
 *   await s.stop();
 */
import { join } from 'node:path';
import { freePort } from '../support/ports.ts';
import { tempDir } from '../support/tmp.ts';

const MAIN = join(import.meta.dir, '../../src/main.ts');

export interface RestartableServer {
  /** The device port's base URL of the current run. */
  url: string;
  /** The metrics port of the current run. */
  metricsPort: number;
  cacheDir: string;
  /** The JSON log lines of every run so far. */
  logs(): string[];
  start(): Promise<void>;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

export function restartableServer(config: string): RestartableServer {
  const cacheDir = tempDir('otaflux-restart-cache-');
  const cwd = tempDir('otaflux-restart-cwd-');
  let child: ReturnType<typeof Bun.spawn> | undefined;
  let log = '';
  const s: RestartableServer = {
    url: '',
    metricsPort: 0,
    cacheDir,
    logs: () => log.split('\n').filter(Boolean),
    async start() {
      const port = await freePort();
      s.metricsPort = await freePort();
      const args = ['--config', config, '--listen-addr', `127.0.0.1:${port}`, '--metrics-listen-addr', `127.0.0.1:${s.metricsPort}`, '--admin-listen-addr', '127.0.0.1:0', '--cache-dir', cacheDir, '--log-format', 'json', '--log-level', 'info'];
      const c = Bun.spawn([process.execPath, MAIN, ...args], { cwd, stdout: 'ignore', stderr: 'pipe' });
      child = c;
      void (async () => {
        const dec = new TextDecoder();
        for await (const chunk of c.stderr as ReadableStream<Uint8Array>) log = (log + dec.decode(chunk)).slice(-200_000);
      })();
      s.url = `http://127.0.0.1:${port}`;
      for (let i = 0; i < 300; i++) {
        if (c.exitCode !== null) break;
        if (await fetch(`${s.url}/health`).then((r) => r.ok, () => false)) return;
        await Bun.sleep(100);
      }
      c.kill();
      throw new Error(`otaflux did not start: ${log.slice(-2000)}`);
    },
    async stop() {
      if (!child) return;
      child.kill('SIGTERM');
      await child.exited;
      child = undefined;
    },
    async restart() {
      await s.stop();
      await s.start();
    },
  };
  return s;
}
