/**
 * The plain-HTTP device listener on `Bun.listen`: a small HTTP/1.1 server that answers `/version`,
 * `/firmware` and `/health` itself and hands every other route to the Elysia app.
 *
 * Why not node:http or Bun.serve (bench/run.ts, same machine, same run): Bun.serve answers the
 * ESP32 client's leading CRLF with 400; Bun's node:http accepts it but reaches only ≈ 0.5–1.0× of
 * nginx on `/version` and holds ≈ 150 MB while 200 slow devices download a 4 MiB image. Raw
 * sockets answer several times faster, and a firmware body is written straight from the shared
 * in-memory image (or a 64 KiB file chunk) with backpressure, so a slow device holds no copy.
 *
 * What it speaks: HTTP/1.0 and 1.1, keep-alive (default for 1.1, `Connection: keep-alive` for 1.0),
 * pipelined requests one after the other, leading empty lines before a request line (RFC 9112
 * §2.2), CRLF or bare LF line ends, request bodies with Content-Length (up to 1 MiB, for the app's
 * routes; `Expect: 100-continue` is answered). Transfer-Encoding request bodies get 411, heads
 * over 16 KiB 431, malformed requests 400, each followed by closing the connection. Response heads
 * carry Date and Connection like node:http.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import type { Socket, TCPSocketListener, TLSOptions } from 'bun';
import type { PeerCertificate } from '../plugin.ts';
import { firmwareRoute, versionRoute, type DeviceApiDeps, type DeviceReply, type DeviceRequest } from './device-api.ts';
import type { CoreEventBus } from '../core/events.ts';
import type { HttpRequestDone } from '../core/events.ts';
import { listenFailure, parseListenAddr } from './listen.ts';
import { countConnections } from '../metrics/open-connections.ts';

const MAX_HEAD_BYTES = 16 * 1024;
const MAX_BODY_BYTES = 1024 * 1024;
const KEEP_ALIVE_SECONDS = 65;
const FILE_CHUNK_BYTES = 64 * 1024;
const WRITTEN: Promise<void> = Promise.resolve();

interface ParsedRequest {
  method: string;
  target: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  keepAlive: boolean;
  body: Buffer | null;
}

type ParseOutcome =
  | { kind: 'request'; request: ParsedRequest; consumed: number }
  /** `expectContinue`: the head is complete and asks for `100 Continue` before sending its body. */
  | { kind: 'more'; expectContinue?: boolean }
  | { kind: 'error'; status: number; message: string };

