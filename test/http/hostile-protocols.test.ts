// Hostile clients on the device protocols and the operator listener, over real sockets: malformed DDI
// feedback and ids, Arduino and RAUC requests with garbage headers and ranges, manifest paths that try
// to climb out, and broken uploads, CSRF tokens and session cookies on the dashboard. Every request
// gets an answer below 500 (503 only where README documents one), a short body without a stack
// frame or a file path, and a normal device is still served afterwards.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { exchange, type Exchange } from './exchange.ts';
import { signIn, type Signed } from '../dashboard/sign-in.ts';

// Real sockets on a shared 2-core machine: room for a loaded moment.
setDefaultTimeout(90_000);

const ADMIN = 'hostile-protocols-admin-token-0123';
const UPLOAD_LIMIT = 4096;
const MAC = '24:0A:C4:00:00:01';
const COMPATIBLE = 'Hostile Test Board';
const fw = firmwareDir({ 'ddi-fw': { '1.0.0.swu': 3000 }, 'esp32-a': { '1.0.0.bin': 2000 }, 'rauc-board': { '1.0.0.raucb': 5000 } });
let server: TestServer;
let admin: Signed;
let adminPort: number;
let actionId: string;

beforeAll(async () => {
  const config = join(tempDir('otaflux-hostile-protocols-'), 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir } from 'otaflux';
export default defineConfig({
  server: { adminToken: ${JSON.stringify(ADMIN)}, uploadMaxBytes: ${UPLOAD_LIMIT} },
  defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }), extract: 'raw' },
  fleet: { refreshInterval: 0.2 },
  protocols: {
    ddi: { streams: { 'ctl-*': 'ddi-fw' } },
    arduino: { streams: { '24:0A:C4:*': 'esp32-a' } },
    rauc: { streams: { 'Hostile *': 'rauc-board' } },
  },
});
`);
  server = await startTestServer({ config, flags: { 'admin-on-device-port': false } });
  adminPort = Number(new URL(server.adminUrl as string).port);
  admin = await signIn(server.adminUrl as string, ADMIN);
  const poll = (await (await fetch(`${server.url}/DEFAULT/controller/v1/ctl-1`)).json()) as { _links: { deploymentBase: { href: string } } };
  actionId = /deploymentBase\/(\d+)$/.exec(poll._links.deploymentBase.href)?.[1] as string;
  expect(actionId).toMatch(/^\d+$/);
});
afterAll(() => server?.close());

/** A request head with `Connection: close`, and a body with its exact Content-Length when given. */
function req(method: string, path: string, headers: string[] = [], body?: string | Buffer): Buffer {
  const b = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
  const head = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...headers, ...(b ? [`Content-Length: ${b.length}`] : []), 'Connection: close', '', ''].join('\r\n');
  return b ? Buffer.concat([Buffer.from(head, 'latin1'), b]) : Buffer.from(head, 'latin1');
}

/** Anything that gives away the code: a stack frame, a source or system path, a runtime error name. */
const LEAK = /^\s*at\s|\(\/|\/(src|work|tmp|home|root|usr)\/|\.ts:\d+|node_modules|TypeError|SyntaxError|RangeError|ReferenceError|is not an object|is not a function|Cannot read/m;

/**
 * Sends every request (a few at a time) and checks each answer: one came, below 500 unless the status
 * is in `allowed5xx`, and an error body that is short and leaks nothing. Returns the statuses seen.
 */
async function expectShortAnswers(port: number, requests: Buffer[], allowed5xx: number[] = []): Promise<number[]> {
  const failures: string[] = [];
  const statuses: number[] = [];
  for (let i = 0; i < requests.length; i += 12) {
    const batch = requests.slice(i, i + 12);
    const answers: Exchange[] = await Promise.all(batch.map((r) => exchange(port, r, 15_000)));
    answers.forEach((a, j) => {
      const shown = JSON.stringify(batch[j]!.subarray(0, 140).toString('latin1'));
      const r = a.response;
      if (!r) return void failures.push(`${shown}: no answer (${a.closed ? 'closed silently' : 'timed out'})`);
      statuses.push(r.status);
      const text = r.body.toString('latin1');
      if (r.status >= 500 && !allowed5xx.includes(r.status)) failures.push(`${shown}: ${r.status} ${text.slice(0, 120)}`);
      // An image (2xx, application/octet-stream) is random bytes that may spell anything: only its head is checked.
      const image = r.status < 300 && /octet-stream/i.test(r.headers['content-type'] ?? '');
      if ((!image && LEAK.test(text)) || LEAK.test(a.raw.subarray(0, a.raw.indexOf('\r\n\r\n')).toString('latin1'))) failures.push(`${shown}: leaks ${JSON.stringify(text.slice(0, 200))}`);
      if (r.status >= 400 && r.body.length > 512) failures.push(`${shown}: ${r.status} with a ${r.body.length}-byte body`);
    });
  }
  expect(failures).toEqual([]);
  return statuses;
}

/** A normal device of each protocol is still served, byte-exact. */
async function devicesStillServed() {
  const native = await fetch(`${server.url}/firmware?device=esp32-a`);
  expect(native.status).toBe(200);
  expect(new Uint8Array(await native.arrayBuffer())).toEqual(new Uint8Array(fw.bytes('esp32-a', '1.0.0.bin')));
  const arduino = await fetch(`${server.url}/firmware`, { headers: { 'user-agent': 'ESP32-http-Update', 'x-esp32-sta-mac': MAC, 'x-esp32-version': '0.9.0' } });
  expect(arduino.status).toBe(200);
  expect(new Uint8Array(await arduino.arrayBuffer())).toEqual(new Uint8Array(fw.bytes('esp32-a', '1.0.0.bin')));
  const rauc = await fetch(`${server.url}/firmware?device=rauc-board`, { headers: { range: 'bytes=0-3' } });
  expect(rauc.status).toBe(206);
  expect(new Uint8Array(await rauc.arrayBuffer())).toEqual(new Uint8Array(fw.bytes('rauc-board', '1.0.0.raucb').subarray(0, 4)));
  const poll = await fetch(`${server.url}/DEFAULT/controller/v1/ctl-after`);
  expect(poll.status).toBe(200);
  expect(((await poll.json()) as { _links: Record<string, unknown> })._links.deploymentBase).toBeDefined();
}

test('DDI feedback: truncated, huge numbers, wrong types, deep nesting, 1 MiB, binary: an answer below 500, short, nothing leaked', async () => {
  const feedback = `/DEFAULT/controller/v1/ctl-1/deploymentBase/${actionId}/feedback`;
  const bodies: (string | Buffer)[] = [
    '', '{', '{"status":', '{"id":1,"status":{"execution":"closed","result":{"finished":"succ', 'null', '[]', '"closed"', '42', 'true',
    `{"id":${'9'.repeat(400)},"status":{"execution":"proceeding","result":{"finished":"none"}}}`,
    '{"id":1e999,"status":{"execution":"closed"}}', '{"id":-1,"status":{"execution":"proceeding","result":{"progress":{"cnt":1e308,"of":-0}}}}',
    '{"status":{"execution":1,"result":{"finished":[]}}}', '{"status":{"execution":{"toString":1},"result":"x"}}', '{"status":"closed"}', '{"status":null}',
    '{"status":{"execution":"closed","result":{"finished":{"toLowerCase":1}}}}', '{"__proto__":{"status":{"execution":"closed"}}}',
    '{"constructor":{"prototype":{"execution":"closed"}}}', `{"status":{"execution":"${'x'.repeat(100_000)}"}}`,
    `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`, '['.repeat(200_000), Buffer.alloc(1024 * 1024, '{'), Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x22]),
    '{"status":{"execution":"closed","result":{"finished":"success"}}', // missing the last brace
  ];
  const types = ['application/json', 'application/json; charset=__proto__', 'text/plain', 'multipart/form-data; boundary=x'];
  const requests: Buffer[] = [];
  for (const body of bodies) {
    for (const type of types) requests.push(req('POST', feedback, [`Content-Type: ${type}`], body));
  }
  for (const path of [`/DEFAULT/controller/v1/ctl-1/cancelAction/${actionId}/feedback`, '/DEFAULT/controller/v1/ctl-1/configData']) {
    for (const body of bodies) requests.push(req(path.endsWith('configData') ? 'PUT' : 'POST', path, ['Content-Type: application/json'], body));
  }
  // A body over 1 MiB is the listener's 413; one announced but never sent is its 408 (not waited for here).
  requests.push(req('POST', feedback, ['Content-Type: application/json'], Buffer.alloc(1024 * 1024 + 1, ' ')));
  const statuses = await expectShortAnswers(server.ports.http as number, requests);
  expect(statuses).toContain(200);
  expect(statuses).toContain(413);
  // None of that closed the deployment: ctl-1 is still offered it (a garbage body is no result).
  const poll = (await (await fetch(`${server.url}/DEFAULT/controller/v1/ctl-1`)).json()) as { _links: Record<string, unknown> };
  expect(poll._links.deploymentBase).toBeDefined();
  await devicesStillServed();
});

test('a cancelAction feedback for a deployment that was never canceled closes nothing', async () => {
  const poll = async () => (await (await fetch(`${server.url}/DEFAULT/controller/v1/ctl-uncanceled`)).json()) as { _links: Record<string, { href: string }> };
  const id = /(\d+)$/.exec((await poll())._links.deploymentBase!.href)?.[1] as string;
  for (const execution of ['closed', 'canceled']) {
    const r = await fetch(`${server.url}/DEFAULT/controller/v1/ctl-uncanceled/cancelAction/${id}/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, status: { execution, result: { finished: 'success' } } }) });
    expect(r.status).toBe(200);
  }
  expect((await poll())._links.deploymentBase?.href).toEndWith(`/deploymentBase/${id}`);
});

