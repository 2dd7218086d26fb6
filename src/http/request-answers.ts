/**
 * Answers one request on a device-listener connection: `/version` and `/firmware` through the
 * device API's plain functions, `/health`, the docs assets from their one shared copy, and every
 * other route through the Elysia app. Each answer is reported as an `http-request` event (request
 * log, metrics, downloads in flight), also when the client went away before it was written.
 */
import type { Socket } from 'bun';
import type { CoreEventBus, HttpRequestDone } from '../core/events.ts';
import { errorReply, firmwareRoute, versionRoute, type DeviceApiDeps, type DeviceReply, type FrontDoorRequest } from './device-api.ts';
import { responseHead, responseMessage, send, sendFile, WRITTEN } from './response-writer.ts';
import { askApp } from './app-bridge.ts';
import { DOCS_ASSETS_PREFIX, docsAsset } from './api-docs.ts';
import type { Conn, ParsedRequest } from './connection.ts';
import type { ProtocolDeps } from '../protocols/protocol-deps.ts';
import { nativeProtocol, protocolFirmware } from '../protocols/recognise.ts';
import { isManifestPath, raucManifest } from '../protocols/rauc/manifest.ts';

const TEXT = 'text/plain; charset=utf-8';

export interface AnswerDeps extends DeviceApiDeps {
  events: CoreEventBus;
  /** Answers every route the listener does not (Elysia's `app.handle`). */
  fallback(request: Request): Promise<Response>;
  /** Arduino HTTPUpdate, ESP-IDF and RAUC on `/firmware` (README "Device protocols"); without it only the native API. */
  protocols?: ProtocolDeps;
  /** Whether the docs assets are served here (default true; false when the docs are on the operator listener only). */
  docsAssets?: boolean;
}

/**
 * The function that answers a request. It returns WRITTEN when the answer was written whole without
 * waiting (a `/version` poll answered from the remembered release: no promise per poll), else a
 * promise that settles once the response is handed to the socket.
 */
export function requestAnswerer(deps: AnswerDeps, scheme: 'http' | 'https' = 'http'): (s: Socket<Conn>, r: ParsedRequest) => Promise<void> {
  function reported(s: Socket<Conn>, r: ParsedRequest, started: number, route: string, status: number, bytes: number, device?: string, errorCode?: string, reply?: DeviceReply): void {
    const e: HttpRequestDone = { method: r.method, route, status, bytes, durationMs: performance.now() - started, remoteAddress: s.data.remoteAddress };
    if (device) e.device = device;
    if (errorCode) e.errorCode = errorCode;
    if (reply?.protocol) e.protocol = reply.protocol;
    if (reply?.partial) e.partial = true;
    deps.events.emit('http-request', e);
    reply?.onSent?.(bytes, errorCode !== 'aborted');
  }

  /** Writes a head and an optional text body, then reports: WRITTEN when the socket took it all at once. */
  function sendText(s: Socket<Conn>, r: ParsedRequest, started: number, route: string, status: number, headers: Record<string, string>, body: string | null, device?: string, errorCode?: string, reply?: DeviceReply): Promise<void> {
    const written = send(s, responseMessage(status, headers, r.keepAlive, body));
    const bytes = body === null ? 0 : Buffer.byteLength(body);
    if (written === WRITTEN) {
      reported(s, r, started, route, status, bytes, device, errorCode, reply);
      return WRITTEN;
    }
    return written.then(
      () => reported(s, r, started, route, status, bytes, device, errorCode, reply),
      (e) => {
        // Reported even when cut short: listeners (downloads in flight) wait for this event.
        reported(s, r, started, route, status, 0, device, 'aborted', reply);
        throw e;
      },
    );
  }

  /** Writes a reply (text, shared in-memory bytes or a file range) and reports it. */
  function deliver(s: Socket<Conn>, r: ParsedRequest, started: number, reply: DeviceReply, route = r.path): Promise<void> {
    const body = reply.body;
    if (body === null || typeof body === 'string') return sendText(s, r, started, route, reply.status, reply.headers, body, reply.device, reply.errorCode, reply);
    const head = responseHead(reply.status, reply.headers, r.keepAlive);
    const sent = Buffer.isBuffer(body)
      ? send(s, head).then(() => send(s, body)).then(() => body.byteLength)
      : send(s, head).then(() => sendFile(s, body.path, body.start, body.end)).then(() => body.end - body.start + 1);
    return sent.then(
      (bytes) => reported(s, r, started, route, reply.status, bytes, reply.device, reply.errorCode, reply),
      (e) => {
        reported(s, r, started, route, reply.status, 0, reply.device, 'aborted', reply);
        throw e;
      },
    );
  }

  function failedReply(e: unknown): DeviceReply {
    return errorReply(e, undefined, deps.logger);
  }

  function deviceRequest(s: Socket<Conn>, r: ParsedRequest): FrontDoorRequest {
    // The query is parsed only when something needs all of it (src/core/query-param.ts).
    const dreq: FrontDoorRequest = {
      method: r.method, rawQuery: r.query, parsedQuery: undefined, get query() { return (this.parsedQuery ??= new URLSearchParams(this.rawQuery)); }, headers: r.headers, remoteAddress: s.data.remoteAddress,
    };
    if (s.data.peer) dreq.peerCertificate = s.data.peer;
    return dreq;
  }

  /** `/firmware`: a protocol front door when the headers say which (README "Device protocols"), else the native route. */
  function firmware(s: Socket<Conn>, r: ParsedRequest): Promise<DeviceReply> {
    const req = deviceRequest(s, r);
    const protocols = deps.protocols;
    if (!protocols) return firmwareRoute(req, deps);
    const special = protocolFirmware(req, r.query ? `${r.path}?${r.query}` : r.path, protocols);
    if (special) return special;
    const label = nativeProtocol(r.headers);
    if (label !== 'native') req.protocol = label;
    return firmwareRoute(req, deps).then((rep) => ((rep.protocol = label), rep));
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
        reply = r.path === '/version' ? versionRoute(deviceRequest(s, r), deps) : firmware(s, r);
      } catch (e) {
        reply = failedReply(e);
      }
      if (reply instanceof Promise) return reply.catch(failedReply).then((rep) => deliver(s, r, started, rep));
      return deliver(s, r, started, reply);
    }
    if (r.path === '/health') return sendText(s, r, started, r.path, 200, { 'content-length': '0' }, null);
    // The RAUC simple server's manifest endpoints (only with `protocols.rauc`; else the app's 404).
    if (deps.protocols?.raucManifest && (r.method === 'GET' || r.method === 'HEAD') && isManifestPath(r.path)) {
      const route = r.path === '/api/v1/manifest.json' ? r.path : '/api/v1/manifest/:compatible';
      return raucManifest(deviceRequest(s, r), r.path, scheme, deps.protocols).catch(failedReply).then((rep) => deliver(s, r, started, rep, route));
    }
    const asset = docsAssetReply(r);
    if (asset) return asset.catch(failedReply).then((rep) => deliver(s, r, started, rep));
    const conn = { remoteAddress: s.data.remoteAddress, ...(s.data.peer ? { peerCertificate: s.data.peer } : {}) };
    return askApp(r, r.body, deps.fallback, deps.logger, conn).then((a) =>
      deliver(s, r, started, a.reply ?? { status: a.status, headers: a.headers, body: a.body.byteLength ? Buffer.from(a.body.buffer, a.body.byteOffset, a.body.byteLength) : null }, a.status === 404 ? 'unmatched' : r.path),
    );
  };
}
