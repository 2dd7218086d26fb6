/**
 * A flood of polls for distinct device ids, for the memory-bound tests and the RSS measurement:
 * a few keep-alive connections to 127.0.0.1, each writing its requests pipelined in batches and
 * reading every answer before the next batch. Also: the server as a child process and its RSS.
 */
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../support/ports.ts';
import { tempDir } from '../support/tmp.ts';

const MAIN = join(import.meta.dir, '../../src/main.ts');

export interface FloodResult { sent: number; statuses: Record<number, number>; ms: number }

/** Sends `total` `/version` polls for `idOf(i)` over `connections` keep-alive sockets. */
export async function flood(port: number, total: number, idOf: (i: number) => string, opts: { connections?: number; batch?: number; deadlineMs?: number } = {}): Promise<FloodResult> {
  const connections = opts.connections ?? 4;
  const batch = opts.batch ?? 50;
  const deadline = Date.now() + (opts.deadlineMs ?? 120_000);
  const statuses: Record<number, number> = {};
  const started = performance.now();
  let next = 0;
  let sent = 0;
  const worker = async () => {
    const s = await open(port);
    const reader = responses(s);
    try {
      while (next < total && Date.now() < deadline) {
        const from = next;
        const to = Math.min(total, from + batch);
        next = to;
        let out = '';
        for (let i = from; i < to; i++) out += `GET /version?device=${idOf(i)} HTTP/1.1\r\nHost: flood\r\n\r\n`;
        s.write(out);
        sent += to - from;
        for (let i = from; i < to; i++) {
          const status = await reader.next();
          statuses[status] = (statuses[status] ?? 0) + 1;
        }
      }
    } finally {
      s.destroy();
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  return { sent, statuses, ms: performance.now() - started };
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Parses pipelined responses (status line, headers, Content-Length body) as they arrive. */
function responses(s: Socket): { next(): Promise<number> } {
  let buf: Buffer = Buffer.alloc(0);
  const ready: number[] = [];
  let waiting: ((status: number) => void) | undefined;
  let failed: Error | undefined;
  let fail: ((e: Error) => void) | undefined;
  const parse = () => {
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      ready.push(Number(head.slice(9, 12)));
      buf = buf.subarray(end + 4 + length);
    }
  };
  s.on('data', (c: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, c]) : c;
    parse();
    if (waiting && ready.length) {
      const w = waiting;
      waiting = undefined;
      fail = undefined;
      w(ready.shift() as number);
    }
  });
  const closed = () => {
    failed = new Error('connection closed before every answer arrived');
    fail?.(failed);
  };
  s.once('close', closed);
  s.once('error', closed);
  return {
    next: () => {
      if (ready.length) return Promise.resolve(ready.shift() as number);
      if (failed) return Promise.reject(failed);
      return new Promise((resolve, reject) => {
        waiting = resolve;
        fail = reject;
      });
    },
  };
}

/** Resident set size of a process in KiB (VmRSS in /proc/<pid>/status). */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

export interface ChildServer { port: number; pid: number; stderr: () => string; stop(): Promise<void> }

/** Runs `otaflux` (src/main.ts) as a child process on a free 127.0.0.1 port with these extra arguments. */
export async function startChildServer(args: string[], env: Record<string, string> = {}): Promise<ChildServer> {
  const port = await freePort();
  const child = Bun.spawn([process.execPath, MAIN, '--listen-addr', `127.0.0.1:${port}`, '--metrics-listen-addr', '127.0.0.1:0', '--cache-dir', tempDir('otaflux-flood-cache-'), '--log-level', 'warn', '--log-format', 'json', ...args], { cwd: tempDir('otaflux-flood-cwd-'), stdout: 'ignore', stderr: 'pipe', env: { ...process.env, ...env } });
  let err = '';
  void (async () => {
    const dec = new TextDecoder();
    for await (const c of child.stderr) err = (err + dec.decode(c)).slice(-20_000);
  })();
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) break;
    if (await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false)) {
      return { port, pid: child.pid, stderr: () => err, stop: async () => { child.kill('SIGTERM'); await child.exited; } };
    }
    await Bun.sleep(100);
  }
  child.kill();
  throw new Error(`otaflux did not start: ${err}`);
}
