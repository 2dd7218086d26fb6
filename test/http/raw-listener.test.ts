// The Bun.listen device listener over real sockets: framing (pipelining, bare LF, HTTP/1.0
// keep-alive), limits and malformed requests, bodies for the app's routes, firmware from memory and
// from disk to a slow reader (backpressure), and shutdown.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { openSocket, parseResponse, readOneResponse, readToEnd, readAtLeast } from '../support/raw-http.ts';

let mem: TestServer;
let disk: TestServer;
let fw: ReturnType<typeof firmwareDir>;
const IMAGE = 3 * 1024 * 1024 + 17;

beforeAll(async () => {
  fw = firmwareDir({ dev1: { '1.0.0.bin': IMAGE }, dev2: { '2.0.0.bin': 1000 } });
  mem = await startTestServer({ flags: { 'firmware-dir': fw.root } });
  // Memory tier off: firmware is read from the disk cache in chunks.
  disk = await startTestServer({ flags: { 'firmware-dir': fw.root }, edit: (s) => { s.cache.memoryBytes = 0; } });
});
afterAll(async () => {
  await mem?.close();
  await disk?.close();
});

const versionOf = (device: string, file: string) => {
  const b = fw.bytes(device, file);
  return `${file.replace(/\.bin$/, '')}\n${Bun.hash.crc32(b) >>> 0}\n${b.length}`;
};

/** Splits a byte stream of responses that carry Content-Length. */
function splitResponses(raw: Buffer): ReturnType<typeof parseResponse>[] {
  const out: ReturnType<typeof parseResponse>[] = [];
  let rest = raw;
  while (rest.length) {
    const headEnd = rest.indexOf('\r\n\r\n');
    const length = Number(parseResponse(rest.subarray(0, headEnd + 4)).headers['content-length'] ?? 0);
    out.push(parseResponse(rest.subarray(0, headEnd + 4 + length)));
    rest = rest.subarray(headEnd + 4 + length);
  }
  return out;
}

