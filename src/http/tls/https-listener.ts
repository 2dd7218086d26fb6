/**
 * The HTTPS listener. Bun.serve cannot hand the client certificate to a handler and Bun's
 * node:https sockets have no `getPeerCertificate`, so this listener is `Bun.listen({ tls })` with a
 * small HTTP/1.1 layer (./http1.ts): measured on the 2-vCPU gateway it serves /version over mTLS
 * at 1.5× nginx's rate, where node:tls feeding node:http reached a quarter of nginx (README, bench/mtls.ts).
 *
 * Client certificates must chain to `clientCa` (checked by the TLS stack); a revoked or expired one
 * is refused right after the handshake, so it never reaches the API. /version, /firmware and
 * /health are answered here; other routes go to the Elysia app like on the plain listener.
 */
import type { Socket, TCPSocketListener } from 'bun';
import type { Logger, PeerCertificate } from '../../plugin.ts';
import type { TlsConfig } from '../../config/define.ts';
import { firmwareRoute, versionRoute, type DeviceReply } from '../device-api.ts';
import type { FrontDoorDeps } from '../front-door.ts';
import { parseListenAddr } from '../listen.ts';
import { MAX_BODY_BYTES, MAX_HEAD_BYTES, parseRequestHead, type RequestHead } from './http1.ts';
import { SocketWriter } from './socket-writer.ts';
import { toPeerCertificate, type SocketCertificate } from './peer-certificate.ts';
import { loadTlsMaterial, watchTlsFiles, type TlsMaterial } from './tls-material.ts';
import { resolve } from 'node:path';

export interface HttpsListenerOptions {
  tls: TlsConfig & { listenAddr: string };
  /** Relative paths in `tls` resolve against this folder. */
  configDir: string;
  deps: FrontDoorDeps;
  logger: Logger;
  /** Watch the files and SIGHUP for reloads (default true). */
  watch?: boolean;
}

interface Conn {
  buf: Buffer;
  writer?: SocketWriter;
  peer?: PeerCertificate;
  busy: boolean;
  /** Set after the handshake passed our own checks. */
  ready: boolean;
  closing: boolean;
  /** The client half-closed: answer what it sent, then close. */
  peerEnded: boolean;
}

const IDLE_SECONDS = 65;
/** Bytes a connection may have waiting: one largest head and body, plus slack. */
const MAX_BUFFERED = MAX_HEAD_BYTES + MAX_BODY_BYTES + 64 * 1024;
const REASONS: Record<number, string> = {
  200: 'OK', 204: 'No Content', 206: 'Partial Content', 304: 'Not Modified', 400: 'Bad Request', 401: 'Unauthorized',
  403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 411: 'Length Required', 413: 'Content Too Large',
  416: 'Range Not Satisfiable', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large', 500: 'Internal Server Error',
  502: 'Bad Gateway', 503: 'Service Unavailable', 505: 'HTTP Version Not Supported',
};

export class HttpsListener {
  private listener: TCPSocketListener<Conn>;
  private material: TlsMaterial;
  private stopWatching: () => void = () => {};
  private readonly sockets = new Set<Socket<Conn>>();
  private stopping = false;

  private constructor(private readonly opts: HttpsListenerOptions, material: TlsMaterial, listener: TCPSocketListener<Conn>) {
    this.material = material;
    this.listener = listener;
  }

  /** Loads the files, binds, and starts watching for changes. */
  static start(opts: HttpsListenerOptions): HttpsListener {
    const material = loadTlsMaterial(opts.tls, opts.configDir);
    const { host, port } = parseListenAddr(opts.tls.listenAddr);
    const self: HttpsListener = new HttpsListener(opts, material, undefined as unknown as TCPSocketListener<Conn>);
    try {
      self.listener = self.bind(host, port);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(code === 'EADDRINUSE' ? `cannot listen on ${opts.tls.listenAddr}: the address is in use (pick another with --tls-listen-addr)` : `cannot listen on ${opts.tls.listenAddr}: ${(e as Error).message}`);
    }
    if (opts.watch !== false) {
      const t = opts.tls;
      const files = [t.cert, t.key, t.clientCa, t.crl].filter((f): f is string => !!f).map((f) => resolve(opts.configDir, f));
      self.stopWatching = watchTlsFiles(files, opts.logger, (why) => self.reload(why));
    }
    return self;
  }