/** Per-connection state. */
interface Conn {
  input: Buffer | null;
  /** A request is being answered: later input waits (pipelining keeps order). */
  busy: boolean;
  closed: boolean;
  /** Close once the current response is written (server shutting down). */
  closing: boolean;
  /** Bytes handed to `write` but not yet accepted by the socket. */
  pending: { data: Uint8Array; offset: number; done: () => void; fail: (e: Error) => void } | null;
  remoteAddress: string;
  /** When the socket last accepted bytes of a backpressured write. */
  progressAt: number;
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

let dateCache = '';
let dateCachedAt = 0;
function httpDate(): string {
  const now = Date.now();
  if (now - dateCachedAt >= 1000) {
    dateCachedAt = now - (now % 1000);
    dateCache = new Date(dateCachedAt).toUTCString();
  }
  return dateCache;
}

function indexOfHeadEnd(buf: Buffer, from: number): { end: number; sep: number } | null {
  // The head ends at the first empty line: CRLF CRLF, or LF LF / LF CRLF for bare-LF clients.
  const lf = buf.indexOf(10, from);
  if (lf < 0) return null;
  for (let i = lf; i >= 0 && i < buf.length; i = buf.indexOf(10, i + 1)) {
    if (buf[i + 1] === 10) return { end: i, sep: 2 };
    if (buf[i + 1] === 13 && buf[i + 2] === 10) return { end: i, sep: 3 };
  }
  return null;
}

const TOKEN = /^[A-Z]+$/;

/** Parses one request from the start of `buf` (after any leading empty lines). */
export function parseRequest(buf: Buffer): ParseOutcome {
  let start = 0;
  while (start < buf.length && (buf[start] === 13 || buf[start] === 10)) start++;
  if (start === buf.length) return { kind: 'more' };
  const head = indexOfHeadEnd(buf, start);
  if (!head) return buf.length - start > MAX_HEAD_BYTES ? { kind: 'error', status: 431, message: 'Request Header Fields Too Large' } : { kind: 'more' };
  if (head.end - start > MAX_HEAD_BYTES) return { kind: 'error', status: 431, message: 'Request Header Fields Too Large' };
  const text = buf.toString('latin1', start, head.end);
  let eol = text.indexOf('\n');
  if (eol < 0) eol = text.length;
  const requestLine = text.charCodeAt(eol - 1) === 13 ? text.slice(0, eol - 1) : text.slice(0, eol);
  const sp1 = requestLine.indexOf(' ');
  const sp2 = requestLine.indexOf(' ', sp1 + 1);
  const method = requestLine.slice(0, sp1);
  const target = requestLine.slice(sp1 + 1, sp2);
  const version = requestLine.slice(sp2 + 1);
  if (sp1 <= 0 || sp2 <= sp1 + 1 || !TOKEN.test(method) || target.charCodeAt(0) !== 47) return { kind: 'error', status: 400, message: 'Bad Request' };
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') {
    return /^HTTP\/\d(\.\d)?$/.test(version) ? { kind: 'error', status: 505, message: 'HTTP Version Not Supported' } : { kind: 'error', status: 400, message: 'Bad Request' };
  }
  const headers: Record<string, string> = {};
  let pos = eol + 1;
  while (pos < text.length) {
    let next = text.indexOf('\n', pos);
    if (next < 0) next = text.length;
    const lineEnd = text.charCodeAt(next - 1) === 13 ? next - 1 : next;
    const colon = text.indexOf(':', pos);
    const first = text.charCodeAt(pos);
    if (colon <= pos || colon > lineEnd || first === 32 || first === 9) return { kind: 'error', status: 400, message: 'Bad Request' };
    const name = text.slice(pos, colon).trim().toLowerCase();
    const value = text.slice(colon + 1, lineEnd).trim();
    const known = headers[name];
    headers[name] = known === undefined ? value : `${known}, ${value}`;
    pos = next + 1;
  }
  const connection = headers.connection;
  const keepAlive = version === 'HTTP/1.1' ? !(connection && /close/i.test(connection)) : !!connection && /keep-alive/i.test(connection);
  if (headers['transfer-encoding'] !== undefined) return { kind: 'error', status: 411, message: 'Length Required' };
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q + 1);
  const bodyStart = head.end + head.sep;
  const cl = headers['content-length'];
  if (cl === undefined || cl === '0') return { kind: 'request', request: { method, target, path, query, headers, keepAlive, body: null }, consumed: bodyStart };
  if (!/^\d+$/.test(cl)) return { kind: 'error', status: 400, message: 'Bad Request' };
  const length = Number(cl);
  if (length > MAX_BODY_BYTES) return { kind: 'error', status: 413, message: 'Payload Too Large' };
  if (buf.length < bodyStart + length) return { kind: 'more', expectContinue: headers.expect?.toLowerCase() === '100-continue' };
  const body = Buffer.from(buf.subarray(bodyStart, bodyStart + length));
  return { kind: 'request', request: { method, target, path, query, headers, keepAlive, body }, consumed: bodyStart + length };
}

function responseHead(status: number, headers: Record<string, string>, keepAlive: boolean): string {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
  for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
  head += `Date: ${httpDate()}\r\n`;
  head += keepAlive ? `Connection: keep-alive\r\nKeep-Alive: timeout=${KEEP_ALIVE_SECONDS}\r\n\r\n` : 'Connection: close\r\n\r\n';
  return head;
}

