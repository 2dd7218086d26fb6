/**
 * The device listener on `Bun.listen`: a small HTTP/1.1 server that answers `/version`,
 * `/firmware`, `/health` and the docs assets itself and hands every other route to the Elysia app.
 * The same listener serves HTTPS when bound with `tls` (src/http/tls/https-listener.ts).
 *
 * Why not node:http or Bun.serve (bench/run.ts, same machine, same run): Bun.serve answers the
 * ESP32 client's leading CRLF with 400; Bun's node:http accepts it but reaches only ≈ 0.5–1.0× of
 * nginx on `/version` and holds ≈ 150 MB while 200 slow devices download a 4 MiB image. Raw
 * sockets answer several times faster, and a firmware body is written straight from the shared
 * in-memory image (or a 64 KiB file chunk) with backpressure, so a slow device holds no copy.
 *
 * What it speaks: HTTP/1.0 and 1.1, keep-alive (default for 1.1, `Connection: keep-alive` for 1.0),
 * pipelined requests one after the other, a few empty lines before a request line (RFC 9112 §2.2),
 * CRLF or bare LF line ends, request bodies with Content-Length on the routes that take one
 * (`Expect: 100-continue` is answered). Its bounds (front-door.ts): heads (request-head.ts: size,
 * validity, a deadline however slowly they trickle in), bodies (body-budget.ts), open connections
 * (connection-gate.ts), input read ahead of the answers (the socket is paused), and one write in
 * waiting per connection (response-writer.ts). An error answer closes the connection.
 */
import type { Socket, TCPSocketListener, TLSOptions } from 'bun';
import type { PeerCertificate } from '../plugin.ts';
import { firmwareRoute, versionRoute, type DeviceApiDeps, type DeviceReply, type DeviceRequest } from './device-api.ts';
import type { CoreEventBus, HttpRequestDone } from '../core/events.ts';
import { parseListenAddr } from './listen.ts';
import { readHead, type RequestHead } from './request-head.ts';
import { routeTakesBody } from './body-budget.ts';
import { DEFAULT_LIMITS, FrontDoor } from './front-door.ts';
import { failPending, flush, KEEP_ALIVE_SECONDS, responseHead, send, sendFile, WRITTEN, type WriteState } from './response-writer.ts';
import { askApp } from './app-bridge.ts';
import { DOCS_ASSETS_PREFIX, docsAsset } from './api-docs.ts';

/** How long a connection closed after an error answer may keep sending before it is cut. */
const LINGER_MS = 5000;
const TEXT = 'text/plain; charset=utf-8';

type ParsedRequest = RequestHead & { body: Buffer | null };

/** Per-connection state. */
interface Conn extends WriteState {
  input: Buffer | null;
  /** Bytes of `input` already searched for the end of a head. */
  scanned: number;
  /** When the head (or body) being received began; 0 while none is awaited. */
  since: number;
  /** A body being received: its head, and the buffer its declared length was reserved for. */
  body: { head: RequestHead; buf: Buffer; filled: number } | null;
  /** Body bytes this connection holds from the shared budget. */
  reserved: number;
  /** A request is being answered: later input waits (pipelining keeps order). */
  busy: boolean;
  /** Reading is paused: the client sent too far ahead of the answers. */
  paused: boolean;
  /** Close once the current response is written (server shutting down). */
  closing: boolean;
  /** Closed after an error answer: input is dropped, and the socket is cut at this time. */
  lingerUntil: number;
  /** Counted by the connection gate (refused connections are not). */
  admitted: boolean;
  remoteAddress: string;
  /** `100 Continue` was sent for the request being received. */
  continued: boolean;
  /** The client half-closed: no more requests will come. */
  peerEnded: boolean;
  /** Requests may be answered: at once over plain HTTP, after the TLS hook accepted the handshake. */
  ready: boolean;
  /** The client certificate the TLS hook accepted. */
  peer?: PeerCertificate;
}

/** What the listener needs: the device API's services, the event bus, and the app for other routes. */
export interface ListenerDeps extends DeviceApiDeps {
  events: CoreEventBus;
  /** Answers every route the listener does not (Elysia's `app.handle`). */
  fallback(request: Request): Promise<Response>;
  /** Bounds and the state the listeners share (connection cap, body budget); default: DEFAULT_LIMITS, this listener alone. */
  frontDoor?: FrontDoor;
}