  get port(): number {
    return this.listener.port;
  }

  /**
   * Re-reads the files; when they changed and are valid, new connections use them (the listener is
   * re-bound on the same port; open connections continue). A broken set is logged and ignored.
   */
  reload(why = 'requested'): boolean {
    let next: TlsMaterial;
    try {
      next = loadTlsMaterial(this.opts.tls, this.opts.configDir);
    } catch (e) {
      this.opts.logger.error('TLS reload failed: keeping the previous certificates', { reason: why, error: (e as Error).message });
      return false;
    }
    if (next.digest === this.material.digest) return false;
    const port = this.listener.port;
    const { host } = parseListenAddr(this.opts.tls.listenAddr);
    const prev = this.material;
    this.material = next;
    this.listener.stop(false);
    try {
      this.listener = this.bind(host, port);
    } catch (e) {
      this.material = prev;
      this.listener = this.bind(host, port);
      this.opts.logger.error('TLS reload failed: keeping the previous certificates', { reason: why, error: (e as Error).message });
      return false;
    }
    this.opts.logger.info('TLS certificates reloaded', { reason: why, clientCa: !!next.ca, revoked: next.revoked?.serials.size ?? 0 });
    return true;
  }

  /** Stops accepting, closes idle connections, and waits for none to be open. */
  async close(): Promise<void> {
    this.stopping = true;
    this.stopWatching();
    this.listener.stop(false);
    for (const s of this.sockets) if (!s.data.busy) s.end();
    const deadline = Date.now() + 5000;
    while (this.sockets.size > 0 && Date.now() < deadline) await Bun.sleep(10);
    for (const s of this.sockets) s.terminate();
  }

  private bind(hostname: string, port: number): TCPSocketListener<Conn> {
    const m = this.material;
    return Bun.listen<Conn>({
      hostname,
      port,
      // A client that half-closes after its request still gets the answer.
      allowHalfOpen: true,
      tls: {
        cert: m.cert,
        key: m.key,
        ...(m.ca ? { ca: m.ca, requestCert: true, rejectUnauthorized: m.requireClientCert } : {}),
      },
      socket: {
        open: (s) => {
          s.data = { buf: Buffer.alloc(0), busy: false, ready: false, closing: false, peerEnded: false };
          s.data.writer = new SocketWriter(s as Socket<unknown>);
          this.sockets.add(s);
          s.timeout(IDLE_SECONDS);
        },
        handshake: (s, success, authError) => this.handshake(s, m, success, authError),
        data: (s, chunk) => {
          const c = s.data;
          // Copied: the bytes may wait for the answer in flight (pipelining) or for the rest of a request.
          c.buf = c.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([c.buf, chunk]);
          if (c.buf.length > MAX_BUFFERED) {
            // A client sending far ahead of the answers: stop reading it.
            c.closing = true;
            s.end();
            return;
          }
          if (c.ready && !c.busy) this.next(s);
        },
        drain: (s) => s.data.writer?.drain(),
        end: (s) => {
          const c = s.data;
          c.peerEnded = true;
          if (c.busy) return;
          if (c.ready && c.buf.length > 0) this.next(s);
          if (!c.busy) s.end();
        },
        close: (s) => {
          s.data.writer?.closed();
          this.sockets.delete(s);
        },
        timeout: (s) => {
          // Idle keep-alive connections close; one answering a request (a slow download) gets another period.
          if (s.data.busy) s.timeout(IDLE_SECONDS);
          else s.end();
        },
        error: (s, e) => this.opts.logger.debug('TLS connection error', { remoteAddress: s.remoteAddress, error: e.message }),
      },
    });
  }

