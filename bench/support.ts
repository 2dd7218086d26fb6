/**
 * What the benchmarks share: a work folder removed at exit (with every child process killed), the
 * median of rounds, and a free port for a server started as a child process.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Killable {
  kill(sig?: number | NodeJS.Signals): void;
}

/**
 * A fresh work folder, readable by nginx workers (they run as another user when started as root).
 * At exit it is removed and every process pushed to `children` is killed; Ctrl-C exits 130.
 */
export function benchWorkspace(prefix: string): { work: string; children: Killable[] } {
  const work = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(work, 0o755);
  const children: Killable[] = [];
  process.on('exit', () => {
    for (const c of children) c.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });
  process.on('SIGINT', () => process.exit(130));
  return { work, children };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** A free TCP port on 127.0.0.1, for a server started as a child process. */
export function freePort(): number {
  const s = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}
