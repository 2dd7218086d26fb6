/**
 * Drives a device-listener connection through HTTP/1.1: reads request heads and bodies from what the
 * client sends, enforces their bounds (front-door.ts), answers requests one at a time in order
 * (pipelining), and closes. Every refusal is an answer (status, one-line body, `Connection: close`)
 * followed by a close, never a silent one.
 *
 * - Heads: request-head.ts reads and validates them; a head must be whole within the head deadline.
 * - Bodies: only routes that take one (body-budget.ts), each within the body limit and the shared
 *   budget, received straight into a buffer of the declared length, whole within the deadline too.
 * - Input sent ahead of the answer in progress is held up to `maxPipelinedBytes`, then the socket is
 *   not read until it is used up; a client more than twice that far ahead is not a device: its
 *   read-ahead is dropped and the connection closes after the current answer.
 */
import type { Socket } from 'bun';
import type { Logger } from '../plugin.ts';
import { readHead, type RequestHead } from './request-head.ts';
import { routeTakesBody } from './body-budget.ts';
import type { FrontDoor } from './front-door.ts';
import { responseHead, send, WRITTEN } from './response-writer.ts';
import { discard, finish, LINGER_MS, pauseReading, readOn, type Conn, type ParsedRequest } from './connection.ts';

export interface DriverOptions {
  frontDoor: FrontDoor;
  answer(s: Socket<Conn>, r: ParsedRequest): Promise<void>;
  logger: Logger;
  /** The listener is shutting down: answer what is in flight, take no new requests. */
  stopping(): boolean;
}

export class ConnectionDriver {
  private readonly limits;

  constructor(private readonly o: DriverOptions) {
    this.limits = o.frontDoor.limits;
  }

  /** Bytes arrived from the client. */
  received(s: Socket<Conn>, chunk: Buffer): void {
    const c = s.data;
    if (!c.admitted) return;
    if (c.lingerUntil) return discard(s, chunk.length);
    const b = c.body;
    if (b && !c.input && !c.busy) {
      // A body being received: straight into its buffer, without an intermediate copy.
      const n = Math.min(chunk.length, b.buf.length - b.filled);
      chunk.copy(b.buf, b.filled, 0, n);
      b.filled += n;
      if (n < chunk.length) c.input = Buffer.from(chunk.subarray(n));
      this.pump(s);
      return;
    }
    if (!c.input && !c.busy && c.ready) {
      // The common case, a whole request in one chunk: read in place. What is left once the answers
      // written at once are done (the rest of a request, pipelined requests) is copied, below.
      c.input = chunk;
      this.pump(s);
      if (c.input && c.input.buffer === chunk.buffer) c.input = Buffer.from(c.input);
      return;
    }
    // Copied: the input may wait for an answer in flight (pipelining) or for the rest of a request.
    c.input = c.input ? Buffer.concat([c.input, chunk]) : Buffer.from(chunk);
    if (!c.busy && c.ready) {
      this.pump(s);
      return;
    }
    if (c.input.length <= this.limits.maxPipelinedBytes) return;
    if (c.input.length > 2 * this.limits.maxPipelinedBytes) {
      c.input = null;
      c.closing = true;
    }
    pauseReading(s);
  }

  /** The client sent FIN (e.g. `printf 'GET …' | nc`): answer what it sent, then close. */
  peerEnded(s: Socket<Conn>): void {
    const c = s.data;
    c.peerEnded = true;
    // Both sides are closed: nothing more to wait for.
    if (c.lingerUntil && !c.busy) {
      s.end();
      return;
    }
    if (c.busy) return;
    if (c.input && c.ready && !c.lingerUntil) this.pump(s);
    else finish(s);
  }

  /** The connection closed: it holds nothing any more (an answer in flight gives its body back when it settles). */
  closed(s: Socket<Conn>): void {
    const c = s.data;
    c.input = null;
    c.body = null;
    if (!c.busy) this.releaseBody(c);
  }

  /**
   * Enforces the head deadline (and the body's, counted from the end of its head) on `conns`,
   * however slowly the bytes trickle in: 408 and a close when a request was begun, a plain close
   * when no byte came. Cuts the connections whose linger is over.
   */
  sweep(conns: Iterable<Socket<Conn>>): void {
    const now = Date.now();
    for (const s of conns) {
      const c = s.data;
      if (c.lingerUntil) {
        if (now >= c.lingerUntil) s.terminate();
        continue;
      }
      if (c.busy || !c.since || now - c.since < this.limits.headerTimeoutMs) continue;
      if (c.input || c.body) this.refuse(s, 408, 'Request Timeout');
      else finish(s);
    }
  }

