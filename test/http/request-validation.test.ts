// Request heads over real sockets (RFC 9112): field names must be tokens with the colon right after,
// values may hold no NUL, bare CR or other controls but HTAB, obs-fold and the Content-Length /
// Transfer-Encoding combinations that let a proxy and this server split a stream differently are
// 400 and a close, on every route, never a silent close. A TLS ClientHello (or any byte that cannot
// start a request line) on the plain port is answered at once with a line saying what to do.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { openSocket, readOneResponse } from '../support/raw-http.ts';
import { exchange } from './exchange.ts';

// Real sockets on a shared 2-core machine: room for a loaded moment.
setDefaultTimeout(60_000);

let server: TestServer;
const port = () => server.ports.http as number;

beforeAll(async () => {
  const fw = firmwareDir({ dev1: { '1.0.0.bin': 100 } });
  server = await startTestServer({ flags: { 'firmware-dir': fw.root, 'admin-token': 'admin-token-0123456789abcdef', 'webhook-secret': 'webhook-secret-0123' } });
});
afterAll(() => server.close());

const ROUTES = ['/version?device=dev1', '/firmware?device=dev1', '/health', '/ready', '/docs/json', '/api/status', '/no-such-route'];
const BAD_HEADS: [string, string][] = [
  ['whitespace before the colon', 'Content-Length : 5'],
  ['tab before the colon', 'X-Thing\t: 1'],
  ['space inside a name', 'X Thing: 1'],
  ['non-token name', 'X(Thing): 1'],
  ['empty name', ': 1'],
  ['NUL in a value', 'X-Thing: a\x00b'],
  ['bare CR in a value', 'X-Thing: a\rb'],
  ['other control in a value', 'X-Thing: a\x01b'],
  ['DEL in a value', 'X-Thing: a\x7fb'],
  ['obs-fold', 'X-Thing: a\r\n  folded'],
  ['duplicate Content-Length', 'Content-Length: 0\r\nContent-Length: 0'],
  ['conflicting Content-Length', 'Content-Length: 0\r\nContent-Length: 5'],
  ['Content-Length list', 'Content-Length: 0, 0'],
  ['signed Content-Length', 'Content-Length: +0'],
  ['Transfer-Encoding with Content-Length', 'Transfer-Encoding: chunked\r\nContent-Length: 0'],
  ['duplicate Host', 'Host: y'],
  ['non-ASCII in a name', 'X-Th\xe9ng: 1'],
];

test('malformed header fields get 400 and a close on every route, never a silent close', async () => {
  const failures: string[] = [];
  for (const route of ROUTES) {
    await Promise.all(BAD_HEADS.map(async ([what, field]) => {
      const a = await exchange(port(), Buffer.from(`GET ${route} HTTP/1.1\r\nHost: x\r\n${field}\r\n\r\n`, 'latin1'));
      const r = a.response;
      if (!r || r.status !== 400 || r.headers.connection !== 'close' || !a.closed || !r.body.toString().startsWith('Bad Request')) {
        failures.push(`${route} ${what}: ${r ? `${r.status} ${r.headers.connection}` : 'no answer'}`);
      }
    }));
  }
  expect(failures).toEqual([]);
});

test('the 400 says what was wrong; valid unusual fields (HTAB, obs-text, empty value) are accepted', async () => {
  const ws = await exchange(port(), 'GET /health HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello');
  expect(ws.response?.body.toString()).toBe('Bad Request: whitespace before the colon of a header field');
  const s = await openSocket(port());
  s.write(Buffer.from('GET /version?device=dev1 HTTP/1.1\r\nHost: x\r\nX-Tab:\tvalue\twith tabs\t\r\nX-Latin: caf\xe9\r\nX-Empty:\r\nUser-Agent: ESP32HTTPClient\r\n\r\n', 'latin1'));
  expect((await readOneResponse(s)).response.status).toBe(200);
  s.destroy();
});

test('malformed request lines get 400 (or 505) and a close', async () => {
  const cases: [string, number][] = [
    ['GET /version?device=dev1  HTTP/1.1', 400],
    ['GET  /version?device=dev1 HTTP/1.1', 400],
    ['GET /ver\x01sion HTTP/1.1', 400],
    ['GET /ver\xe9sion HTTP/1.1', 400],
    ['get /version HTTP/1.1', 400],
    ['GET /version HTTP/1.1\rX', 400],
    ['GET http://x/version HTTP/1.1', 400],
    ['GET /version HTTP/3.0', 505],
  ];
  for (const [line, status] of cases) {
    const a = await exchange(port(), Buffer.from(`${line}\r\nHost: x\r\n\r\n`, 'latin1'));
    expect([line, a.response?.status, a.response?.headers.connection, a.closed]).toEqual([line, status, 'close', true]);
  }
});

test('a TLS ClientHello on the plain port is answered 400 at once, with a line saying to use HTTPS', async () => {
  // The first bytes of a real ClientHello: handshake record (0x16), TLS 1.0 record version, length.
  const hello = Buffer.from('16030100f8010000f40303', 'hex');
  const a = await exchange(port(), hello, 5000);
  expect(a.closed).toBe(true);
  expect(a.ms).toBeLessThan(3000);
  expect(a.response?.status).toBe(400);
  expect(a.response?.headers.connection).toBe('close');
  expect(a.response?.body.toString()).toBe('Bad Request: this port speaks plain HTTP; send plain HTTP here or use the HTTPS port for TLS');
});

test('any byte that cannot start or continue a request line is refused at once, not after a timeout', async () => {
  for (const junk of [Buffer.from([0x00, 0x01, 0x02]), Buffer.from('\r\n\x80abc'), Buffer.from('GET /x\x00'), Buffer.from('GETTINGLONGERTHANANYMETHODNAME'), Buffer.from('{"json":1}')]) {
    const a = await exchange(port(), junk, 5000);
    expect([junk.toString('hex'), a.closed, a.response?.status]).toEqual([junk.toString('hex'), true, 400]);
    expect(a.ms).toBeLessThan(3000);
  }
});

test('the ESP32 leading CRLF and a few empty lines before the request line still work', async () => {
  for (const lead of ['\r\n', '\r\n\r\n\r\n', '\n\n']) {
    const a = await exchange(port(), `${lead}GET /version?device=dev1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(a.response?.status).toBe(200);
  }
});