test('DDI ids: overlong, control characters, traversal and percent-encoding tricks in tenant, controller and action ids', async () => {
  const ids = [
    'x'.repeat(129), 'x'.repeat(5000), '%00', '%0d%0aSet-Cookie:%20x=1', '%09', '%7f', '..', '%2e%2e', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '..%2f..%2fetc',
    '%252e%252e', '%c0%ae%c0%ae', '%', '%zz', '%E0%A4%A', '__proto__', 'constructor', 'a b', 'a%20b', 'ctl-1%2Fsoftwaremodules', 'ctl*', '%u002e', ';', '~root',
  ];
  const templates = [
    (t: string, c: string, a: string) => `/${t}/controller/v1/${c}`,
    (t: string, c: string, a: string) => `/${t}/controller/v1/${c}/deploymentBase/${a}`,
    (t: string, c: string, a: string) => `/${t}/controller/v1/${c}/softwaremodules/${a}/artifacts/ddi-fw-1.0.0.swu`,
    (t: string, c: string, a: string) => `/${t}/controller/v1/${c}/cancelAction/${a}`,
    (t: string, c: string, a: string) => `/${t}/controller/v1/${c}/configData`,
  ];
  const requests: Buffer[] = [];
  for (const id of ids) {
    for (const path of templates) {
      for (const [t, c, a] of [[id, 'ctl-1', actionId], ['DEFAULT', id, actionId], ['DEFAULT', 'ctl-1', id]] as const) {
        requests.push(req('GET', path(t, c, a)));
      }
    }
    requests.push(req('GET', `/DEFAULT/controller/v1/ctl-1/softwaremodules/${actionId}/artifacts/${id}`));
    requests.push(req('HEAD', `/DEFAULT/controller/v1/ctl-1/softwaremodules/${actionId}/artifacts/${id}`));
  }
  requests.push(req('GET', '/DEFAULT/controller/v1/ctl-1', ['Authorization: TargetToken ' + 'x'.repeat(8000)]));
  requests.push(req('GET', '/DEFAULT/controller/v1/ctl-1', ['Authorization: GatewayToken __proto__']));
  requests.push(req('GET', '/DEFAULT/controller/v1/ctl-1', ['Authorization: TargetToken']));
  const statuses = await expectShortAnswers(server.ports.http as number, requests);
  expect(statuses).toContain(404);
  await devicesStillServed();
});