test('pipelined requests are answered in order on one connection', async () => {
  const s = await openSocket(mem.ports.http as number);
  s.write('GET /version?device=dev2 HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /version?device=nobody HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const [a, b, c, ...more] = splitResponses(await readToEnd(s));
  expect(more).toHaveLength(0);
  expect(a!.status).toBe(200);
  expect(a!.body.toString()).toBe(versionOf('dev2', '2.0.0.bin'));
  expect(b!.status).toBe(200);
  expect(c!.status).toBe(404);
  expect(c!.body.toString()).toBe("No firmware for device 'nobody'");
});

test('a request split across many small packets, with bare LF line ends', async () => {
  const s = await openSocket(mem.ports.http as number);
  for (const ch of '\n\nGET /version?device=dev2 HTTP/1.1\nHost: x\n\n') {
    s.write(ch);
    await Bun.sleep(1);
  }
  const r = await readOneResponse(s);
  expect(r.response.status).toBe(200);
  expect(r.response.body.toString()).toBe(versionOf('dev2', '2.0.0.bin'));
  s.destroy();
});

test('HTTP/1.0 closes unless it asks for keep-alive', async () => {
  const s = await openSocket(mem.ports.http as number);
  s.write('GET /version?device=dev2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  const first = await readOneResponse(s);
  expect(first.response.headers.connection).toBe('keep-alive');
  s.write('GET /version?device=dev2 HTTP/1.0\r\n\r\n');
  const rest = parseResponse(await readToEnd(s));
  expect(rest.headers.connection).toBe('close');
  expect(rest.body.toString()).toBe(versionOf('dev2', '2.0.0.bin'));
});

test('malformed requests, chunked bodies and oversized heads get an error and a closed connection', async () => {
  const cases: [string, number][] = [
    ['GARBAGE\r\n\r\n', 400],
    ['GET version HTTP/1.1\r\n\r\n', 400],
    ['GET /version HTTP/2.0\r\n\r\n', 505],
    ['GET /version HTTP/1.1 extra\r\n\r\n', 400],
    ['GET /version?device=dev2 HTTP/1.1\r\nno-colon-here\r\n\r\n', 400],
    ['POST /webhooks/harbor HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 411],
    ['POST /webhooks/harbor HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n', 413],
    [`GET /version?device=dev2 HTTP/1.1\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
  ];
  for (const [request, status] of cases) {
    const s = await openSocket(mem.ports.http as number);
    s.write(request);
    const r = parseResponse(await readToEnd(s));
    expect(r.status).toBe(status);
    expect(r.headers.connection).toBe('close');
  }
});

test('the app behind the listener gets request bodies and answers HEAD without a body', async () => {
  const post = await fetch(`${mem.url}/webhooks/harbor`, { method: 'POST', body: JSON.stringify({ type: 'PUSH_ARTIFACT' }), headers: { 'content-type': 'application/json' } });
  // No webhook secret configured: the route exists and says so (404), after reading the body.
  expect(post.status).toBe(404);
  const s = await openSocket(mem.ports.http as number);
  s.write('HEAD /no-such-route HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const raw = await readToEnd(s);
  const text = raw.toString('latin1');
  expect(text.startsWith('HTTP/1.1 404 ')).toBe(true);
  // The HEAD answer carries no body: the next bytes are the /health response.
  const second = text.indexOf('HTTP/1.1 200 OK');
  expect(second).toBeGreaterThan(0);
  expect(text.slice(text.indexOf('\r\n\r\n') + 4, second)).toBe('');
});

test('Expect: 100-continue gets 100 Continue, then the answer once the body has arrived', async () => {
  const body = JSON.stringify({ type: 'PUSH_ARTIFACT' });
  const s = await openSocket(mem.ports.http as number);
  s.write(`POST /webhooks/harbor HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`);
  expect((await readAtLeast(s, 25)).toString('latin1')).toBe('HTTP/1.1 100 Continue\r\n\r\n');
  s.write(body);
  const r = await readOneResponse(s);
  expect(r.response.status).toBe(404);
  s.destroy();
});

for (const [name, server] of [['memory', () => mem], ['disk', () => disk]] as const) {
  test(`/firmware from ${name} reaches a slow reader whole, and a Range from ${name} is exact`, async () => {
    const image = Buffer.from(fw.bytes('dev1', '1.0.0.bin'));
    const s = await openSocket(server().ports.http as number);
    s.write('GET /firmware?device=dev1 HTTP/1.1\r\nHost: x\r\nRange: bytes=1000-1999\r\n\r\n');
    const part = await readOneResponse(s);
    expect(part.response.status).toBe(206);
    expect(part.response.body.equals(image.subarray(1000, 2000))).toBe(true);
    // A slow reader: pause, so the server meets backpressure, then read everything.
    s.pause();
    s.write('GET /firmware?device=dev1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await Bun.sleep(300);
    s.resume();
    const whole = parseResponse(await readToEnd(s));
    expect(whole.status).toBe(200);
    expect(Number(whole.headers['content-length'])).toBe(IMAGE);
    expect(whole.body.equals(image)).toBe(true);
  });
}

test('a client that disconnects mid-download is reported as aborted and does not disturb the next one', async () => {
  const seen: { route: string; device?: string; errorCode?: string }[] = [];
  const onRequest = (e: { route: string; device?: string; errorCode?: string }) => void seen.push(e);
  disk.runtime.events.on('http-request', onRequest);
  const s = await openSocket(disk.ports.http as number);
  s.write('GET /firmware?device=dev1 HTTP/1.1\r\nHost: x\r\n\r\n');
  await readAtLeast(s, 100_000);
  s.destroy();
  for (let i = 0; i < 100 && !seen.length; i++) await Bun.sleep(10);
  disk.runtime.events.off('http-request', onRequest);
  expect(seen).toEqual([expect.objectContaining({ route: '/firmware', device: 'dev1', errorCode: 'aborted' })]);
  const r = await fetch(`${disk.url}/firmware?device=dev1`);
  expect(Buffer.from(await r.arrayBuffer()).equals(Buffer.from(fw.bytes('dev1', '1.0.0.bin')))).toBe(true);
});

test('close() ends idle keep-alive connections and stops accepting', async () => {
  const fwSmall = firmwareDir({ d: { '1.0.0.bin': 10 } });
  const server = await startTestServer({ flags: { 'firmware-dir': fwSmall.root } });
  const s = await openSocket(server.ports.http as number);
  s.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  await readOneResponse(s);
  const ended = readToEnd(s);
  await server.close();
  expect((await ended).length).toBe(0);
  await expect(fetch(`${server.url}/health`)).rejects.toThrow();
});

test('a client that half-closes after its request (printf … | nc) still gets the answer', async () => {
  const s = await openSocket(mem.ports.http as number);
  s.end('GET /version?device=dev2 HTTP/1.1\r\nHost: x\r\n\r\n');
  const r = parseResponse(await readToEnd(s));
  expect(r.status).toBe(200);
  expect(r.body.toString()).toBe(versionOf('dev2', '2.0.0.bin'));
});

test('remembered /version polls are answered at once: pipelined, HEAD, then close, each reported', async () => {
  await fetch(`${mem.url}/version?device=dev2`); // remembered from here on (refresh interval 60 s)
  const devices = mem.runtime.devices;
  const release = devices.release.bind(devices);
  let calls = 0, promises = 0;
  devices.release = (q) => {
    const r = release(q);
    calls++;
    if (r instanceof Promise) promises++;
    return r;
  };
  const reported: { route: string; status: number; bytes: number; device?: string }[] = [];
  const onRequest = (e: (typeof reported)[number]) => reported.push(e);
  mem.runtime.events.on('http-request', onRequest);
  try {
    const s = await openSocket(mem.ports.http as number);
    const poll = 'GET /version?device=dev2 HTTP/1.1\r\nHost: x\r\n\r\n';
    s.write(poll.repeat(4) + 'HEAD /version?device=dev2 HTTP/1.1\r\nHost: x\r\n\r\n' + 'GET /version?device=dev2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const raw = await readToEnd(s);
    const expected = versionOf('dev2', '2.0.0.bin');
    const heads = raw.toString('latin1').split(expected);
    // Four bodies, the HEAD answer without one, then the last body and the close.
    expect(heads).toHaveLength(6);
    expect(heads[4]).toContain('HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ' + expected.length);
    expect(heads[4]!.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(2);
    expect(heads[4]).toContain('Connection: close');
    expect(heads[5]).toBe('');
    expect([calls, promises]).toEqual([6, 0]); // each poll answered without waiting
    expect(reported.map((e) => `${e.route} ${e.status} ${e.bytes} ${e.device}`)).toEqual([
      ...Array(4).fill(`/version 200 ${expected.length} dev2`), '/version 200 0 dev2', `/version 200 ${expected.length} dev2`,
    ]);
  } finally {
    mem.runtime.events.off('http-request', onRequest);
    devices.release = release;
  }
});

test('a listener that throws while a poll is reported closes that connection only', async () => {
  await fetch(`${mem.url}/version?device=dev2`);
  const boom = () => { throw new Error('listener bug'); };
  mem.runtime.events.prependOnceListener('http-request', boom);
  const s = await openSocket(mem.ports.http as number);
  s.write('GET /version?device=dev2 HTTP/1.1\r\nHost: x\r\n\r\n');
  const raw = await readToEnd(s); // answered whole, then closed
  expect(parseResponse(raw).body.toString()).toBe(versionOf('dev2', '2.0.0.bin'));
  expect(mem.logs.some((l) => l.includes('request failed') && l.includes('listener bug'))).toBe(true);
  expect(await (await fetch(`${mem.url}/version?device=dev2`)).text()).toBe(versionOf('dev2', '2.0.0.bin'));
});
