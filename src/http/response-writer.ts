/**
 * Writing responses on a `Bun.listen` socket: response heads (with Date and Connection like
 * node:http), and writes that wait for `drain` when the socket is backpressured. A connection holds
 * at most one write in waiting (`pending`): a reference to the bytes being sent (the shared
 * in-memory image, one file chunk, or one answer), never a copy of an image.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'bun';

/** Seconds an idle keep-alive connection is kept open (also announced in `Keep-Alive`). */
export const KEEP_ALIVE_SECONDS = 65;
const FILE_CHUNK_BYTES = 64 * 1024;

/** The promise of a write the socket took whole at once: compare by identity to skip a wait. */
export const WRITTEN: Promise<void> = Promise.resolve();

/** What a connection tracks about its writes. */
export interface WriteState {
  closed: boolean;
  /** Bytes handed to `write` but not yet accepted by the socket. */
  pending: { data: Uint8Array; offset: number; done: () => void; fail: (e: Error) => void } | null;
  /** When the socket last accepted bytes of a backpressured write. */
  progressAt: number;
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

export function responseHead(status: number, headers: Record<string, string>, keepAlive: boolean): string {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
  for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
  head += `Date: ${httpDate()}\r\n`;
  head += keepAlive ? `Connection: keep-alive\r\nKeep-Alive: timeout=${KEEP_ALIVE_SECONDS}\r\n\r\n` : 'Connection: close\r\n\r\n';
  return head;
}

/**
 * The whole messages (head and body, encoded) of one shared header set, for the current second: a
 * poll answered from a remembered release writes bytes built once per second, not a head per request.
 */
interface SharedMessages {
  /** The second (`dateCachedAt`) the messages were built in. */
  at: number;
  status: number;
  /** The body the messages with a body were built with (compared by identity). */
  body: string | null;
  /** By connection mode: without a body (HEAD), with `body`. */
  keepAlive: [Buffer | null, Buffer | null];
  close: [Buffer | null, Buffer | null];
}

const sharedMessages = new WeakMap<Readonly<Record<string, string>>, SharedMessages>();

/**
 * Marks a header set as shared by many answers (one per release): it is frozen, and `responseMessage`
 * keeps its encoded messages for the current second.
 */
export function sharedHeaders<H extends Record<string, string>>(headers: H): Readonly<H> {
  Object.freeze(headers);
  sharedMessages.set(headers, { at: -1, status: 0, body: null, keepAlive: [null, null], close: [null, null] });
  return headers;
}

/**
 * A response's head followed by its text body (none when null), as written on the wire. For a header
 * set marked with `sharedHeaders`, the same bytes are returned for the rest of the second.
 */
export function responseMessage(status: number, headers: Record<string, string>, keepAlive: boolean, body: string | null): string | Buffer {
  const m = sharedMessages.get(headers);
  if (!m) return body === null ? responseHead(status, headers, keepAlive) : responseHead(status, headers, keepAlive) + body;
  httpDate();
  if (m.at !== dateCachedAt || m.status !== status) {
    m.at = dateCachedAt;
    m.status = status;
    m.body = null;
    m.keepAlive = [null, null];
    m.close = [null, null];
  }
  const slots = keepAlive ? m.keepAlive : m.close;
  if (body === null) return (slots[0] ??= Buffer.from(responseHead(status, headers, keepAlive)));
  if (m.body !== body) {
    m.body = body;
    m.keepAlive[1] = null;
    m.close[1] = null;
  }
  return (slots[1] ??= Buffer.from(responseHead(status, headers, keepAlive) + body));
}

/** Writes all of `data`; WRITTEN when the socket took it at once, else a promise settled on `drain`. */
export function send(s: Socket<WriteState>, data: string | Uint8Array): Promise<void> {
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

/** Continues a backpressured write (the socket's `drain`). */
export function flush(s: Socket<WriteState>): void {
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

/** Fails the write in waiting (the connection closed or failed). */
export function failPending(c: WriteState, why: string): void {
  const p = c.pending;
  c.pending = null;
  p?.fail(new Error(why));
}

/** Writes bytes `start..end` (inclusive) of a file in 64 KiB chunks, one in flight at a time. */
export async function sendFile(s: Socket<WriteState>, path: string, start: number, end: number): Promise<void> {
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
