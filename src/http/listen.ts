/** Parses `host:port` / `[v6]:port` listen addresses and starts node:net servers (the metrics listener) on them. */
import type { Server } from 'node:net';
import { StartupError } from '../cli/errors.ts';

export function parseListenAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new StartupError(`invalid listen address '${addr}': expected host:port, e.g. 0.0.0.0:8080`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/**
 * The one line for a listener that could not bind, naming the setting to change:
 * `--listen-addr 0.0.0.0:8080: address already in use; stop the other process or choose another port`.
 */
export function listenFailure(flag: string, addr: string, e: unknown): StartupError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const what =
    code === 'EADDRINUSE' ? 'address already in use; stop the other process or choose another port'
    : code === 'EACCES' ? 'permission denied; use a port above 1023, or give the process CAP_NET_BIND_SERVICE'
    // Bun gives no code when the host name does not resolve; EADDRNOTAVAIL when it is not this machine's.
    : code === 'EADDRNOTAVAIL' || code === undefined ? 'not an address of this machine; use one of its IP addresses, or 0.0.0.0 for all of them'
    : `cannot listen (${code}); choose another address`;
  return new StartupError(`${flag} ${addr}: ${what}`);
}

/** Listens and resolves with the bound port (useful with port 0); `flag` names the setting in errors. */
export function listen(server: Server, addr: string, flag = '--metrics-listen-addr'): Promise<number> {
  const { host, port } = parseListenAddr(addr);
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(listenFailure(flag, addr, e)));
    server.listen(port, host, () => {
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : port);
    });
  });
}
