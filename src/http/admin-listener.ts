/**
 * The operator listener (`--admin-listen-addr`, default 127.0.0.1:8081): the dashboard, the operator
 * API and the API docs, on a port of their own so that devices (and the device port's firewall rule,
 * ingress or port forward) never reach them. It speaks HTTPS with the device API's certificate when
 * one is configured (`--tls-cert`, `--tls-key`; no client certificates asked for), else plain HTTP.
 *
 * It is Bun.serve feeding the same Elysia app as the device listener's fallback: operator traffic is
 * a few requests a minute, so none of the device listener's per-connection machinery is needed; its
 * one bound of note is the request body (the upload size limit plus room for the form around it).
 */
import type { Server } from 'bun';
import { readFileSync } from 'node:fs';
import type { Logger } from '../plugin.ts';
import { listenFailure, parseListenAddr } from './listen.ts';

export interface AdminListenerOptions {
  addr: string;
  handle(request: Request): Promise<Response>;
  /** PEM files: the listener speaks HTTPS with them. */
  tls?: { cert: string; key: string };
  /** Largest request body, in bytes. */
  maxBodyBytes: number;
  logger: Logger;
}

export interface AdminListener {
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Room for the multipart form around an uploaded file (boundaries, the other fields). */
export const FORM_OVERHEAD_BYTES = 64 * 1024;

export function startAdminListener(o: AdminListenerOptions): AdminListener {
  const { host, port } = parseListenAddr(o.addr);
  let server: Server<undefined>;
  try {
    server = Bun.serve({
      hostname: host,
      port,
      maxRequestBodySize: o.maxBodyBytes + FORM_OVERHEAD_BYTES,
      ...(o.tls ? { tls: { cert: readFileSync(o.tls.cert, 'utf8'), key: readFileSync(o.tls.key, 'utf8') } } : {}),
      fetch: async (request) => {
        const started = performance.now();
        const response = await o.handle(request).catch((e: unknown) => {
          o.logger.error('operator route failed', { error: e instanceof Error ? e.message : String(e) });
          return new Response('Internal error', { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' } });
        });
        // The path only: queries (search words) and bodies (tokens at sign-in) are never logged.
        o.logger.info('request', { listener: 'admin', method: request.method, route: new URL(request.url).pathname, status: response.status, ms: Math.round((performance.now() - started) * 10) / 10 });
        return response;
      },
      error: () => new Response('Internal error', { status: 500 }),
    });
  } catch (e) {
    throw listenFailure('--admin-listen-addr', o.addr, e);
  }
  const bound = server.port ?? port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    port: bound,
    url: `${o.tls ? 'https' : 'http'}://${shown}:${bound}`,
    async close() {
      await server.stop(true);
    },
  };
}
