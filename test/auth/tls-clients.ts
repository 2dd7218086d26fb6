/** Real TLS clients for the auth tests: curl, and the ESP32 example client's exact bytes over node:tls. */
import { connect, type TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import type { ClientCert } from './pki.ts';

export interface CurlResult { exitCode: number; status: number; body: string; headers: string }

/** `curl` over HTTPS to 127.0.0.1 with an optional client certificate and extra arguments. */
export async function curl(port: number, path: string, opts: { ca: string; client?: ClientCert; args?: string[] }): Promise<CurlResult> {
  const p = Bun.spawn(['curl', '-sS', '-D', '-', '--max-time', '5', '--cacert', opts.ca,
    ...(opts.client ? ['--cert', opts.client.cert, '--key', opts.client.key] : []), ...(opts.args ?? []),
    `https://127.0.0.1:${port}${path}`], { stdout: 'pipe', stderr: 'pipe' });
  const [out, exitCode] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  const end = out.indexOf('\r\n\r\n');
  const headers = end < 0 ? out : out.slice(0, end);
  return { exitCode, status: Number(/^HTTP\/[\d.]+ (\d+)/.exec(headers)?.[1] ?? 0), body: end < 0 ? '' : out.slice(end + 4), headers };
}

export function tlsConnect(port: number, client?: ClientCert): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = connect({
      host: '127.0.0.1', port, rejectUnauthorized: false, // the example device does not verify the server
      ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
    }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Reads until the socket ends (or errors: then what arrived so far). */
export function readToEof(s: TLSSocket, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => { s.destroy(); resolve(Buffer.concat(chunks)); }, timeoutMs);
    s.on('data', (c: Buffer) => chunks.push(c));
    const finish = () => { clearTimeout(timer); resolve(Buffer.concat(chunks)); };
    s.once('end', finish);
    s.once('close', finish);
    s.once('error', finish);
  });
}

/** Reads status line + headers + body of one response into a 1024-byte buffer, as the device does. */
export function readIntoDeviceBuffer(s: TLSSocket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const buf = Buffer.alloc(1024);
    let n = 0;
    const onData = (c: Buffer) => {
      if (n + c.length > buf.length) { cleanup(); reject(new Error(`response does not fit the device's 1024-byte buffer (${n + c.length} bytes)`)); return; }
      c.copy(buf, n);
      n += c.length;
      const text = buf.subarray(0, n).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? NaN);
      if (end >= 0 && n >= end + 4 + length) { cleanup(); resolve(Buffer.from(buf.subarray(0, n))); }
    };
    const onEnd = () => { cleanup(); resolve(Buffer.from(buf.subarray(0, n))); };
    const cleanup = () => { s.off('data', onData); s.off('end', onEnd); s.off('close', onEnd); s.off('error', onEnd); };
    s.on('data', onData);
    s.once('end', onEnd);
    s.once('close', onEnd);
    s.once('error', onEnd);
  });
}

/** The ESP32 example client: /version with a leading CRLF (keep-alive), then /firmware on the same connection, to EOF. */
export async function esp32Sequence(port: number, device: string, client?: ClientCert, firmwareDevice = device): Promise<{ version: Buffer; firmware: Buffer }> {
  const s = await tlsConnect(port, client);
  s.write(`\r\nGET /version?device=${device} HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n`);
  const version = await readIntoDeviceBuffer(s);
  s.write(`GET /firmware?device=${firmwareDevice} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`);
  const firmware = await readToEof(s);
  return { version, firmware };
}

export function split(raw: Buffer): { status: number; headers: string; body: Buffer } {
  const end = raw.indexOf('\r\n\r\n');
  const headers = raw.subarray(0, Math.max(0, end)).toString('latin1');
  return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(headers)?.[1] ?? 0), headers, body: end < 0 ? Buffer.alloc(0) : raw.subarray(end + 4) };
}

/** Runs the device sequence and returns every byte the server sent (nothing, when it refused the certificate). */
export async function bytesAnswered(port: number, device: string, client?: ClientCert): Promise<Buffer> {
  try {
    const { version, firmware } = await esp32Sequence(port, device, client);
    return Buffer.concat([version, firmware]);
  } catch {
    return Buffer.alloc(0);
  }
}
