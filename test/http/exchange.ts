/** One raw exchange with a listener: send bytes, read until the server closes (or a deadline). */
import { connect } from 'node:net';
import { parseResponse, type RawResponse } from '../support/raw-http.ts';

export interface Exchange {
  raw: Buffer;
  /** The first response, when one came. */
  response?: RawResponse;
  /** The server closed (or reset) the connection, rather than the deadline passing. */
  closed: boolean;
  ms: number;
}

/**
 * Sends `request` once connected and collects what comes back until close or `timeoutMs`. A
 * connection the server resets (even before the connect completes) counts as closed.
 */
export async function exchange(port: number, request: string | Buffer, timeoutMs = 5000): Promise<Exchange> {
  const started = Date.now();
  const chunks: Buffer[] = [];
  const s = connect(port, '127.0.0.1');
  const closed = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    s.on('connect', () => s.write(request));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('close', () => { clearTimeout(timer); resolve(true); });
    s.on('error', () => {});
  });
  s.destroy();
  const raw = Buffer.concat(chunks);
  return { raw, closed, ms: Date.now() - started, ...(raw.includes('\r\n\r\n') ? { response: parseResponse(raw) } : {}) };
}
