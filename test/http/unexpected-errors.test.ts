// A route that throws (a bug: no real input makes one, so the fault is put in by hand) answers the
// device API's one answer to the unexpected, 500 `Internal error`, over the real device socket; the
// exception's message and stack go to the log, never to the client.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { exchange } from './exchange.ts';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ flags: { 'firmware-dir': firmwareDir({ dev: { '1.0.0.bin': 5 } }).root } });
}, 60_000);
afterAll(() => s.close());

test('a route that throws: 500 Internal error, the message in the log and not on the wire', async () => {
  const resolver = s.runtime.resolver;
  const snapshot = resolver.snapshot;
  resolver.snapshot = () => {
    throw new TypeError('null is not an object (evaluating /work/secret/path.ts)');
  };
  try {
    const a = await exchange(s.ports.http!, 'GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(a.response?.status).toBe(500);
    expect(a.response?.body.toString()).toBe('Internal error');
    expect(a.raw.toString('latin1')).not.toContain('/work/secret');
    expect(s.logs.some((l) => l.includes('unexpected error') && l.includes('/work/secret/path.ts'))).toBe(true);
  } finally {
    resolver.snapshot = snapshot;
  }
  // The server goes on.
  const ok = await exchange(s.ports.http!, 'GET /version?device=dev HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  expect(ok.response?.status).toBe(200);
});
