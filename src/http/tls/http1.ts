/**
 * A small, strict HTTP/1.x request-head parser for the TLS listener. It accepts what devices send
 * (leading CRLFs before the request line, as the ESP32 example client does; bare LF line ends;
 * HTTP/1.0) and refuses the rest: heads over 16 KiB, chunked request bodies, bad request lines.
 * Bodies are framed by Content-Length only.
 */

/** Largest request head accepted; bigger is answered 431. */
export const MAX_HEAD_BYTES = 16 * 1024;

/** Largest request body accepted (webhooks and the status API); bigger is answered 413. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface RequestHead {
  method: string;
  /** Request target as sent (`/version?device=x`). */
  url: string;
  /** `1.0` or `1.1`. */
  version: '1.0' | '1.1';
  /** Lower-cased names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  /** Body length from Content-Length (0 when absent). */
  bodyLength: number;
  /** Whether the connection stays open after the response. */
  keepAlive: boolean;
}

export type ParseResult =
  | { kind: 'incomplete' }
  | { kind: 'error'; status: 400 | 411 | 413 | 431 | 505; reason: string }
  | { kind: 'head'; head: RequestHead; /** Bytes the head used (including leading CRLFs). */ consumed: number };

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Parses one request head from the start of `buf` (latin1 bytes). */
export function parseRequestHead(buf: Buffer): ParseResult {
  let start = 0;
  while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
  if (start === buf.length) return start > MAX_HEAD_BYTES ? { kind: 'error', status: 400, reason: 'too many empty lines' } : { kind: 'incomplete' };
  const end = findHeadEnd(buf, start);
  if (!end) return buf.length - start > MAX_HEAD_BYTES ? { kind: 'error', status: 431, reason: 'request head too large' } : { kind: 'incomplete' };
  if (end.textEnd - start > MAX_HEAD_BYTES) return { kind: 'error', status: 431, reason: 'request head too large' };
  const text = buf.toString('latin1', start, end.textEnd).replace(/\r$/, '');
  const lines = text.split(/\r?\n/);
  const requestLine = (lines[0] ?? '').split(' ');
  if (requestLine.length !== 3) return { kind: 'error', status: 400, reason: 'malformed request line' };
  const [method = '', url = '', proto = ''] = requestLine;
  if (!TOKEN.test(method) || !url.startsWith('/')) return { kind: 'error', status: 400, reason: 'malformed request line' };
  if (proto !== 'HTTP/1.1' && proto !== 'HTTP/1.0') return { kind: 'error', status: 505, reason: `unsupported protocol ${proto.slice(0, 16)}` };
  const headers: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return { kind: 'error', status: 400, reason: 'malformed header line' };
    const name = line.slice(0, colon).toLowerCase();
    if (!TOKEN.test(name)) return { kind: 'error', status: 400, reason: 'malformed header name' };
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  if (headers['transfer-encoding'] !== undefined) return { kind: 'error', status: 411, reason: 'chunked request bodies are not accepted: send Content-Length' };
  let bodyLength = 0;
  const cl = headers['content-length'];
  if (cl !== undefined) {
    if (!/^\d{1,10}$/.test(cl)) return { kind: 'error', status: 400, reason: 'invalid content-length' };
    bodyLength = Number(cl);
    if (bodyLength > MAX_BODY_BYTES) return { kind: 'error', status: 413, reason: 'request body too large' };
  }
  const version = proto === 'HTTP/1.1' ? '1.1' : '1.0';
  const connection = (headers.connection ?? '').toLowerCase();
  const keepAlive = version === '1.1' ? !connection.includes('close') : connection.includes('keep-alive');
  return { kind: 'head', head: { method, url, version, headers, bodyLength, keepAlive }, consumed: end.next };
}

/** Where the blank line that ends the head is: the head text ends at `textEnd`, the body starts at `next`. */
function findHeadEnd(buf: Buffer, from: number): { textEnd: number; next: number } | undefined {
  for (let i = buf.indexOf(0x0a, from); i >= 0 && i < buf.length - 1; i = buf.indexOf(0x0a, i + 1)) {
    if (buf[i + 1] === 0x0a) return { textEnd: i, next: i + 2 };
    if (buf[i + 1] === 0x0d && i + 2 < buf.length && buf[i + 2] === 0x0a) return { textEnd: i, next: i + 3 };
  }
  return undefined;
}
