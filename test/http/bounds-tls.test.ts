// The same bounds on the HTTPS listener (the same Bun.listen layer, bound with TLS): a client that
// never sends a ClientHello is closed at the head deadline, a head trickled over TLS gets 408,
// header validation answers 400 over TLS, and one connection cap covers HTTP and HTTPS together.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { openSocket, readOneResponse } from '../support/raw-http.ts';
import { scrapeMetrics } from '../support/metrics.ts';
import { TestPki } from '../auth/pki.ts';
import { exchange } from './exchange.ts';

// Real sockets and TLS on a shared 2-core machine: room for a loaded moment.
setDefaultTimeout(60_000);

let pki: TestPki;
let server: TestServer;
const https = () => server.ports.https as number;

beforeAll(async () => {
  pki = new TestPki();
  const fw = firmwareDir({ dev1: { '1.0.0.bin': 100 } });
  server = await startTestServer({
    flags: { 'firmware-dir': fw.root, 'tls-cert': pki.serverCert, 'tls-key': pki.serverKey, 'tls-listen-addr': '127.0.0.1:0', 'header-timeout': 1, 'max-connections': 4 },
  });
});
afterAll(() => server.close());

function tls(): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: https(), ca: readFileSync(pki.caCert), servername: 'localhost', checkServerIdentity: () => undefined }, () => resolve(s));
    s.once('error', reject);
  });
}

/** What a TLS socket receives until it closes (or 10 s), and how long that took. */
function collect(s: TLSSocket): Promise<{ text: string; ms: number }> {
  const started = Date.now();
  const chunks: Buffer[] = [];
  return new Promise((resolve) => {
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => {});
    const done = () => resolve({ text: Buffer.concat(chunks).toString('latin1'), ms: Date.now() - started });
    s.once('close', done);
    setTimeout(done, 10_000);
  });
}

test('a TCP client that never starts the TLS handshake is closed at the head deadline', async () => {
  const a = await exchange(https(), '', 10_000);
  expect([a.closed, a.raw.length]).toEqual([true, 0]);
  expect(a.ms).toBeLessThan(8000);
});

test('a head trickled over TLS gets 408 at the deadline; a malformed field gets 400 over TLS', async () => {
  const s = await tls();
  const answer = collect(s);
  const started = Date.now();
  for (const ch of 'GET /version?device=dev1 HTTP/1.1\r\nX-Slow: ' + 'a'.repeat(200)) {
    if (s.destroyed || Date.now() - started > 10_000) break;
    s.write(ch);
    await Bun.sleep(50);
  }
  const { text } = await answer;
  expect(text).toStartWith('HTTP/1.1 408 Request Timeout\r\n');
  s.destroy();

  const b = await tls();
  const bad = collect(b);
  b.write('GET /version?device=dev1 HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello');
  expect((await bad).text).toStartWith('HTTP/1.1 400 Bad Request\r\n');
  b.destroy();
});

test('one connection cap covers the HTTP and HTTPS listeners together', async () => {
  const held: (Socket | TLSSocket)[] = [];
  for (let i = 0; i < 2; i++) {
    const s = await openSocket(server.ports.http as number);
    s.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await readOneResponse(s);
    held.push(s);
  }
  for (let i = 0; i < 2; i++) {
    const s = await tls();
    s.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await readOneResponse(s as unknown as Socket);
    held.push(s);
  }
  const before = (await scrapeMetrics(server.ports.metrics as number)).get('otaflux_connections_refused_total');
  const overTls = await exchange(https(), '');
  const overHttp = await exchange(server.ports.http as number, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  expect([overTls.closed, overTls.raw.length, overHttp.closed, overHttp.raw.length]).toEqual([true, 0, true, 0]);
  const m = await scrapeMetrics(server.ports.metrics as number);
  expect([m.get('otaflux_connections_refused_total') - before, m.get('otaflux_open_connections{listener="device"}'), m.get('otaflux_open_connections{listener="tls"}')]).toEqual([2, 2, 2]);
  for (const s of held) s.destroy();
});
