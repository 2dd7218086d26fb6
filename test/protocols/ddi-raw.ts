/**
 * Raw-socket helpers for the DDI tests: one request with the exact head the server wrote (so a
 * chunked answer or a missing Content-Length shows), and the checks every DDI client makes of a JSON
 * answer.
 */
import { expect } from 'bun:test';
import type { TestServer } from '../support/server.ts';
import { openSocket, parseResponse, readAtLeast, readOneResponse, type RawResponse } from '../support/raw-http.ts';

/** One request over a raw socket to the server's plain port. */
export async function raw(s: TestServer, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<RawResponse> {
  const sock = await openSocket(s.ports.http as number);
  const withBody = body !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type') ? { 'content-type': 'application/json' } : {};
  const extra = Object.entries({ ...headers, ...withBody, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  sock.write(`${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1:${s.ports.http}\r\n${extra}\r\n${body ?? ''}`);
  // A HEAD answer has a Content-Length but no body: read its head only.
  let response: RawResponse;
  if (method === 'HEAD') {
    let got = await readAtLeast(sock, 1);
    while (got.indexOf('\r\n\r\n') < 0) got = Buffer.concat([got, await readAtLeast(sock, 1)]);
    response = parseResponse(got);
  } else response = (await readOneResponse(sock)).response;
  sock.destroy();
  return response;
}

/** The JSON body of a DDI answer, after the checks clients make: JSON, a Content-Length that is the body's, never chunked. */
export function jsonOf(r: RawResponse): any {
  expect(r.headers['content-type']).toStartWith('application/json');
  expect(r.headers['transfer-encoding']).toBeUndefined();
  expect(Number(r.headers['content-length'])).toBe(r.body.length);
  return JSON.parse(r.body.toString());
}

/** Zephyr strips scheme and host from every href. */
export const pathOf = (href: string) => new URL(href).pathname;

/** The fleet outcome state of `instance` for `stream`, once it is `want` or after `timeoutMs` (whatever it is then). */
export async function outcomeState(s: TestServer, instance: string, stream: string, want: string, timeoutMs = 5000): Promise<string | undefined> {
  const state = () => s.runtime.fleet?.outcomesOf(instance).find((o) => o.stream === stream)?.state;
  for (const until = Date.now() + timeoutMs; state() !== want && Date.now() < until; ) await Bun.sleep(20);
  return state();
}
