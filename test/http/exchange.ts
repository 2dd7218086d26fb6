/** One raw exchange with a listener: send bytes, read until the server closes (or a deadline). */
import { openSocket, parseResponse, type RawResponse } from '../support/raw-http.ts';

export interface Exchange {
  raw: Buffer;
  /** The first response, when one came. */
  response?: RawResponse;
  /** The server closed the connection (rather than the deadline passing). */
  closed: boolean;
  ms: number;
}

/** Sends `request` (written at once) and collects what comes back until close or `timeoutMs`. */
export async function exchange(port: number, request: string | Buffer, timeoutMs = 5000): Promise<Exchange> {
  const started = Date.now();
  const s = await openSocket(port);
  const chunks: Buffer[] = [];
  const closed = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('close', () => { clearTimeout(timer); resolve(true); });
    s.once('error', () => {});
    s.write(request);
  });
  s.destroy();
  const raw = Buffer.concat(chunks);
  return { raw, closed, ms: Date.now() - started, ...(raw.includes('\r\n\r\n') ? { response: parseResponse(raw) } : {}) };
}