  private handshake(s: Socket<Conn>, m: TlsMaterial, success: boolean, authError: Error | null): void {
    const remoteAddress = s.remoteAddress;
    if (!success) {
      const error = authError?.message ?? 'unknown';
      // TLS-stack refusals read `error:…:SSL routines:…` (no certificate, unknown CA, expired); a client that
      // went away mid-handshake is not an authentication failure.
      if (/SSL routines|certificate/i.test(error)) this.refuse(s, 'client certificate refused', { remoteAddress, error });
      else {
        this.opts.logger.debug('TLS handshake not completed', { remoteAddress, error });
        s.end();
      }
      return;
    }
    if (authError) this.opts.logger.debug('TLS handshake', { remoteAddress, error: authError.message });
    if (m.ca) {
      const peer = toPeerCertificate((s as unknown as { getPeerCertificate(): SocketCertificate | null }).getPeerCertificate());
      if (authError && peer) {
        this.refuse(s, 'client certificate refused', { remoteAddress, presented: describe(peer), error: authError.message });
        return;
      }
      if (peer) {
        const now = Date.now();
        if (now > peer.validTo.getTime() || now < peer.validFrom.getTime()) {
          this.refuse(s, 'client certificate refused', { remoteAddress, presented: describe(peer), error: 'certificate is expired or not yet valid' });
          return;
        }
        if (m.revoked?.serials.has(peer.serialNumber)) {
          this.refuse(s, 'client certificate refused', { remoteAddress, presented: describe(peer), error: 'certificate is revoked (CRL)' });
          return;
        }
        s.data.peer = peer;
      } else if (m.requireClientCert) {
        this.refuse(s, 'client certificate refused', { remoteAddress, error: 'no client certificate' });
        return;
      }
    }
    s.data.ready = true;
    if (s.data.buf.length > 0) this.next(s);
  }

  private refuse(s: Socket<Conn>, msg: string, fields: Record<string, unknown>): void {
    this.opts.logger.warn(msg, fields);
    this.opts.deps.events.emit('auth-failed', {
      remoteAddress: String(fields.remoteAddress ?? ''), stage: 'tls', reason: String(fields.error ?? msg),
      ...(typeof fields.presented === 'string' ? { presented: fields.presented } : {}),
    });
    s.data.closing = true;
    s.end();
  }

