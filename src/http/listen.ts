/** Parses `host:port` / `[v6]:port` listen addresses and starts node:net servers (the metrics listener) on them. */
import type { Server } from 'node:net';

export function parseListenAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`invalid listen address '${addr}': expected host:port, e.g. 0.0.0.0:8080`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** Listens and resolves with the bound port (useful with port 0). */
export function listen(server: Server, addr: string): Promise<number> {
  const { host, port } = parseListenAddr(addr);
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(e.code === 'EADDRINUSE' ? `cannot listen on ${addr}: the address is in use (pick another with --listen-addr)` : `cannot listen on ${addr}: ${e.message}`)),
    );
    server.listen(port, host, () => {
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : port);
    });
  });
}
