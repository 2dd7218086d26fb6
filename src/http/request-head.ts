/**
 * Reads and validates one HTTP/1.1 request head from the start of a connection's input (RFC 9112).
 *
 * Empty lines before the request line are accepted (the example ESP32 client sends one) but count
 * toward the head limit, like every byte before the end of the head. A first byte that cannot start
 * a request line (a TLS ClientHello's 0x16, binary junk) and a request line with a byte no request
 * line may hold are refused as soon as they arrive, not after a timeout. Field names must be tokens
 * with the colon right after them; field values may not hold NUL, CR, LF or other controls except
 * HTAB; obs-fold, a repeated or malformed Content-Length, Transfer-Encoding beside Content-Length and
 * a repeated Host are errors: each of these lets a proxy and this server disagree on where a request
 * ends (request smuggling), so each is a 400 and the connection closes.
 */

export interface RequestHead {
  method: string;
  target: string;
  path: string;
  query: string;
  /** Lower-cased names, in an object without a prototype (names are client input). */
  headers: Record<string, string>;
  keepAlive: boolean;
  /** Declared body length (0 when none). */
  contentLength: number;
  expectContinue: boolean;
  /** The request body: null as read here; the connection driver fills it for the routes that take one. */
  body: Buffer | null;
}

export type HeadOutcome =
  | { kind: 'head'; head: RequestHead; consumed: number }
  /** `scanned`: bytes already searched for the end of the head (resume there on more input). */
  | { kind: 'more'; scanned: number }
  | { kind: 'error'; status: number; message: string };

/** The body of the answer to a TLS handshake (or other binary bytes) on the plain-HTTP port. */
export const NOT_HTTP_MESSAGE = 'Bad Request: this port speaks plain HTTP; send plain HTTP here or use the HTTPS port for TLS';

const LF = 10;
const CR = 13;
const SP = 32;
/** Longest method accepted (the longest registered ones are under 20 characters). */
const MAX_METHOD = 20;
/** Token characters (RFC 9110 §5.6.2), by byte. */
const TCHAR_TABLE = new Uint8Array(256);
for (const ch of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR_TABLE[ch.charCodeAt(0)] = 1;
const REQUEST_LINE = /^([A-Z]+) (\/[\x21-\x7e]*) (HTTP\/\d(?:\.\d)?)$/;

const bad = (reason: string): HeadOutcome => ({ kind: 'error', status: 400, message: `Bad Request: ${reason}` });
const TOO_LARGE: HeadOutcome = { kind: 'error', status: 431, message: 'Request Header Fields Too Large' };

/**
 * Reads one head from `buf`. `scanned` is what an earlier call on the same input returned with
 * `more` (0 the first time), so a head trickled in byte by byte is not searched from the start
 * each time. `maxHeadBytes` bounds everything up to the end of the head, leading empty lines included.
 */
export function readHead(buf: Buffer, scanned: number, maxHeadBytes: number): HeadOutcome {
  let start = 0;
  while (start < buf.length && (buf[start] === CR || buf[start] === LF)) start++;
  if (start === buf.length) return buf.length > maxHeadBytes ? TOO_LARGE : { kind: 'more', scanned: buf.length };
  const first = buf[start] as number;
  if (first < 0x41 || first > 0x5a) return first === 0x16 || first < 0x20 || first > 0x7e ? { kind: 'error', status: 400, message: NOT_HTTP_MESSAGE } : bad('not a request line');
  const from = Math.max(start, scanned - 2);
  const end = indexOfHeadEnd(buf, from);
  if (end < 0) {
    // Incomplete: refuse a request line that can already not be one, else wait for more.
    return requestLinePrefixProblem(buf, start, from) ?? (buf.length > maxHeadBytes ? TOO_LARGE : { kind: 'more', scanned: buf.length });
  }
  const sep = end % 4;
  const at = (end - sep) / 4;
  const consumed = at + sep;
  if (consumed > maxHeadBytes) return TOO_LARGE;
  return parseHead(buf.toString('latin1', start, at), consumed);
}

/**
 * Checks the request line received so far, from `from` on: only visible ASCII and single spaces,
 * a method of capital letters. Catches binary input long before a line end or the head limit.
 */
function requestLinePrefixProblem(buf: Buffer, start: number, from: number): HeadOutcome | null {
  const lf = buf.indexOf(LF, start);
  const stop = lf < 0 ? buf.length : lf;
  if (from >= stop) return null;
  const sp = buf.indexOf(SP, start);
  const methodEnd = sp < 0 || sp > stop ? stop : sp;
  if (methodEnd - start > MAX_METHOD) return bad('method too long');
  for (let i = Math.max(from, start); i < stop; i++) {
    const b = buf[i] as number;
    if (i < methodEnd ? b >= 0x41 && b <= 0x5a : (b > SP && b < 0x7f) || b === SP || (b === CR && i === stop - 1)) continue;
    return b === CR || b >= 0x7f || b < SP ? bad('control or non-ASCII byte in the request line') : bad('invalid method');
  }
  return null;
}

/**
 * The first empty line after `from`: CRLF CRLF, or LF LF / LF CRLF for bare-LF clients. Answers
 * `at * 4 + sep` (`at`: the LF that ends the last line, `sep`: the bytes from it to the end of the
 * head, 2 or 3), or -1 when there is none yet; a number, not an object, as it runs for every request.
 */
function indexOfHeadEnd(buf: Buffer, from: number): number {
  for (let i = buf.indexOf(LF, from); i >= 0; i = buf.indexOf(LF, i + 1)) {
    if (buf[i + 1] === LF) return i * 4 + 2;
    if (buf[i + 1] === CR && buf[i + 2] === LF) return i * 4 + 3;
  }
  return -1;
}

/**
 * Reads the common request line `METHOD /target HTTP/1.1` (or `HTTP/1.0`) of `text[0, end)` without
 * a regular expression: its method and target, or null when it is anything else (then REQUEST_LINE
 * decides, and words the refusal).
 */
function plainRequestLine(text: string, end: number): { method: string; target: string; version: string } | null {
  const sp1 = text.indexOf(' ');
  if (sp1 <= 0 || sp1 > MAX_METHOD || end - sp1 < 11) return null;
  for (let i = 0; i < sp1; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x41 || c > 0x5a) return null;
  }
  if (text.charCodeAt(sp1 + 1) !== 0x2f) return null;
  const sp2 = end - 9;
  if (text.charCodeAt(sp2) !== SP || !text.startsWith('HTTP/1.', sp2 + 1)) return null;
  const minor = text.charCodeAt(end - 1);
  if (minor !== 0x31 && minor !== 0x30) return null;
  for (let i = sp1 + 2; i < sp2; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return null;
  }
  return { method: text.slice(0, sp1), target: text.slice(sp1 + 1, sp2), version: minor === 0x31 ? 'HTTP/1.1' : 'HTTP/1.0' };
}