  /** Parses and answers the next buffered request, one at a time per connection. */
  private next(s: Socket<Conn>): void {
    const c = s.data;
    if (c.closing || c.busy) return;
    const r = parseRequestHead(c.buf);
    if (r.kind === 'incomplete') return;
    if (r.kind === 'error') {
      c.closing = true;
      const body = `${REASONS[r.status]}: ${r.reason}`;
      this.writeHead(c, r.status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) }, false);
      c.writer?.write(body);
      void c.writer?.flushed().then(() => s.end());
      return;
    }
    if (c.buf.length < r.consumed + r.head.bodyLength) return;
    const body = c.buf.subarray(r.consumed, r.consumed + r.head.bodyLength);
    c.buf = c.buf.subarray(r.consumed + r.head.bodyLength);
    c.busy = true;
    this.answer(s, r.head, body).then(
      () => this.afterResponse(s, r.head.keepAlive),
      (e) => {
        // A device that hung up is already reported (http-request, errorCode 'aborted').
        if (!c.writer?.isDead) this.opts.logger.error('HTTPS request failed', { error: (e as Error).message });
        s.end();
      },
    );
  }

  private afterResponse(s: Socket<Conn>, keepAlive: boolean): void {
    const c = s.data;
    c.busy = false;
    if (!keepAlive || c.closing || this.stopping || (c.peerEnded && c.buf.length === 0)) {
      c.closing = true;
      void c.writer?.flushed().then(() => s.end());
      return;
    }
    if (c.buf.length > 0) this.next(s);
  }

  private async answer(s: Socket<Conn>, head: RequestHead, body: Buffer): Promise<void> {
    const started = performance.now();
    const { deps } = this.opts;
    const c = s.data;
    const url = head.url;
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const remoteAddress = s.remoteAddress;
    const done = (route: string, status: number, bytes: number, device?: string, errorCode?: string) =>
      deps.events.emit('http-request', { method: head.method, route, status, bytes, durationMs: performance.now() - started, remoteAddress, ...(device ? { device } : {}), ...(errorCode ? { errorCode } : {}) });

    if (path === '/version' || path === '/firmware') {
      if (head.method !== 'GET' && head.method !== 'HEAD') {
        this.writeHead(c, 405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8', 'content-length': '18' }, head.keepAlive, head.version);
        c.writer?.write('Method Not Allowed');
        done(path, 405, 18);
        return;
      }
      const dreq = {
        method: head.method,
        query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)),
        headers: head.headers,
        remoteAddress,
        ...(c.peer ? { peerCertificate: c.peer } : {}),
      };
      let reply: DeviceReply;
      try {
        reply = await (path === '/version' ? versionRoute : firmwareRoute)(dreq, deps);
      } catch (e) {
        deps.logger.error('device API failed', { error: String(e) });
        reply = { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': '14' }, body: 'Internal error' };
      }
      let bytes: number;
      try {
        bytes = await this.writeReply(c, reply, head);
      } catch (e) {
        // Reported even when cut short: listeners (downloads in flight) wait for this event.
        done(path, reply.status, 0, reply.device, 'aborted');
        throw e;
      }
      done(path, reply.status, bytes, reply.device, reply.errorCode);
      return;
    }
    if (path === '/health') {
      this.writeHead(c, 200, { 'content-length': '0' }, head.keepAlive, head.version);
      done(path, 200, 0);
      return;
    }
    const headers = new Headers();
    for (const [k, v] of Object.entries(head.headers)) headers.set(k, v);
    const hasBody = head.method !== 'GET' && head.method !== 'HEAD';
    let response: Response;
    try {
      response = await deps.fallback(new Request(`http://localhost${url}`, { method: head.method, headers, ...(hasBody ? { body } : {}) }));
    } catch (e) {
      deps.logger.error('request failed', { error: String(e) });
      response = new Response('Internal error', { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' } });
    }
    const out = head.method === 'HEAD' ? new Uint8Array() : new Uint8Array(await response.arrayBuffer());
    const h: Record<string, string> = {};
    response.headers.forEach((v, k) => (h[k] = v));
    if (head.method !== 'HEAD') h['content-length'] = String(out.byteLength);
    this.writeHead(c, response.status, h, head.keepAlive, head.version);
    c.writer?.write(out);
    done(response.status === 404 ? 'unmatched' : path, response.status, out.byteLength);
  }

  /** Writes a device reply, streaming file bodies with backpressure; returns the body bytes sent. */
  private async writeReply(c: Conn, reply: DeviceReply, head: RequestHead): Promise<number> {
    const body = reply.body;
    const headText = this.headText(reply.status, reply.headers, head.keepAlive, head.version);
    if (body === null) {
      c.writer?.write(headText);
      return 0;
    }
    if (typeof body === 'string' || Buffer.isBuffer(body)) {
      // Head and a small body in one write: one TLS record and one syscall for a /version answer.
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      if (bytes.byteLength <= 64 * 1024) c.writer?.write(Buffer.concat([Buffer.from(headText, 'latin1'), bytes]));
      else {
        c.writer?.write(headText);
        c.writer?.write(bytes);
      }
      return bytes.byteLength;
    }
    c.writer?.write(headText);
    const reader = Bun.file(body.path).slice(body.start, body.end + 1).stream().getReader();
    let sent = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (!c.writer?.write(value)) throw new Error('connection closed');
        sent += value.byteLength;
        if (c.writer.pending) await c.writer.flushed();
      }
      if (c.writer?.isDead) throw new Error('connection closed');
    } finally {
      reader.releaseLock();
    }
    return sent;
  }

  private writeHead(c: Conn, status: number, headers: Record<string, string>, keepAlive: boolean, version: '1.0' | '1.1' = '1.1'): void {
    c.writer?.write(this.headText(status, headers, keepAlive, version));
  }

  private headText(status: number, headers: Record<string, string>, keepAlive: boolean, version: '1.0' | '1.1'): string {
    let head = `HTTP/1.1 ${status} ${REASONS[status] ?? 'Unknown'}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    head += `date: ${httpDate()}\r\n`;
    if (!keepAlive) head += 'connection: close\r\n';
    else if (version === '1.0') head += 'connection: keep-alive\r\n';
    return `${head}\r\n`;
  }
}

let dateCache = '';
let dateAt = 0;
function httpDate(): string {
  const now = Date.now();
  if (now - dateAt >= 1000) {
    dateAt = now - (now % 1000);
    dateCache = new Date(now).toUTCString();
  }
  return dateCache;
}

/** What a certificate claims to be, for logs: subject CN, else the first SAN, plus the serial. */
export function describe(peer: PeerCertificate): string {
  return `${peer.subject.CN ? `CN=${peer.subject.CN}` : (peer.subjectAltNames[0] ?? 'no subject')} serial=${peer.serialNumber}`;
}
