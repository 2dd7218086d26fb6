// Unknown routes get one body everywhere: 404, `Not Found`, text/plain, on the device listener
// (real socket), through the Elysia app (app.handle) and on the metrics listener.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ flags: { 'firmware-dir': firmwareDir({ dev: { '1.0.0.bin': 5 } }).root } });
}, 60_000);
afterAll(() => s.close());

test('unknown routes: 404 Not Found as plain text, on every listener', async () => {
  const targets = [
    `${s.url}/nope`,
    `${s.url}/api/status`, // no admin token: the operator API does not exist
    `${s.url}/webhooks/harbor`, // GET, and no webhook secret either
    `http://127.0.0.1:${s.ports.metrics}/nope`,
  ];
  for (const url of targets) {
    for (const method of ['GET', 'POST']) {
      const r = await fetch(url, { method });
      expect(`${method} ${url} ${r.status} ${await r.text()}`).toBe(`${method} ${url} 404 Not Found`);
      expect(r.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    }
  }
});