test('DDI requests pipelined on one keep-alive connection, garbage feedback bodies between them: each answered, in order', async () => {
  const feedback = `/DEFAULT/controller/v1/ctl-pipe/deploymentBase/${actionId}/feedback`;
  const keep = (method: string, path: string, body?: string) => {
    const b = body === undefined ? '' : body;
    return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${body === undefined ? '' : `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\n`}\r\n${b}`;
  };
  const sequence = [
    keep('GET', '/DEFAULT/controller/v1/ctl-pipe'),
    keep('POST', feedback, '{"status":{"execution":"proceeding"'),
    keep('PUT', '/DEFAULT/controller/v1/ctl-pipe/configData', '\u0000'),
    keep('POST', feedback, 'GET /DEFAULT/controller/v1/smuggled HTTP/1.1\r\n\r\n'),
    keep('GET', `/DEFAULT/controller/v1/ctl-pipe/deploymentBase/${actionId}`),
    `${keep('GET', '/DEFAULT/controller/v1/%zz').replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n')}`,
  ];
  const a = await exchange(server.ports.http as number, sequence.join(''), 15_000);
  const statuses = [...a.raw.toString('latin1').matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
  // A body that looks like a request is a body: no answer for a smuggled request.
  expect(statuses).toEqual([200, 200, 200, 200, 200, 404]);
  expect(a.raw.toString('latin1')).not.toContain('smuggled');
  expect(LEAK.test(a.raw.toString('latin1'))).toBe(false);
});

test('DDI artifact ranges: reversed, empty, multiple, overlong: 206 or 416 with bytes */N, never 5xx', async () => {
  const artifact = `/DEFAULT/controller/v1/ctl-1/softwaremodules/${actionId}/artifacts/ddi-fw-1.0.0.swu`;
  const ranges = ['bytes=5-1', 'bytes=-0', 'bytes=0-0,5-9', 'bytes=0-1,0-1,0-1', `bytes=${'9'.repeat(40)}-`, 'bytes=-', 'bytes=3000-', 'bytes=0-' + '9'.repeat(30), `bytes=${'0-1,'.repeat(3000)}0-1`, 'items=0-1', 'bytes=--1', 'bytes=1-2-3', 'bytes= 0-1', 'bytes=0x10-'];
  const requests = ranges.flatMap((r) => ['GET', 'HEAD'].map((m) => req(m, artifact, [`Range: ${r}`])));
  const statuses = await expectShortAnswers(server.ports.http as number, requests);
  expect(statuses).toContain(416);
  const reversed = await exchange(server.ports.http as number, req('GET', artifact, ['Range: bytes=5-1']));
  // A reversed range is no valid range at all: the whole artifact (RFC 9110 §14.2) or a 416, never a slice.
  expect([200, 416]).toContain(reversed.response?.status as number);
  if (reversed.response?.status === 416) expect(reversed.response.headers['content-range']).toBe('bytes */3000');
  await devicesStillServed();
});

test('Arduino and ESP-IDF: garbage STA MACs, versions, modes, hashes and ranges: an answer below 500, short, nothing leaked', async () => {
  const macs = ['', 'garbage', 'ZZ:ZZ:ZZ:ZZ:ZZ:ZZ', '24:0A:C4:00:00:01:ff:ff', '24:0A:C4:*', '*', `24:0A:C4:${'0'.repeat(4000)}`, '24%3A0A%3AC4%3A00%3A00%3A01', '__proto__', '../../etc/passwd', '24:0A:C4:00:00:01\t', 'é:ü:ß'];
  const requests: Buffer[] = [];
  for (const prefix of ['ESP32', 'ESP8266']) {
    const ua = `User-Agent: ${prefix}-http-Update`;
    for (const mac of macs) {
      for (const path of ['/firmware', '/firmware?device=esp32-a', '/firmware?device=', '/firmware?device=__proto__']) {
        requests.push(Buffer.from(req('GET', path, [ua, `x-${prefix}-STA-MAC: ${mac}`]).toString('latin1').replace('HTTP/1.1', 'HTTP/1.0'), 'latin1'));
      }
    }
    for (const extra of [
      `x-${prefix}-mode: __proto__`, `x-${prefix}-mode: SPIFFS`, `x-${prefix}-mode: version`, `x-${prefix}-mode: ${'s'.repeat(5000)}`, `x-${prefix}-version: ${'9'.repeat(5000)}`, `x-${prefix}-version: 1.0.0\x01`,
      `x-${prefix}-sketch-md5: not-hex`, `x-${prefix}-sketch-md5: ${'f'.repeat(4000)}`, `x-${prefix}-sketch-sha256: zz`, `x-${prefix}-free-space: -1`, `x-${prefix}-sketch-size: 1e999`,
      `x-${prefix}-chip-size: NaN`, `x-${prefix}-STA-MAC: ${MAC}\r\nx-${prefix}-STA-MAC: 24:0A:C4:00:00:02`,
    ]) {
      requests.push(req('GET', '/firmware?device=esp32-a', [ua, `x-${prefix}-STA-MAC: ${MAC}`, extra]));
    }
  }
  const idf = 'User-Agent: ESP32 HTTP Client/1.0';
  for (const range of ['bytes=5-1', 'bytes=-0', 'bytes=0-1,5-9', `bytes=${'9'.repeat(40)}-`, 'bytes=2000-', 'bytes=0-1,'.repeat(1500), 'bytes=abc', 'bytes=-99999999999999999999']) {
    requests.push(req('GET', '/firmware?device=esp32-a', [idf, `Range: ${range}`]));
    requests.push(req('GET', '/firmware?device=esp32-a&instance=%00', [idf, `Range: ${range}`, 'If-Range: "garbage"']));
  }
  requests.push(req('GET', '/firmware?device=esp32-a', [idf, `X-Device-Instance: ${'i'.repeat(8000)}`]));
  requests.push(req('GET', '/firmware?device=esp32-a', [idf, 'X-Device-Instance: __proto__']));
  const statuses = await expectShortAnswers(server.ports.http as number, requests);
  expect(statuses).toContain(200);
  expect(statuses).toContain(403);
  await devicesStillServed();
});

test('RAUC streaming and manifest: garbage RAUC headers, ranges and compatibles, traversal in the manifest path', async () => {
  const requests: Buffer[] = [];
  for (const range of ['bytes=0-3', 'bytes=5-1', 'bytes=-0', 'bytes=0-3,4-7', 'bytes=0-3,0-3', `bytes=0-${'9'.repeat(40)}`, 'bytes=5000-', 'bytes=-5001', `bytes=${'1-2,'.repeat(2000)}3-4`, 'bytes=', 'bytes']) {
    for (const headers of [[], ['RAUC-Serial: unit-1', 'RAUC-Boot-ID: b', `RAUC-Compatible: ${COMPATIBLE}`], ['RAUC-Serial: %00', 'RAUC-System-Version: ' + 'v'.repeat(6000)], ['RAUC-Serial: __proto__', 'RAUC-Transaction-ID: ../../x'], ['If-None-Match: "__proto__"', 'RAUC-Machine-ID: \x7f']]) {
      requests.push(req('GET', '/firmware?device=rauc-board', [`Range: ${range}`, ...headers]));
    }
  }
  const compatibles = ['', '%00', '..', '../..', '..%2f..%2fetc%2fpasswd', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '....//....//etc/passwd', '%252e%252e%252f', 'Hostile Test Board', 'Hostile%20Test%20Board', '__proto__', 'constructor', 'x'.repeat(5000), '%', '%c0%af', 'a\\..\\b'];
  for (const c of compatibles) {
    requests.push(req('GET', `/api/v1/manifest/${c}.json`));
    requests.push(req('GET', `/api/v1/manifest/${c}`));
    requests.push(req('GET', `/api/v1/manifest.json?compatible=${c}`));
    requests.push(req('GET', '/api/v1/manifest.json', [`X-RAUC-Compatible: ${c}`]));
  }
  requests.push(req('GET', '/api/v1/manifest/../../../etc/passwd'));
  requests.push(req('GET', '/api/v1/manifest/..%2f..%2f..%2fetc%2fpasswd.json'));
  requests.push(req('GET', '/api/v1/manifest.json?compatible=a&compatible=b'));
  requests.push(req('GET', '/api/v1/manifest.json?compatible[]=x'));
  requests.push(req('POST', '/api/v1/manifest.json', ['Content-Type: application/json'], '{"compatible":"Hostile Test Board"}'));
  const statuses = await expectShortAnswers(server.ports.http as number, requests);
  expect(statuses).toContain(206);
  expect(statuses).toContain(404);
  expect(statuses).toContain(400);
  // No traversal reached a file: no answer body holds a line of /etc/passwd.
  const answers = await Promise.all(['/api/v1/manifest/..%2f..%2f..%2fetc%2fpasswd.json', '/api/v1/manifest.json?compatible=../../../etc/passwd'].map((p) => exchange(server.ports.http as number, req('GET', p))));
  for (const a of answers) expect(a.raw.toString('latin1')).not.toContain('root:');
  const good = (await (await fetch(`${server.url}/api/v1/manifest.json?compatible=${encodeURIComponent(COMPATIBLE)}`)).json()) as { version: string };
  expect(good.version).toBe('1.0.0');
  await devicesStillServed();
});

test('operator listener: uploads with a missing, wrong, broken or oversized body; bad CSRF; bad session cookies', async () => {
  const base = server.adminUrl as string;
  const origin = `Origin: ${base}`;
  const cookie = `Cookie: ${admin.cookie}`;
  const boundary = 'xBOUNDARYx';
  const multipart = [`Content-Type: multipart/form-data; boundary=${boundary}`];
  const part = (name: string, value: string, file?: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${file ? `; filename="${file}"` : ''}\r\n\r\n${value}\r\n`;
  const whole = part('_csrf', admin.csrf) + part('stream', 'esp32-a') + part('version', '7.7.7') + part('file', 'abc', 'a.bin') + `--${boundary}--\r\n`;
  const upload = '/ui/releases/upload';
  const requests: Buffer[] = [
    req('POST', upload, [origin, cookie]),
    req('POST', upload, [origin, cookie, 'Content-Type: multipart/form-data'], whole),
    req('POST', upload, [origin, cookie, 'Content-Type: multipart/form-data; boundary='], whole),
    req('POST', upload, [origin, cookie, ...multipart], whole.slice(0, whole.length / 2)),
    req('POST', upload, [origin, cookie, ...multipart], whole.replaceAll(boundary, 'other')),
    req('POST', upload, [origin, cookie, ...multipart], `--${boundary}\r\n\r\n\r\n--${boundary}--`),
    req('POST', upload, [origin, cookie, ...multipart], `--${boundary}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--${boundary}--\r\n`),
    req('POST', upload, [origin, cookie, ...multipart], part('_csrf', admin.csrf) + part('stream', 'esp32-a') + part('version', '7.7.8') + `--${boundary}--\r\n`),
    req('POST', upload, [origin, cookie, ...multipart], part('_csrf', admin.csrf) + part('stream', '../../etc') + part('version', '1.0.0') + part('file', 'abc', '../../x.bin') + `--${boundary}--\r\n`),
    req('POST', upload, [origin, cookie, ...multipart], part('_csrf', admin.csrf) + part('stream', 'esp32-a') + part('version', '../1.0.0') + part('file', 'abc', 'a.bin') + `--${boundary}--\r\n`),
    req('POST', upload, [origin, cookie, ...multipart], part('_csrf', admin.csrf) + part('stream', 'esp32-a') + part('version', '1.0.0-%00') + part('file', 'abc', 'a.bin') + `--${boundary}--\r\n`),
    req('POST', upload, [origin, cookie, ...multipart], part('_csrf', admin.csrf) + part('stream', 'esp32-a') + part('version', '7.7.9') + part('file', 'x'.repeat(UPLOAD_LIMIT + 1), 'a.bin') + `--${boundary}--\r\n`),
    req('POST', upload, [origin, cookie, ...multipart], Buffer.alloc(UPLOAD_LIMIT + 70 * 1024, 'x')),
    req('POST', upload, [origin, cookie, 'Content-Type: application/json'], '{"stream":"esp32-a"}'),
    req('POST', upload, [origin, cookie, 'Content-Type: application/x-www-form-urlencoded'], '_csrf=%zz&stream=%&version=%E0%A4%A'),
    req('POST', upload, [origin, cookie, ...multipart], Buffer.from([0xff, 0x00, 0xfe, 0x0d, 0x0a])),
    // CSRF: wrong, missing, another session's shape, from another origin, with no Origin or Referer.
    req('POST', upload, [origin, cookie, ...multipart], whole.replace(admin.csrf, 'x'.repeat(admin.csrf.length))),
    req('POST', upload, [origin, cookie, ...multipart], whole.replace(part('_csrf', admin.csrf), '')),
    req('POST', upload, ['Origin: http://evil.example', cookie, ...multipart], whole),
    req('POST', upload, ['Origin: null', cookie, ...multipart], whole),
    req('POST', upload, [cookie, ...multipart], whole),
    req('POST', upload, [`Referer: ${base}/ui/releases`.replace('127.0.0.1', 'localhost'), cookie, ...multipart], whole),
    req('POST', '/ui/releases/yank', [origin, cookie, 'Content-Type: application/x-www-form-urlencoded'], `_csrf=${admin.csrf.slice(1)}&stream=esp32-a&version=1.0.0`),
    req('POST', '/ui/logout', [origin, cookie, 'Content-Type: application/x-www-form-urlencoded'], '_csrf[]=x'),
  ];
  const cookies = [
    '', 'otaflux_session', 'otaflux_session=', 'otaflux_session=;', 'otaflux_session=%zz', 'otaflux_session=__proto__', 'otaflux_session=constructor', `otaflux_session=${'a'.repeat(8000)}`,
    'otaflux_session=\x01\x02', 'otaflux_session="quoted"', 'otaflux_session=a; otaflux_session=b', '=; ==; ;;;', 'otaflux_session=é', `otaflux_session=${admin.cookie.split('=')[1]!.slice(0, -1)}x`,
    `otaflux_session=${admin.cookie.split('=')[1]}%00`, 'otaflux_session=../../etc/passwd',
  ];
  for (const c of cookies) {
    for (const path of ['/ui/fleet', '/ui/releases', '/ui/device?instance=__proto__', '/ui/rollouts?days=1e999', '/ui/audit', '/ui/login']) requests.push(req('GET', path, [`Cookie: ${c}`]));
    requests.push(req('POST', upload, [origin, `Cookie: ${c}`, ...multipart], whole));
  }
  for (const token of ['', 'x', 'x'.repeat(100_000), '%00', '__proto__']) {
    requests.push(req('POST', '/ui/login', [origin, 'Content-Type: application/x-www-form-urlencoded'], `token=${token}`));
  }
  // The store is local SQLite here: a 503 would mean it did not answer, which must not happen.
  const statuses = await expectShortAnswers(adminPort, requests);
  expect(statuses).toContain(403);
  expect(statuses).toContain(413);
  // Nothing of that wrote a release: only the one published, and the session still works.
  const versions = await fetch(`${server.url}/version?device=esp32-a`);
  expect((await versions.text()).split('\n')[0]).toBe('1.0.0');
  expect((await fetch(`${base}/ui/fleet`, { headers: { cookie: admin.cookie } })).status).toBe(200);
  await devicesStillServed();
});
