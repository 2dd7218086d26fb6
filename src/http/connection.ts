/**
 * The state of one device-listener connection, and the small moves on it that need nothing else:
 * pausing and resuming reads, and closing our side with a bounded linger.
 */
import type { Socket } from 'bun';
import type { PeerCertificate } from '../plugin.ts';
import type { RequestHead } from './request-head.ts';
import type { WriteState } from './response-writer.ts';

/** How long a connection we closed (or answered an error) may stay before it is cut. */
export const LINGER_MS = 5000;
/** What a closing connection may still send (read and dropped) before it is no longer read at all. */
export const LINGER_DISCARD_BYTES = 64 * 1024;

export type ParsedRequest = RequestHead & { body: Buffer | null };

export interface Conn extends WriteState {
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
  /** Reading is paused: the client sent too far ahead of the answers, or was answered an error. */
  paused: boolean;
  /** Close once the current response is written (server shutting down, client too far ahead). */
  closing: boolean;
  /** We closed our side (or answered an error): input is dropped, and the socket is cut at this time. */
  lingerUntil: number;
  /** Bytes dropped since we closed our side. */
  discarded: number;
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

/** A new connection's state; the head deadline runs from now (the first request's, like nginx). */
export function newConnection(remoteAddress: string, admitted: boolean, ready: boolean): Conn {
  return {
    input: null, scanned: 0, since: Date.now(), body: null, reserved: 0, busy: false, paused: false, closed: !admitted, closing: false,
    lingerUntil: 0, discarded: 0, admitted, pending: null, remoteAddress, progressAt: 0, continued: false, peerEnded: false, ready,
  };
}

export function pauseReading(s: Socket<Conn>): void {
  if (s.data.paused) return;
  s.data.paused = true;
  s.pause();
}

/** Resumes reading a paused connection: its input is used up, or it needs more to go on. */
export function readOn(s: Socket<Conn>): void {
  if (!s.data.paused) return;
  s.data.paused = false;
  s.resume();
}

/**
 * Closes our side once nothing more is to be written (a lingering close, as nginx does): a FIN goes
 * out, what the client still sends is read and dropped (up to LINGER_DISCARD_BYTES, then it is no
 * longer read), and the socket closes when the client closes its side, or is cut after LINGER_MS.
 * Closing at once while the client's bytes lie unread would send a reset, which can destroy the
 * answer before the client has read it.
 */
export function finish(s: Socket<Conn>): void {
  const c = s.data;
  c.input = null;
  c.body = null;
  if (!c.lingerUntil) c.lingerUntil = Date.now() + LINGER_MS;
  // The client already closed its side: nothing to wait for.
  if (c.peerEnded) {
    s.end();
    return;
  }
  if (c.discarded <= LINGER_DISCARD_BYTES) readOn(s);
  s.shutdown();
}

/** Bytes from a client whose connection is closing: dropped, and past the allowance no longer read. */
export function discard(s: Socket<Conn>, bytes: number): void {
  s.data.discarded += bytes;
  if (s.data.discarded > LINGER_DISCARD_BYTES) pauseReading(s);
}