function parseHead(text: string, consumed: number): HeadOutcome {
  let eol = text.indexOf('\n');
  if (eol < 0) eol = text.length;
  const lineEnd = text.charCodeAt(eol - 1) === CR ? eol - 1 : eol;
  let method: string;
  let target: string;
  let version: string;
  const plain = plainRequestLine(text, lineEnd);
  if (plain) ({ method, target, version } = plain);
  else {
    const m = REQUEST_LINE.exec(text.slice(0, lineEnd));
    if (!m) return bad('malformed request line');
    [, method, target, version] = m as unknown as [string, string, string, string];
    if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') return { kind: 'error', status: 505, message: 'HTTP Version Not Supported' };
  }

  const headers = Object.create(null) as Record<string, string>;
  let contentLength: string | undefined;
  // Each line is read in place in `text` (offsets, no copy of the line): this runs for every request.
  for (let pos = eol + 1; pos < text.length;) {
    let next = text.indexOf('\n', pos);
    if (next < 0) next = text.length;
    const end = text.charCodeAt(next - 1) === CR && next - 1 >= pos ? next - 1 : next;
    const lineStart = pos;
    pos = next + 1;
    const c0 = text.charCodeAt(lineStart);
    if (end > lineStart && (c0 === SP || c0 === 9)) return bad('folded header line (obs-fold)');
    let colon = text.indexOf(':', lineStart);
    if (colon >= end) colon = -1;
    if (colon <= lineStart) return bad('header line without a field name and colon');
    for (let i = lineStart; i < colon; i++) {
      if (TCHAR_TABLE[text.charCodeAt(i)] === 1) continue;
      return bad(i === colon - 1 && (text.charCodeAt(i) === SP || text.charCodeAt(i) === 9) ? 'whitespace before the colon of a header field' : 'invalid header field name');
    }
    let a = colon + 1;
    let b = end;
    for (let i = a; i < b; i++) {
      const ch = text.charCodeAt(i);
      if ((ch < SP && ch !== 9) || ch === 0x7f) return bad('control character in a header field value');
    }
    // Optional whitespace (SP, HTAB) around the value is not part of it; other characters are checked above.
    while (a < b && (text.charCodeAt(a) === SP || text.charCodeAt(a) === 9)) a++;
    while (b > a && (text.charCodeAt(b - 1) === SP || text.charCodeAt(b - 1) === 9)) b--;
    const value = text.slice(a, b);
    const name = text.slice(lineStart, colon).toLowerCase();
    if (name === 'content-length') {
      if (contentLength !== undefined) return bad('repeated Content-Length');
      if (!/^\d{1,15}$/.test(value)) return bad('invalid Content-Length');
      contentLength = value;
    } else if (name === 'host' && headers.host !== undefined) {
      return bad('repeated Host');
    }
    const known = headers[name];
    headers[name] = known === undefined ? value : `${known}, ${value}`;
  }

  if (headers['transfer-encoding'] !== undefined) {
    return contentLength !== undefined ? bad('Transfer-Encoding together with Content-Length') : { kind: 'error', status: 411, message: 'Length Required' };
  }
  const connection = headers.connection;
  const keepAlive = version === 'HTTP/1.1' ? !(connection && /(^|,)\s*close\s*(,|$)/i.test(connection)) : !!connection && /(^|,)\s*keep-alive\s*(,|$)/i.test(connection);
  const q = target.indexOf('?');
  return {
    kind: 'head',
    consumed,
    head: {
      method,
      target,
      path: q < 0 ? target : target.slice(0, q),
      query: q < 0 ? '' : target.slice(q + 1),
      headers,
      keepAlive,
      contentLength: contentLength === undefined ? 0 : Number(contentLength),
      expectContinue: headers.expect?.toLowerCase() === '100-continue',
      body: null,
    },
  };
}
