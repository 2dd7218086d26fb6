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

/**
 * The nginx.conf of the benches' reference: `workers` worker processes serving `root` on `port` as
 * OtaFlux's device routes answer (`/version` from version.txt, `/firmware` from firmware.bin), with
 * sendfile, no access log and keep-alive for as long as wrk likes; its pid, log and temp files in `dir`.
 */
export function nginxConfig(o: { dir: string; workers: string; port: number; root: string }): string {
  const { dir } = o;
  return `worker_processes ${o.workers};
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 65;
  client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp; fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;
  server {
    listen 127.0.0.1:${o.port} backlog=4096;
    root ${o.root};
    location = /version { default_type 'text/plain; charset=utf-8'; etag off; try_files /version.txt =404; }
    location = /firmware { default_type application/octet-stream; try_files /firmware.bin =404; }
  }
}
`;
}
