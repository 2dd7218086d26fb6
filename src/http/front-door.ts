/**
 * The front door: a node:http request handler (Bun's node:http accepts the leading CRLF the ESP32
 * example client sends, which Bun.serve rejects). `/version`, `/firmware` and `/health` are answered
 * here directly, lean, with explicit Content-Length and never chunked; every other route goes to
 * the Elysia app. The same handler serves the plain HTTP and the TLS listeners.
 */
import http from 'node:http';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { PeerCertificate } from '../plugin.ts';
import type { CoreEventBus } from '../core/events.ts';
import { firmwareRoute, versionRoute, type DeviceApiDeps, type DeviceReply } from './device-api.ts';

export interface FrontDoorDeps extends DeviceApiDeps {
  events: CoreEventBus;
  /** Handles every route the front door does not (Elysia's `app.handle`). */
  fallback(request: Request): Promise<Response>;
}

export type RequestHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** Builds the request handler; `peerCertificateOf` is given by TLS listeners. */
export function createRequestHandler(deps: FrontDoorDeps, peerCertificateOf?: (req: http.IncomingMessage) => PeerCertificate | undefined): RequestHandler {
  return (req, res) => {
    const started = performance.now();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';
    const remoteAddress = req.socket.remoteAddress ?? '';
    const done = (route: string, status: number, bytes: number, device?: string, errorCode?: string) =>
      deps.events.emit('http-request', { method, route, status, bytes, durationMs: performance.now() - started, remoteAddress, ...(device ? { device } : {}), ...(errorCode ? { errorCode } : {}) });

    if (path === '/version' || path === '/firmware') {
      if (method !== 'GET' && method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8', 'content-length': '18' });
        res.end('Method Not Allowed');
        done(path, 405, 18);
        return;
      }
      const peerCertificate = peerCertificateOf?.(req);
      const dreq = {
        method,
        query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)),
        headers: req.headers as Record<string, string | undefined>,
        remoteAddress,
        ...(peerCertificate ? { peerCertificate } : {}),
      };
      (path === '/version' ? versionRoute : firmwareRoute)(dreq, deps).then(
        (reply) => done(path, reply.status, writeReply(res, reply), reply.device, reply.errorCode),
        (e) => {
          deps.logger.error('device API failed', { error: String(e) });
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'content-length': '14' });
          res.end('Internal error');
          done(path, 500, 14);
        },
      );
      return;
    }
    if (path === '/health') {
      res.writeHead(200, { 'content-length': '0' });
      res.end();
      done(path, 200, 0);
      return;
    }
    void bridge(req, res, deps, url, method).then(({ status, bytes, route }) => done(route, status, bytes));
  };
}

/** Writes a device reply; returns the body bytes written. */
function writeReply(res: http.ServerResponse, reply: DeviceReply): number {
  res.writeHead(reply.status, reply.headers);
  const body = reply.body;
  if (body === null) {
    res.end();
    return 0;
  }
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    res.end(body);
    return typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  }
  const stream = createReadStream(body.path, { start: body.start, end: body.end, highWaterMark: 256 * 1024 });
  stream.on('error', () => res.destroy());
  stream.pipe(res);
  return body.end - body.start + 1;
}

/** Hands a request to the Elysia app and copies its Response back. */
async function bridge(req: http.IncomingMessage, res: http.ServerResponse, deps: FrontDoorDeps, url: string, method: string): Promise<{ status: number; bytes: number; route: string }> {
  try {
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    const hasBody = method !== 'GET' && method !== 'HEAD';
    const request = new Request(`http://localhost${url}`, {
      method,
      headers,
      ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream, duplex: 'half' } : {}),
    } as RequestInit);
    const response = await deps.fallback(request);
    const body = method === 'HEAD' ? new Uint8Array() : new Uint8Array(await response.arrayBuffer());
    const out: Record<string, string> = {};
    response.headers.forEach((v, k) => (out[k] = v));
    if (method !== 'HEAD') out['content-length'] = String(body.byteLength);
    res.writeHead(response.status, out);
    res.end(body);
    return { status: response.status, bytes: body.byteLength, route: response.status === 404 ? 'unmatched' : url.split('?')[0] as string };
  } catch (e) {
    deps.logger.error('request failed', { error: String(e) });
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'content-length': '14' });
    res.end('Internal error');
    return { status: 500, bytes: 14, route: 'unmatched' };
  }
}

/** A plain HTTP listener with the front door's handler. */
export function createHttpServer(handler: RequestHandler): http.Server {
  const server = http.createServer({ keepAlive: true }, handler);
  server.keepAliveTimeout = 65_000;
  return server;
}
