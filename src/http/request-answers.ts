/**
 * Answers one request on a device-listener connection: `/version` and `/firmware` through the
 * device API's plain functions, `/health`, the docs assets from their one shared copy, and every
 * other route through the Elysia app. Each answer is reported as an `http-request` event (request
 * log, metrics, downloads in flight), also when the client went away before it was written.
 */
import type { Socket } from 'bun';
import type { CoreEventBus, HttpRequestDone } from '../core/events.ts';
import { firmwareRoute, versionRoute, type DeviceApiDeps, type DeviceReply, type DeviceRequest } from './device-api.ts';
import { responseHead, send, sendFile, WRITTEN } from './response-writer.ts';
import { askApp } from './app-bridge.ts';
import { DOCS_ASSETS_PREFIX, docsAsset } from './api-docs.ts';
import type { Conn, ParsedRequest } from './connection.ts';

const TEXT = 'text/plain; charset=utf-8';

export interface AnswerDeps extends DeviceApiDeps {
  events: CoreEventBus;
  /** Answers every route the listener does not (Elysia's `app.handle`). */
  fallback(request: Request): Promise<Response>;
  /** Whether the docs assets are served here (default true; false when the docs are on the operator listener only). */
  docsAssets?: boolean;
}

/**
 * The function that answers a request. It returns WRITTEN when the answer was written whole without
 * waiting (a `/version` poll answered from the remembered release: no promise per poll), else a
 * promise that settles once the response is handed to the socket.
 */
export function requestAnswerer(deps: AnswerDeps): (s: Socket<Conn>, r: ParsedRequest) => Promise<void> {
  function reported(s: Socket<Conn>, r: ParsedRequest, started: number, route: string, status: number, bytes: number, device?: string, errorCode?: string): void {
    const e: HttpRequestDone = { method: r.method, route, status, bytes, durationMs: performance.now() - started, remoteAddress: s.data.remoteAddress };
    if (device) e.device = device;
    if (errorCode) e.errorCode = errorCode;
    deps.events.emit('http-request', e);
  }

  /** Writes a head and an optional text body, then reports: WRITTEN when the socket took it all at once. */
  function sendText(s: Socket<Conn>, r: ParsedRequest, started: number, route: string, status: number, headers: Record<string, string>, body: string | null, device?: string, errorCode?: string): Promise<void> {
    const head = responseHead(status, headers, r.keepAlive);
    const written = send(s, body === null ? head : head + body);
    const bytes = body === null ? 0 : Buffer.byteLength(body);
    if (written === WRITTEN) {
      reported(s, r, started, route, status, bytes, device, errorCode);
      return WRITTEN;
    }
    return written.then(
      () => reported(s, r, started, route, status, bytes, device, errorCode),
      (e) => {
        // Reported even when cut short: listeners (downloads in flight) wait for this event.
        reported(s, r, started, route, status, 0, device, 'aborted');
        throw e;
      },
    );
  }

  /** Writes a reply (text, shared in-memory bytes or a file range) and reports it. */
  function deliver(s: Socket<Conn>, r: ParsedRequest, started: number, reply: DeviceReply, route = r.path): Promise<void> {
    const body = reply.body;
    if (body === null || typeof body === 'string') return sendText(s, r, started, route, reply.status, reply.headers, body, reply.device, reply.errorCode);
    const head = responseHead(reply.status, reply.headers, r.keepAlive);
    const sent = Buffer.isBuffer(body)
      ? send(s, head).then(() => send(s, body)).then(() => body.byteLength)
      : send(s, head).then(() => sendFile(s, body.path, body.start, body.end)).then(() => body.end - body.start + 1);
    return sent.then(
      (bytes) => reported(s, r, started, route, reply.status, bytes, reply.device, reply.errorCode),
      (e) => {
        reported(s, r, started, route, reply.status, 0, reply.device, 'aborted');
        throw e;
      },
    );
  }

  function failedReply(e: unknown): DeviceReply {
    deps.logger.error('device API failed', { error: String(e) });
    return { status: 500, headers: { 'content-type': TEXT, 'content-length': '14' }, body: 'Internal error' };
  }

  function deviceRequest(s: Socket<Conn>, r: ParsedRequest): DeviceRequest {
    const dreq: DeviceRequest = { method: r.method, query: new URLSearchParams(r.query), headers: r.headers, remoteAddress: s.data.remoteAddress };
    if (s.data.peer) dreq.peerCertificate = s.data.peer;
    return dreq;
  }

  /** The docs assets, written from the one shared copy; undefined when `r` is not for one. */
  function docsAssetReply(r: ParsedRequest): Promise<DeviceReply> | undefined {
    if (deps.docsAssets === false || (r.method !== 'GET' && r.method !== 'HEAD') || !r.path.startsWith(DOCS_ASSETS_PREFIX)) return undefined;
    const asset = docsAsset(r.path.slice(DOCS_ASSETS_PREFIX.length));
    return asset?.then(({ bytes, headers }) => ({ status: 200, headers, body: r.method === 'HEAD' ? null : bytes }));
  }

  return function answer(s: Socket<Conn>, r: ParsedRequest): Promise<void> {
    const started = performance.now();
    if (r.path === '/version' || r.path === '/firmware') {
      if (r.method !== 'GET' && r.method !== 'HEAD') {
        return sendText(s, r, started, r.path, 405, { allow: 'GET, HEAD', 'content-type': TEXT, 'content-length': '18' }, 'Method Not Allowed');
      }
      let reply: DeviceReply | Promise<DeviceReply>;
      try {
        reply = (r.path === '/version' ? versionRoute : firmwareRoute)(deviceRequest(s, r), deps);
      } catch (e) {
        reply = failedReply(e);
      }
      if (reply instanceof Promise) return reply.catch(failedReply).then((rep) => deliver(s, r, started, rep));
      return deliver(s, r, started, reply);
    }
    if (r.path === '/health') return sendText(s, r, started, r.path, 200, { 'content-length': '0' }, null);
    const asset = docsAssetReply(r);
    if (asset) return asset.catch(failedReply).then((rep) => deliver(s, r, started, rep));
    return askApp(r, r.body, deps.fallback, deps.logger).then((a) =>
      deliver(s, r, started, { status: a.status, headers: a.headers, body: a.body.byteLength ? Buffer.from(a.body.buffer, a.body.byteOffset, a.body.byteLength) : null }, a.status === 404 ? 'unmatched' : r.path),
    );
  };
}
