// How each kind of client is known as an instance, over real sockets: the unmodified ESP32 example
// client (nothing but its address: weak; outcome inferred from its download and next poll), devices
// with their own token (`token:<device>`), and mutual-TLS devices sharing one stream (`cert:<CN>`),
// placed by a rollout that lists instances.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { connect } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/tmp.ts';
import { hashToken, newToken } from '../../src/plugins/auth/token-hash.ts';
import { TestPki, type ClientCert } from '../auth/pki.ts';
import { esp32Sequence, split } from '../auth/tls-clients.ts';
import { ADMIN_TOKEN, api, fleetFirmware, until } from './fleet-sim.ts';

let server: TestServer;
let pki: TestPki;
let unit1: ClientCert;
let unit2: ClientCert;
const tokens = { 'gw-1': newToken(), 'gw-2': newToken() };

beforeAll(async () => {
  pki = new TestPki();
  unit1 = pki.client('unit-1', '/CN=unit-1');
  unit2 = pki.client('unit-2', '/CN=unit-2');
  const fw = fleetFirmware(['esp-a', 'gw-1', 'gw-2', 'mt-fleet'], ['1.0.0', '1.1.0']);
  const config = join(tempDir('otaflux-fleet-id-'), 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir, mtls, token } from 'otaflux';
const source = dir({ root: ${JSON.stringify(fw.root)} });
export default defineConfig({
  server: {
    adminToken: ${JSON.stringify(ADMIN_TOKEN)},
    tls: { listenAddr: '127.0.0.1:0', cert: ${JSON.stringify(pki.serverCert)}, key: ${JSON.stringify(pki.serverKey)}, clientCa: ${JSON.stringify(pki.caCert)}, requireClientCert: false },
  },
  // With a client CA, a device whose auth is not set would need its certificate: the plain ESP32 is open.
  defaults: { source, auth: 'none' },
  devices: {
    'gw-*': { source, auth: token({ devices: { 'gw-1': ${JSON.stringify(hashToken(tokens['gw-1']))}, 'gw-2': ${JSON.stringify(hashToken(tokens['gw-2']))} } }) },
    'mt-fleet': { source, auth: mtls({ device: 'mt-fleet' }) },
  },
  fleet: {
    refreshInterval: 0.2,
    rollouts: [
      { id: 'listed', streams: ['gw-*', 'mt-fleet'], version: '1.1.0', instances: ['token:gw-1', 'cert:unit-2'], steps: [{ percent: 100 }] },
    ],
  },
});
`);
  server = await startTestServer({ config });
});
afterAll(() => server?.close());

async function view(stream: string, instance: string) {
  return (await (await api(server.url, 'GET', `/devices/${stream}?instance=${encodeURIComponent(instance)}`)).json()) as {
    fleet: { instance: string; weak: boolean; offer: { version: string; rollout?: string }; checkin?: { identity: string | null; address: string }; outcomes: { version: string; state: string; inferred: boolean }[] };
  };
}

/** The example ESP32 client over plain HTTP: leading CRLF, keep-alive /version, then /firmware on the same connection. */
function esp32Plain(port: number, device: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect(port, '127.0.0.1', () => {
      s.write(`\r\nGET /version?device=${device} HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n`);
      s.once('data', () => s.write(`GET /firmware?device=${device} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`));
    });
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });
}

test('the unmodified ESP32 client: its address names it (weak); downloaded, then verified by inference from its next poll', async () => {
  const port = server.ports.http as number;
  const raw = await esp32Plain(port, 'esp-a');
  expect(raw.toString('latin1')).toContain('x-firmware-version: 1.1.0');
  await until('the download to be recorded', async () => (await view('esp-a', 'addr:127.0.0.1')).fleet.outcomes.some((o) => o.state === 'downloaded'));
  // It reboots into the new image and polls again: it does not download again.
  await fetch(`${server.url}/version?device=esp-a`).then((r) => r.text());
  const v = await view('esp-a', 'addr:127.0.0.1');
  expect(v.fleet).toMatchObject({ instance: 'addr:127.0.0.1', weak: true });
  expect(v.fleet.outcomes).toMatchObject([{ version: '1.1.0', state: 'verified', inferred: true }]);
});

test('device tokens: the token owner is the instance; a rollout listing instances includes only those', async () => {
  const poll = (d: 'gw-1' | 'gw-2') => fetch(`${server.url}/version?device=${d}`, { headers: { authorization: `Bearer ${tokens[d]}` } }).then((r) => r.text());
  expect((await poll('gw-1')).split('\n')[0]).toBe('1.1.0');
  expect((await poll('gw-2')).split('\n')[0]).toBe('1.0.0');
  await server.runtime.fleet?.flush();
  const v = await view('gw-1', 'token:gw-1');
  expect(v.fleet.checkin?.identity).toBe('token:gw-1');
  expect(v.fleet.offer).toMatchObject({ version: '1.1.0', rollout: 'listed' });
});

test('mutual TLS: instances sharing a stream are told apart by their certificate', async () => {
  const port = server.ports.https as number;
  const one = split((await esp32Sequence(port, 'mt-fleet', unit1)).version);
  const two = split((await esp32Sequence(port, 'mt-fleet', unit2)).version);
  expect(one.body.toString().split('\n')[0]).toBe('1.0.0');
  expect(two.body.toString().split('\n')[0]).toBe('1.1.0');
  await server.runtime.fleet?.flush();
  expect((await view('mt-fleet', 'cert:unit-2')).fleet.checkin?.identity).toBe('cert:unit-2');
});
