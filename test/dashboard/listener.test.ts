// The operator listener over real sockets: the dashboard, the operator API and the API docs are
// served on --admin-listen-addr and are 404 on the device port, unless --admin-on-device-port keeps
// them there; without operator credentials it does not listen; over TLS it speaks HTTPS and the
// session cookie is Secure.
import { afterEach, expect, test } from 'bun:test';
import { connect } from 'node:net';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { makeTlsFiles } from '../support/registry.ts';
import { tempDir } from '../support/tmp.ts';
import { freePort } from '../support/ports.ts';
import { resolveSettings } from '../../src/config/settings.ts';
import { startServer } from '../../src/server.ts';
import { createLogger } from '../../src/log.ts';

const TOKEN = 'admin-token-listener-test';
const fw = () => firmwareDir({ 'esp32-a': { '1.0.0.bin': 64 } }).root;
let servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});
const start = async (flags: Record<string, string | boolean>) => {
  const s = await startTestServer({ flags: { 'firmware-dir': fw(), 'admin-on-device-port': false, ...flags } });
  servers.push(s);
  return s;
};

/** One raw HTTP/1.1 exchange on a fresh socket: the status line of the answer. */
function rawStatus(port: number, path: string, headers = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}Connection: close\r\n\r\n`));
    let data = '';
    sock.on('data', (d) => (data += d.toString('latin1')));
    sock.on('end', () => resolve(data.split('\r\n')[0] as string));
    sock.on('error', reject);
  });
}

const OPERATOR_PATHS = ['/api/status', '/api/rollouts', '/docs', '/docs/json', '/docs/assets/swagger-ui.css', '/ui/login', '/ui/assets/style.css'];

test('operator routes: 404 on the device port, served on the operator port', async () => {
  const s = await start({ 'admin-token': TOKEN });
  expect(s.ports.admin).toBeNumber();
  expect(s.ports.admin).not.toBe(s.ports.http);
  const auth = `Authorization: Bearer ${TOKEN}\r\n`;
  for (const path of OPERATOR_PATHS) {
    expect(`${path} ${await rawStatus(s.ports.http as number, path, auth)}`).toBe(`${path} HTTP/1.1 404 Not Found`);
    expect(`${path} ${await rawStatus(s.ports.admin as number, path, auth)}`).toBe(`${path} HTTP/1.1 200 OK`);
  }
  // Devices are still served on the device port.
  expect(await rawStatus(s.ports.http as number, '/version?device=esp32-a')).toBe('HTTP/1.1 200 OK');
  // The operator API still wants its token on the operator port.
  expect(await rawStatus(s.ports.admin as number, '/api/status')).toBe('HTTP/1.1 401 Unauthorized');
});

test('--admin-on-device-port keeps the operator routes on the device port too', async () => {
  const s = await start({ 'admin-token': TOKEN, 'admin-on-device-port': true });
  const auth = `Authorization: Bearer ${TOKEN}\r\n`;
  for (const path of OPERATOR_PATHS) expect(`${path} ${await rawStatus(s.ports.http as number, path, auth)}`).toBe(`${path} HTTP/1.1 200 OK`);
});

test('without operator credentials nothing listens for operators; --admin-listen-addr false turns it off', async () => {
  const none = await start({});
  expect(none.ports.admin).toBeUndefined();
  expect(await rawStatus(none.ports.http as number, '/docs')).toBe('HTTP/1.1 404 Not Found');
  const off = await start({ 'admin-token': TOKEN, 'admin-listen-addr': 'false' });
  expect(off.ports.admin).toBeUndefined();
});

test('the operator listener binds where --admin-listen-addr says; a taken port stops start-up with one line', async () => {
  const port = await freePort();
  const s = await start({ 'admin-token': TOKEN, 'admin-listen-addr': `127.0.0.1:${port}` });
  expect(s.ports.admin).toBe(port);
  const settings = await resolveSettings({ 'firmware-dir': fw(), 'listen-addr': '127.0.0.1:0', 'metrics-listen-addr': 'false', 'cache-dir': tempDir(), 'admin-token': TOKEN, 'admin-listen-addr': `127.0.0.1:${port}` }, tempDir());
  const err = await startServer(settings, createLogger({ level: 'off' })).then(() => '', (e: Error) => e.message);
  expect(err).toBe(`--admin-listen-addr 127.0.0.1:${port}: address already in use; stop the other process or choose another port`);
});

test('with a server certificate the operator listener speaks HTTPS and the session cookie is Secure', async () => {
  const tls = await makeTlsFiles(tempDir('otaflux-admin-tls-'));
  const s = await start({ 'admin-token': TOKEN, 'tls-cert': tls.certFile, 'tls-key': tls.keyFile, 'tls-listen-addr': '127.0.0.1:0' });
  expect(s.adminUrl).toStartWith('https://');
  const ca = await Bun.file(tls.caFile).text();
  const r = await fetch(`${s.adminUrl}/ui/login`, { method: 'POST', redirect: 'manual', headers: { origin: s.adminUrl as string }, body: new URLSearchParams({ token: TOKEN }), tls: { ca } });
  expect(r.status).toBe(303);
  const cookie = r.headers.get('set-cookie') ?? '';
  expect(cookie).toContain('; HttpOnly');
  expect(cookie).toContain('; SameSite=Strict');
  expect(cookie).toContain('; Secure');
  // Plain HTTP to it is not answered as HTTP.
  expect(await fetch(`http://127.0.0.1:${s.ports.admin}/ui/login`).then((x) => x.status, () => 'refused')).not.toBe(200);
});
