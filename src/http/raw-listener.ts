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
 * (`Expect: 100-continue` is answered). The parts, one job each:
 *
 *   request-head.ts       reads and validates a request head
 *   connection-driver.ts  a connection's requests in order: heads, bodies, deadlines, refusals
 *   request-answers.ts    answers one request (device routes, docs assets, the app)
 *   response-writer.ts    response heads and writes with backpressure
 *   front-door.ts         the bounds, and the state the listeners share: connection-gate.ts (the
 *                         connection cap), body-budget.ts (request bodies)
 *
 * This file binds the socket listener, admits connections and feeds the driver its socket events.
 */
import type { Socket, TCPSocketListener, TLSOptions } from 'bun';
import type { PeerCertificate } from '../plugin.ts';
import { listenFailure, parseListenAddr } from './listen.ts';
import { countConnections } from '../metrics/open-connections.ts';
import { DEFAULT_LIMITS, FrontDoor } from './front-door.ts';
import { failPending, flush, KEEP_ALIVE_SECONDS } from './response-writer.ts';
import { finish, newConnection, readOn, type Conn } from './connection.ts';
import { ConnectionDriver } from './connection-driver.ts';
import { requestAnswerer, type AnswerDeps } from './request-answers.ts';

/** What the listener needs: the device API's services, the event bus, and the app for other routes. */
export interface ListenerDeps extends AnswerDeps {
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
  /** SO_REUSEPORT: several processes (`--workers`) bind the same port and the kernel spreads connections. */
  reusePort?: boolean;
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
  const conns = new Set<Socket<Conn>>();
  countConnections(deps.events, tls ? 'tls' : 'device', conns);
  let stopping = false;
  const driver = new ConnectionDriver({ frontDoor, answer: requestAnswerer(deps, tls ? 'https' : 'http'), logger: deps.logger, stopping: () => stopping });
  // The head deadline is checked a few times per period, whatever the number of connections.
  const sweeper = setInterval(() => driver.sweep(conns), Math.max(50, Math.min(1000, frontDoor.limits.headerTimeoutMs / 4)));
  sweeper.unref();

  const bind = (bindPort: number): TCPSocketListener<Conn> => Bun.listen<Conn>({
    hostname: host,
    port: bindPort,
    // A client that half-closes after its request still gets the answer.
    allowHalfOpen: true,
    ...(options.reusePort ? { reusePort: true } : {}),
    ...(tls ? { tls: tls.options() } : {}),
    socket: {
      open(s) {
        const admitted = frontDoor.gate.admit();
        s.data = newConnection(s.remoteAddress ?? '', admitted, !tls);
        // Over the connection cap: closed before a byte of it is read.
        if (!admitted) return s.terminate();
        s.timeout(KEEP_ALIVE_SECONDS);
        conns.add(s);
      },
      data(s, chunk) {
        driver.received(s, chunk);
      },
      handshake(s, success, authError) {
        const c = s.data;
        if (!tls || !c.admitted) return;
        const peer = tls.handshake(s as Socket<unknown>, success, authError);
        if (peer === false) {
          c.closing = true;
          return finish(s);
        }
        if (peer) c.peer = peer;
        c.ready = true;
        readOn(s);
        if (c.input && !c.busy) driver.pump(s);
      },
      drain(s) {
        flush(s);
      },
      end(s) {
        driver.peerEnded(s);
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
        driver.closed(s);
        failPending(c, 'connection closed');
      },
      error(s) {
        s.data.closed = true;
        failPending(s.data, 'connection error');
      },
    },
  });
  let listener: TCPSocketListener<Conn>;
  try {
    listener = bind(port);
  } catch (e) {
    clearInterval(sweeper);
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
