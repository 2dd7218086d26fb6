/**
 * OtaFlux as a real process for cluster tests: `bun src/main.ts serve …` in a temp working folder
 * (so the checkout's otaflux.config.ts is not read), JSON logs collected from stderr.
 */
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Subprocess } from 'bun';
import { tempDir } from '../support/tmp.ts';
import type { TestRegistry } from '../support/registry.ts';

const MAIN = join(import.meta.dir, '../../src/main.ts');
const running = new Set<Subprocess>();
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

export type LogLine = Record<string, unknown> & { msg?: string; worker?: number };

export interface OtaFluxProcess {
  proc: Subprocess<'ignore', 'inherit', 'pipe'>;
  pid: number;
  lines: LogLine[];
  /** Resolves with the first log line (from now on or already seen) that `pred` accepts. */
  waitFor(pred: (l: LogLine) => boolean, timeoutMs?: number, what?: string): Promise<LogLine>;
  count(pred: (l: LogLine) => boolean): number;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

export function startOtaFlux(args: string[], env: Record<string, string> = {}): OtaFluxProcess {
  const proc = Bun.spawn(['bun', MAIN, 'serve', '--log-format', 'json', '--log-level', 'debug', ...args], {
    cwd: tempDir('otaflux-cwd-'),
    env: { ...process.env, ...env },
    stdin: 'ignore',
    stdout: 'inherit',
    // The logger writes to stderr.
    stderr: 'pipe',
  });
  running.add(proc);
  void proc.exited.then(() => running.delete(proc));
  const lines: LogLine[] = [];
  void (async () => {
    let rest = '';
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) {
      rest += decoder.decode(chunk, { stream: true });
      const parts = rest.split('\n');
      rest = parts.pop() ?? '';
      for (const p of parts) {
        try {
          lines.push(JSON.parse(p) as LogLine);
        } catch {
          lines.push({ msg: p });
        }
      }
    }
  })();
  return {
    proc,
    pid: proc.pid,
    lines,
    async waitFor(pred, timeoutMs = 30_000, what = 'a log line') {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const hit = lines.find(pred);
        if (hit) return hit;
        if (Date.now() > until) throw new Error(`no ${what} within ${timeoutMs} ms; last lines:\n${lines.slice(-15).map((l) => JSON.stringify(l)).join('\n')}`);
        if (proc.exitCode !== null) throw new Error(`process exited (${proc.exitCode}) before ${what}; last lines:\n${lines.slice(-15).map((l) => JSON.stringify(l)).join('\n')}`);
        await Bun.sleep(20);
      }
    },
    count: (pred) => lines.filter(pred).length,
    async stop(signal = 'SIGTERM') {
      proc.kill(signal);
      return proc.exited;
    },
  };
}

/** Requests in the registry's access log whose line includes `needle`, after every earlier request is logged. */
export async function registryRequests(reg: TestRegistry, needle: string): Promise<number> {
  const mark = `/v2/?sentinel=${randomUUID()}`;
  await fetch(`${reg.url}${mark}`).then((r) => r.arrayBuffer(), () => undefined);
  for (let i = 0; i < 200 && !reg.accessLog().some((l) => l.includes(mark)); i++) await Bun.sleep(10);
  return reg.accessLog().filter((l) => l.includes(needle)).length;
}

/** A `/version` poll on a connection of its own (so the kernel may hand it to any worker). */
export async function pollFresh(port: number, device: string, instance?: string): Promise<{ status: number; body: string }> {
  const q = `device=${device}${instance ? `&instance=${encodeURIComponent(instance)}` : ''}`;
  const res = await fetch(`http://127.0.0.1:${port}/version?${q}`, { headers: { connection: 'close' }, keepalive: false });
  return { status: res.status, body: await res.text() };
}

/** Harbor's PUSH_ARTIFACT notice for `fw/<name>`, sent to one process: the webhook's status. */
export async function harborPush(url: string, secret: string, name: string): Promise<number> {
  const r = await fetch(`${url}/webhooks/harbor`, {
    method: 'POST',
    headers: { authorization: secret, 'content-type': 'application/json', connection: 'close' },
    body: JSON.stringify({ type: 'PUSH_ARTIFACT', event_data: { repository: { name, namespace: 'fw', repo_full_name: `fw/${name}` } } }),
  });
  await r.text();
  return r.status;
}
