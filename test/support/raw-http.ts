/** Raw-socket HTTP helpers for protocol tests where exact bytes matter. */
import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { readFileSync } from 'node:fs';

export interface RawResponse {
  head: string;
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/**
 * A TLS connection to 127.0.0.1 that trusts `ca` (a PEM file), optionally showing a client
 * certificate: the same raw bytes as `openSocket`, over real TLS.
 */
export function openTlsSocket(port: number, opts: { ca: string; cert?: string; key?: string }): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connectTls({ host: '127.0.0.1', port, ca: readFileSync(opts.ca), ...(opts.cert && opts.key ? { cert: readFileSync(opts.cert), key: readFileSync(opts.key) } : {}) }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Collects everything the socket sends until it closes. */
export function readToEnd(s: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on("data", (c: Buffer) => chunks.push(c));
    s.once('end', () => resolve(Buffer.concat(chunks)));
    s.once('error', reject);
  });
}

/** Reads until `bytes` have arrived (or the socket closes). */
export function readAtLeast(s: Socket, bytes: number, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out with ${buf.length}/${bytes} bytes`)); }, timeoutMs);
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length >= bytes) { cleanup(); resolve(buf); }
    };
    const onEnd = () => { cleanup(); resolve(buf); };
    const cleanup = () => { clearTimeout(timer); s.off('data', onData); s.off('end', onEnd); };
    s.on('data', onData);
    s.once('end', onEnd);
  });
}

/** Splits one raw HTTP response (head + body). */
export function parseResponse(raw: Buffer): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no end of headers in ${JSON.stringify(raw.subarray(0, 200).toString())}`);
  const head = raw.subarray(0, end).toString('latin1');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { head, status: Number(statusLine.split(' ')[1]), headers, body: raw.subarray(end + 4) };
}

/** Reads exactly one response whose length is given by Content-Length (keep-alive connections). */
export async function readOneResponse(s: Socket): Promise<{ raw: Buffer; response: RawResponse }> {
  let raw = await readAtLeast(s, 1);
  while (raw.indexOf('\r\n\r\n') < 0) raw = Buffer.concat([raw, await readAtLeast(s, 1)]);
  const length = Number(parseResponse(raw).headers['content-length'] ?? 0);
  const total = raw.indexOf('\r\n\r\n') + 4 + length;
  while (raw.length < total) raw = Buffer.concat([raw, await readAtLeast(s, total - raw.length)]);
  return { raw, response: parseResponse(raw) };
}