/** Starts the listener on `host:port` (port 0: any free port). */
export async function startRawListener(deps: ListenerDeps, addr: string, options: RawListenerOptions = {}): Promise<RawListener> {
  const { host, port } = parseListenAddr(addr);
  const tls = options.tls;
  const conns = new Set<Socket<Conn>>();
  countConnections(deps.events, tls ? 'tls' : 'device', conns);
  let stopping = false;

  /** Writes all of `data`, waiting for `drain` when the socket is backpressured. */
  function send(s: Socket<Conn>, data: string | Uint8Array): Promise<void> {
    const c = s.data;
    if (c.closed) return Promise.reject(new Error('connection closed'));
    const n = s.write(data);
    const total = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    if (n === total) return WRITTEN;
    if (n < 0) return Promise.reject(new Error('connection closed'));
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    c.progressAt = Date.now();
    return new Promise((done, fail) => {
      c.pending = { data: bytes, offset: n, done, fail };
    });
  }

  function flush(s: Socket<Conn>): void {
    const p = s.data.pending;
    if (!p) return;
    const n = s.write(p.data.subarray(p.offset));
    if (n < 0) return;
    p.offset += n;
    s.data.progressAt = Date.now();
    if (p.offset >= p.data.byteLength) {
      s.data.pending = null;
      p.done();
    }
  }

  async function sendFile(s: Socket<Conn>, path: string, start: number, end: number): Promise<void> {
    let fh: FileHandle | undefined;
    try {
      fh = await open(path, 'r');
      let pos = start;
      while (pos <= end) {
        const chunk = Buffer.allocUnsafe(Math.min(FILE_CHUNK_BYTES, end - pos + 1));
        const { bytesRead } = await fh.read(chunk, 0, chunk.length, pos);
        if (bytesRead === 0) throw new Error(`${path}: file ended before byte ${end}`);
        await send(s, bytesRead === chunk.length ? chunk : chunk.subarray(0, bytesRead));
        pos += bytesRead;
      }
    } finally {
      await fh?.close();
    }
  }

  /** Reports an answered request (`http-request`: request log, metrics, downloads in flight). */
  function reported(s: Socket<Conn>, r: ParsedRequest, started: number, route: string, status: number, bytes: number, device?: string, errorCode?: string): void {
    const e: HttpRequestDone = { method: r.method, route, status, bytes, durationMs: performance.now() - started, remoteAddress: s.data.remoteAddress };
    if (device) e.device = device;
    if (errorCode) e.errorCode = errorCode;
    deps.events.emit('http-request', e);
  }

  /**
   * Writes a head and an optional text body, then reports the request: WRITTEN, and no promise made,
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

  /** Writes a device reply (text, an in-memory image or a file range) and reports it. */
  function deliver(s: Socket<Conn>, r: ParsedRequest, started: number, reply: DeviceReply): Promise<void> {
    const body = reply.body;
    if (body === null || typeof body === 'string') return sendText(s, r, started, r.path, reply.status, reply.headers, body, reply.device, reply.errorCode);
    const head = responseHead(reply.status, reply.headers, r.keepAlive);
    const sent = Buffer.isBuffer(body)
      ? send(s, head).then(() => send(s, body)).then(() => body.byteLength)
      : send(s, head).then(() => sendFile(s, body.path, body.start, body.end)).then(() => body.end - body.start + 1);
    return sent.then(
      (bytes) => reported(s, r, started, r.path, reply.status, bytes, reply.device, reply.errorCode),
      (e) => {
        reported(s, r, started, r.path, reply.status, 0, reply.device, 'aborted');
        throw e;
      },
    );
  }

  function failedReply(e: unknown): DeviceReply {
    deps.logger.error('device API failed', { error: String(e) });
    return { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': '14' }, body: 'Internal error' };
  }

  function deviceRequest(s: Socket<Conn>, r: ParsedRequest): DeviceRequest {
    const dreq: DeviceRequest = { method: r.method, query: new URLSearchParams(r.query), headers: r.headers, remoteAddress: s.data.remoteAddress };
    if (s.data.peer) dreq.peerCertificate = s.data.peer;
    return dreq;
  }

  async function bridge(s: Socket<Conn>, r: ParsedRequest): Promise<{ status: number; bytes: number; route: string }> {
    const headers = new Headers();
    for (const name in r.headers) headers.set(name, r.headers[name] as string);
    const request = new Request(`http://localhost${r.target}`, { method: r.method, headers, ...(r.body ? { body: r.body } : {}) });
    let response: Response;
    try {
      response = await deps.fallback(request);
    } catch (e) {
      deps.logger.error('request failed', { error: String(e) });
      response = new Response('Internal error', { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' } });
    }
    const body = r.method === 'HEAD' ? new Uint8Array() : new Uint8Array(await response.arrayBuffer());
    const out: Record<string, string> = {};
    response.headers.forEach((v, k) => {
      if (k !== 'content-length' && k !== 'transfer-encoding' && k !== 'connection' && k !== 'keep-alive' && k !== 'date') out[k] = v;
    });
    const length = r.method === 'HEAD' ? response.headers.get('content-length') : String(body.byteLength);
    if (length !== null) out['content-length'] = length;
    await send(s, responseHead(response.status, out, r.keepAlive));
    if (body.byteLength) await send(s, body);
    return { status: response.status, bytes: body.byteLength, route: response.status === 404 ? 'unmatched' : r.path };
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
        return sendText(s, r, started, r.path, 405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8', 'content-length': '18' }, 'Method Not Allowed');
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
    return bridge(s, r).then(({ status, bytes, route }) => reported(s, r, started, route, status, bytes));
  }

  /** Answers the requests waiting in the connection's input, one at a time. */
  function pump(s: Socket<Conn>): void {
    const c = s.data;
    while (!c.busy && !c.closed && c.input) {
      const parsed = parseRequest(c.input);
      if (parsed.kind === 'more') {
        if (parsed.expectContinue && !c.continued) {
          c.continued = true;
          s.write('HTTP/1.1 100 Continue\r\n\r\n');
        }
        if (!stopping && !c.closing && !c.peerEnded) return;
        s.end();
        return;
      }
      if (parsed.kind === 'error') {
        const body = parsed.message;
        c.busy = true;
        c.input = null;
        void send(s, responseHead(parsed.status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(body.length) }, false) + body)
          .catch(() => {})
          .finally(() => s.end());
        return;
      }
      c.input = parsed.consumed >= c.input.length ? null : c.input.subarray(parsed.consumed);
      c.continued = false;
      c.busy = true;
      const r = parsed.request;
      r.keepAlive = r.keepAlive && !c.closing && !stopping;
      let answered: Promise<void>;
      try {
        answered = answer(s, r);
      } catch (e) {
        // Nothing is known to have been written whole: the connection cannot carry another answer.
        deps.logger.error('request failed', { error: String(e) });
        c.busy = false;
        s.end();
        return;
      }
      if (answered === WRITTEN) {
        c.busy = false;
        if (!r.keepAlive || (!c.input && (stopping || c.closing || c.peerEnded))) {
          s.end();
          return;
        }
        continue;
      }
      answered.then(
        () => {
          c.busy = false;
          if (!r.keepAlive) s.end();
          else if (c.input) pump(s);
          else if (stopping || c.closing || c.peerEnded) s.end();
        },
        () => {
          c.busy = false;
          s.end();
        },
      );
    }
  }

  const bind = (bindPort: number): TCPSocketListener<Conn> => Bun.listen<Conn>({
    hostname: host,
    port: bindPort,
    // A client that half-closes after its request still gets the answer.
    allowHalfOpen: true,
    ...(tls ? { tls: tls.options() } : {}),
    socket: {
      open(s) {
        s.data = { input: null, busy: false, closed: false, closing: false, pending: null, remoteAddress: s.remoteAddress ?? '', progressAt: 0, continued: false, peerEnded: false, ready: !tls };
        s.timeout(KEEP_ALIVE_SECONDS);
        conns.add(s);
      },
      data(s, chunk) {
        const c = s.data;
        // Copied: the input may wait for an answer in flight (pipelining) or for the rest of a request.
        c.input = c.input ? Buffer.concat([c.input, chunk]) : Buffer.from(chunk);
        if (c.input.length > MAX_HEAD_BYTES + MAX_BODY_BYTES + 64 * 1024 && c.busy) {
          // A client pipelining far ahead of the answers: stop reading its junk.
          s.end();
          return;
        }
        if (c.ready && !c.busy) pump(s);
      },
      handshake(s, success, authError) {
        if (!tls) return;
        const c = s.data;
        const peer = tls.handshake(s as Socket<unknown>, success, authError);
        if (peer === false) {
          c.closing = true;
          c.input = null;
          s.end();
          return;
        }
        if (peer) c.peer = peer;
        c.ready = true;
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
        if (c.input && c.ready) pump(s);
        else s.end();
      },
      timeout(s) {
        const c = s.data;
        if (!c.busy) s.end();
        // A download to a device that stopped reading: give up after a full period without progress.
        else if (c.pending && Date.now() - c.progressAt > KEEP_ALIVE_SECONDS * 1000) s.terminate();
        else s.timeout(KEEP_ALIVE_SECONDS);
      },
      close(s) {
        const c = s.data;
        c.closed = true;
        conns.delete(s);
        const p = c.pending;
        c.pending = null;
        p?.fail(new Error('connection closed'));
      },
      error(s) {
        const c = s.data;
        c.closed = true;
        const p = c.pending;
        c.pending = null;
        p?.fail(new Error('connection error'));
      },
    },
  });
  let listener: TCPSocketListener<Conn>;
  try {
    listener = bind(port);
  } catch (e) {
    throw listenFailure(options.addrFlag ?? '--listen-addr', addr, e);
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
        if (!s.data.busy) s.end();
        else s.data.closing = true;
      }
      const until = Date.now() + drainMs;
      while (conns.size > 0 && Date.now() < until) await Bun.sleep(10);
      for (const s of conns) s.terminate();
    },
  };
}