  /** Answers the requests waiting in the connection's input, one at a time. */
  pump(s: Socket<Conn>): void {
    const c = s.data;
    const stopping = () => this.o.stopping() || c.closing || c.peerEnded;
    while (!c.busy && !c.closed && !c.lingerUntil) {
      if (c.body) {
        if (!this.fillBody(c)) {
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
        if (!this.dispatch(s, { ...head, body: buf })) return;
        continue;
      }
      if (!c.input) {
        if (stopping()) finish(s);
        else readOn(s);
        return;
      }
      const parsed = readHead(c.input, c.scanned, this.limits.maxHeadBytes);
      if (parsed.kind === 'more') {
        c.scanned = parsed.scanned;
        if (!c.since) c.since = Date.now();
        if (stopping()) finish(s);
        else readOn(s);
        return;
      }
      if (parsed.kind === 'error') {
        this.refuse(s, parsed.status, parsed.message);
        return;
      }
      c.input = parsed.consumed >= c.input.length ? null : c.input.subarray(parsed.consumed);
      c.scanned = 0;
      const head = parsed.head;
      if (head.contentLength === 0) {
        if (!this.dispatch(s, head)) return;
        continue;
      }
      if (!this.startBody(s, head)) return;
    }
  }

  /**
   * Answers an error and closes (a lingering close: connection.ts `finish`). What the client sends
   * from now on is dropped, and past a small allowance no longer read, so a client blasting bytes
   * costs neither memory nor CPU.
   */
  refuse(s: Socket<Conn>, status: number, message: string, headers: Record<string, string> = {}): void {
    const c = s.data;
    c.input = null;
    c.body = null;
    this.releaseBody(c);
    c.lingerUntil = Date.now() + LINGER_MS;
    c.busy = true;
    const head = responseHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(message.length), ...headers }, false);
    void send(s, head + message).catch(() => {}).finally(() => {
      c.busy = false;
      finish(s);
    });
  }

  /** Checks a declared body against the route, the body limit and the shared budget; false when refused. */
  private startBody(s: Socket<Conn>, head: RequestHead): boolean {
    const c = s.data;
    const length = head.contentLength;
    if (!routeTakesBody(head.method, head.path)) {
      this.refuse(s, 413, 'Content Too Large: this route takes no request body');
      return false;
    }
    if (length > this.limits.maxBodyBytes) {
      this.refuse(s, 413, 'Content Too Large');
      return false;
    }
    if (!this.o.frontDoor.bodies.reserve(length)) {
      this.refuse(s, 503, 'Service Unavailable: too many request bodies in flight, retry later', { 'retry-after': '5' });
      return false;
    }
    c.reserved = length;
    c.body = { head, buf: Buffer.allocUnsafe(length), filled: 0 };
    c.since = Date.now();
    return true;
  }

  /** Moves input into the body being received; true once it is complete. */
  private fillBody(c: Conn): boolean {
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
  private dispatch(s: Socket<Conn>, r: ParsedRequest): boolean {
    const c = s.data;
    c.busy = true;
    c.continued = false;
    c.since = 0;
    r.keepAlive = r.keepAlive && !c.closing && !this.o.stopping();
    let answered: Promise<void>;
    try {
      answered = this.o.answer(s, r);
    } catch (e) {
      // Nothing is known to have been written whole: the connection cannot carry another answer.
      this.o.logger.error('request failed', { error: String(e) });
      this.idle(s);
      finish(s);
      return false;
    }
    if (answered === WRITTEN) {
      this.idle(s);
      if (!r.keepAlive || (!c.input && (this.o.stopping() || c.closing || c.peerEnded))) {
        finish(s);
        return false;
      }
      return true;
    }
    answered.then(
      () => {
        this.idle(s);
        if (!r.keepAlive) finish(s);
        else if (c.input) this.pump(s);
        else if (this.o.stopping() || c.closing || c.peerEnded) finish(s);
      },
      () => {
        this.idle(s);
        finish(s);
      },
    );
    return false;
  }

  /** Nothing is being answered any more; reading resumes once the input read ahead is used up. */
  private idle(s: Socket<Conn>): void {
    const c = s.data;
    c.busy = false;
    this.releaseBody(c);
    if (!c.input || c.input.length <= this.limits.maxPipelinedBytes) readOn(s);
  }

  private releaseBody(c: Conn): void {
    if (c.reserved === 0) return;
    this.o.frontDoor.bodies.release(c.reserved);
    c.reserved = 0;
  }
}