/** What a TLS listener adds (src/http/tls/https-listener.ts): the TLS options and a handshake check. */
export interface ListenerTls {
  /** Read at every (re)bind, so a reload takes effect for new connections. */
  options(): TLSOptions;
  /**
   * Decides about a finished handshake: the accepted client certificate (or undefined when none was
   * shown and none is required), or false to refuse; a refused connection is closed before any HTTP.
   */
  handshake(s: Socket<unknown>, success: boolean, authError: Error | null): PeerCertificate | undefined | false;
}

export interface RawListenerOptions {
  tls?: ListenerTls;
  /** The flag named when the address is taken (default `--listen-addr`). */
  addrFlag?: string;
}

export interface RawListener {
  port: number;
  /** Stops accepting and closes idle connections; answers in flight get up to `drainMs` (default 5 s), then are cut. */
  close(drainMs?: number): Promise<void>;
  /** Binds anew on the same port (new TLS options); open connections continue. Throws when it cannot. */
  rebind(): void;
}

/** Starts the listener on `host:port` (port 0: any free port). */
export async function startRawListener(deps: ListenerDeps, addr: string, options: RawListenerOptions = {}): Promise<RawListener> {
  const { host, port } = parseListenAddr(addr);
  const tls = options.tls;
  const frontDoor = deps.frontDoor ?? new FrontDoor(DEFAULT_LIMITS, deps.logger);
  const limits = frontDoor.limits;
  const conns = new Set<Socket<Conn>>();
  let stopping = false;

  /** Reports an answered request (`http-request`: request log, metrics, downloads in flight). */
  function reported(s: Socket<Conn>, r: ParsedRequest, started: number, route: string, status: number, bytes: number, device?: string, errorCode?: string): void {
    const e: HttpRequestDone = { method: r.method, route, status, bytes, durationMs: performance.now() - started, remoteAddress: s.data.remoteAddress };
    if (device) e.device = device;
    if (errorCode) e.errorCode = errorCode;
    deps.events.emit('http-request', e);
  }

  /**
   * Writes a head and an optional body, then reports the request: WRITTEN, and no promise made,
   * when the socket took it all at once (every /version poll and /health on an idle connection).
   */
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
    if ((r.method !== 'GET' && r.method !== 'HEAD') || !r.path.startsWith(DOCS_ASSETS_PREFIX)) return undefined;
    const asset = docsAsset(r.path.slice(DOCS_ASSETS_PREFIX.length));
    return asset?.then(({ bytes, headers }) => ({ status: 200, headers, body: r.method === 'HEAD' ? null : bytes }));
  }

  /**
   * Answers one request. Returns WRITTEN when the answer was written whole without waiting (a
   * `/version` poll answered from the remembered release: no promise per poll), else a promise that
   * settles once the response is handed to the socket.
   */
  function answer(s: Socket<Conn>, r: ParsedRequest): Promise<void> {
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
  }

  function releaseBody(c: Conn): void {
    if (c.reserved === 0) return;
    frontDoor.bodies.release(c.reserved);
    c.reserved = 0;
  }

  /**
   * Answers an error and closes: no more input is read from this connection (reading is paused, so
   * a client blasting bytes costs neither memory nor CPU), and it is cut after LINGER_MS.
   */
  function refuse(s: Socket<Conn>, status: number, message: string, headers: Record<string, string> = {}): void {
    const c = s.data;
    c.busy = true;
    c.input = null;
    c.body = null;
    releaseBody(c);
    c.lingerUntil = Date.now() + LINGER_MS;
    if (!c.paused) {
      c.paused = true;
      s.pause();
    }
    const head = responseHead(status, { 'content-type': TEXT, 'content-length': String(message.length), ...headers }, false);
    void send(s, head + message).catch(() => {}).finally(() => s.end());
  }

  /**
   * Closes our side once nothing more is to be written. A client that never closes its side is cut
   * after LINGER_MS (the sweep), so a half-open connection holds nothing for long.
   */
  function finish(s: Socket<Conn>): void {
    const c = s.data;
    c.input = null;
    if (!c.lingerUntil) c.lingerUntil = Date.now() + LINGER_MS;
    s.end();
  }

  /** Nothing is being answered any more; reading resumes once the input read ahead is used up. */
  function idle(s: Socket<Conn>): void {
    const c = s.data;
    c.busy = false;
    releaseBody(c);
    if (!c.input || c.input.length <= limits.maxPipelinedBytes) readOn(s);
  }

  /** Resumes reading a paused connection: its input is used up, or it needs more to go on. */
  function readOn(s: Socket<Conn>): void {
    if (!s.data.paused) return;
    s.data.paused = false;
    s.resume();
  }

  /** Moves input into the body being received; true once it is complete. */
  function fillBody(c: Conn): boolean {
    const b = c.body as NonNullable<Conn['body']>;
    if (c.input) {
      const n = Math.min(c.input.length, b.buf.length - b.filled);
      c.input.copy(b.buf, b.filled, 0, n);
      b.filled += n;
      c.input = n < c.input.length ? c.input.subarray(n) : null;
    }
    return b.filled === b.buf.length;
  }

  /**
   * Starts answering `r`. Returns true when the caller may go on reading input at once (the answer
   * was written whole, the connection stays open), false when it is done for now.
   */
  function dispatch(s: Socket<Conn>, r: ParsedRequest): boolean {
    const c = s.data;
    c.busy = true;
    c.continued = false;
    c.since = 0;
    r.keepAlive = r.keepAlive && !c.closing && !stopping;
    let answered: Promise<void>;
    try {
      answered = answer(s, r);
    } catch (e) {
      // Nothing is known to have been written whole: the connection cannot carry another answer.
      deps.logger.error('request failed', { error: String(e) });
      idle(s);
      finish(s);
      return false;
    }
    if (answered === WRITTEN) {
      idle(s);
      if (!r.keepAlive || (!c.input && (stopping || c.closing || c.peerEnded))) {
        finish(s);
        return false;
      }
      return true;
    }
    answered.then(
      () => {
        idle(s);
        if (!r.keepAlive) finish(s);
        else if (c.input) pump(s);
        else if (stopping || c.closing || c.peerEnded) finish(s);
      },
      () => {
        idle(s);
        finish(s);
      },
    );
    return false;
  }

  /** Answers the requests waiting in the connection's input, one at a time. */
  function pump(s: Socket<Conn>): void {
    const c = s.data;
    while (!c.busy && !c.closed && !c.lingerUntil) {
      if (c.body) {
        if (!fillBody(c)) {
          if (c.body.head.expectContinue && !c.continued) {
            c.continued = true;
            s.write('HTTP/1.1 100 Continue\r\n\r\n');
          }
          if (c.peerEnded) finish(s);
          else readOn(s);
          return;
        }
        const { head, buf } = c.body;
        c.body = null;
        if (!dispatch(s, { ...head, body: buf })) return;
        continue;
      }
      if (!c.input) {
        if (stopping || c.closing || c.peerEnded) finish(s);
        else readOn(s);
        return;
      }
      const parsed = readHead(c.input, c.scanned, limits.maxHeadBytes);
      if (parsed.kind === 'more') {
        c.scanned = parsed.scanned;
        if (!c.since) c.since = Date.now();
        if (stopping || c.closing || c.peerEnded) finish(s);
        else readOn(s);
        return;
      }
      if (parsed.kind === 'error') {
        refuse(s, parsed.status, parsed.message);
        return;
      }
      c.input = parsed.consumed >= c.input.length ? null : c.input.subarray(parsed.consumed);
      c.scanned = 0;
      const head = parsed.head;
      const length = head.contentLength;
      if (length === 0) {
        if (!dispatch(s, { ...head, body: null })) return;
        continue;
      }
      if (!routeTakesBody(head.method, head.path)) {
        refuse(s, 413, 'Content Too Large: this route takes no request body');
        return;
      }
      if (length > limits.maxBodyBytes) {
        refuse(s, 413, 'Content Too Large');
        return;
      }
      if (!frontDoor.bodies.reserve(length)) {
        refuse(s, 503, 'Service Unavailable: too many request bodies in flight, retry later', { 'retry-after': '5' });
        return;
      }
      c.reserved = length;
      c.body = { head, buf: Buffer.allocUnsafe(length), filled: 0 };
      c.since = Date.now();
    }
  }

  /**
   * Enforces the head deadline (and the body's, counted from the end of its head), however slowly
   * the bytes trickle in: 408 and a close when a request was begun, a plain close when no byte came.
   * Also cuts connections that were answered an error but keep sending.
   */
  function sweep(): void {
    const now = Date.now();
    for (const s of conns) {
      const c = s.data;
      if (c.lingerUntil) {
        if (now >= c.lingerUntil) s.terminate();
        continue;
      }
      if (c.busy || !c.since || now - c.since < limits.headerTimeoutMs) continue;
      if (c.input || c.body) refuse(s, 408, 'Request Timeout');
      else finish(s);
    }
  }
  const sweeper = setInterval(sweep, Math.max(50, Math.min(1000, limits.headerTimeoutMs / 4)));
  sweeper.unref();

  const bind = (bindPort: number): TCPSocketListener<Conn> => Bun.listen<Conn>({
    hostname: host,
    port: bindPort,
    // A client that half-closes after its request still gets the answer.
    allowHalfOpen: true,
    ...(tls ? { tls: tls.options() } : {}),
    socket: {
      open(s) {
        const admitted = frontDoor.gate.admit();
        s.data = {
          input: null, scanned: 0, since: Date.now(), body: null, reserved: 0, busy: false, paused: false, closed: !admitted, closing: false,
          lingerUntil: 0, admitted, pending: null, remoteAddress: s.remoteAddress ?? '', progressAt: 0, continued: false, peerEnded: false, ready: !tls,
        };
        if (!admitted) {
          s.terminate();
          return;
        }
        s.timeout(KEEP_ALIVE_SECONDS);
        conns.add(s);
      },
      data(s, chunk) {
        const c = s.data;
        if (c.lingerUntil || !c.admitted) return;
        const b = c.body;
        if (b && !c.input && !c.busy) {
          // A body being received: straight into its buffer, without an intermediate copy.
          const n = Math.min(chunk.length, b.buf.length - b.filled);
          chunk.copy(b.buf, b.filled, 0, n);
          b.filled += n;
          if (n < chunk.length) c.input = Buffer.from(chunk.subarray(n));
          pump(s);
          return;
        }
        // Copied: the input may wait for an answer in flight (pipelining) or for the rest of a request.
        c.input = c.input ? Buffer.concat([c.input, chunk]) : Buffer.from(chunk);
        if (c.busy || !c.ready) {
          // Input ahead of the answer in progress (pipelining) is kept up to maxPipelinedBytes, then
          // reading pauses until it is used up. A client further ahead than that is not a device:
          // what it sent ahead is dropped, and the connection closes after the current answer.
          if (c.input.length > limits.maxPipelinedBytes) {
            if (c.input.length > 2 * limits.maxPipelinedBytes) {
              c.input = null;
              c.closing = true;
            }
            if (!c.paused) {
              c.paused = true;
              s.pause();
            }
          }
          return;
        }
        pump(s);
      },
      handshake(s, success, authError) {
        if (!tls || !s.data.admitted) return;
        const c = s.data;
        const peer = tls.handshake(s as Socket<unknown>, success, authError);
        if (peer === false) {
          c.closing = true;
          finish(s);
          return;
        }
        if (peer) c.peer = peer;
        c.ready = true;
        readOn(s);
        if (c.input && !c.busy) pump(s);
      },
      drain(s) {
        flush(s);
      },
      end(s) {
        // The client sent FIN (e.g. `printf 'GET …' | nc`): answer what it sent, then close.
        const c = s.data;
        c.peerEnded = true;
        if (c.busy) return;
        if (c.input && c.ready && !c.lingerUntil) pump(s);
        else finish(s);
      },
      timeout(s) {
        const c = s.data;
        if (c.lingerUntil) s.terminate();
        else if (!c.busy) finish(s);
        // A download to a device that stopped reading: give up after a full period without progress.
        else if (c.pending && Date.now() - c.progressAt > KEEP_ALIVE_SECONDS * 1000) s.terminate();
        else s.timeout(KEEP_ALIVE_SECONDS);
      },
      close(s) {
        const c = s.data;
        c.closed = true;
        if (!c.admitted) return;
        c.admitted = false;
        frontDoor.gate.leave();
        conns.delete(s);
        c.input = null;
        c.body = null;
        // An answer in flight still holds its body: it gives the bytes back when it settles.
        if (!c.busy) releaseBody(c);
        failPending(c, 'connection closed');
      },
      error(s) {
        const c = s.data;
        c.closed = true;
        failPending(c, 'connection error');
      },
    },
  });
  let listener: TCPSocketListener<Conn>;
  try {
    listener = bind(port);
  } catch (e) {
    clearInterval(sweeper);
    const err = e as NodeJS.ErrnoException;
    throw new Error(err.code === 'EADDRINUSE' ? `cannot listen on ${addr}: the address is in use (pick another with ${options.addrFlag ?? '--listen-addr'})` : `cannot listen on ${addr}: ${err.message}`);
  }

  return {
    port: listener.port,
    rebind() {
      const bound = listener.port;
      listener.stop(false);
      listener = bind(bound);
    },
    async close(drainMs = 5000) {
      stopping = true;
      listener.stop(false);
      for (const s of conns) {
        if (!s.data.busy) finish(s);
        else s.data.closing = true;
      }
      const until = Date.now() + drainMs;
      while (conns.size > 0 && Date.now() < until) await Bun.sleep(10);
      for (const s of conns) s.terminate();
      clearInterval(sweeper);
    },
  };
}
