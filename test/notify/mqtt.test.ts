/**
 * MQTT notifications end to end: OtaFlux serving a firmware folder, a real Mosquitto broker
 * (password, TLS with client certificates, restarted mid-way) and a real subscriber
 * (`mosquitto_sub`). A device is "refreshed" by polling `/version` with a refresh interval of 0.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { firmwareDir } from '../support/firmware-dir.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/tmp.ts';
import { startBroker, type TestBroker } from './mosquitto.ts';
import { makeCerts } from './certs.ts';
import { Subscriber } from './subscriber.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

function expected(bytes: Uint8Array, version: string): string {
  return JSON.stringify({ version, size: bytes.byteLength, crc32: Bun.hash.crc32(bytes) >>> 0, sha256: createHash('sha256').update(bytes).digest('hex') });
}

async function poll(s: TestServer, device: string): Promise<string> {
  const res = await fetch(`${s.url}/version?device=${device}`);
  const body = await res.text();
  expect(res.status).toBe(200);
  return body.split('\n')[0] as string;
}

async function serve(root: string, broker: TestBroker, extra: Record<string, string | number>): Promise<TestServer> {
  const s = await startTestServer({ flags: { 'firmware-dir': root, 'refresh-interval': 0, 'mqtt-url': broker.url, 'mqtt-topic': 'fw/updates/', ...extra } });
  cleanups.push(() => s.close());
  return s;
}

describe('MQTT notifications with username and password', () => {
  const user = { name: 'otaflux', password: 'broker-pass-7f3c9a' };

  test('publishes retained QoS 1 on first release and on a new version, never when nothing changed (also across a restart)', async () => {
    const broker = await startBroker({ users: { [user.name]: user.password, watcher: 'watch-pass' } });
    cleanups.push(() => broker.stop());
    const fw = firmwareDir({ dev1: { '1.0.0.bin': 3000 }, dev2: { '1.0.0.bin': 700 } });
    const cacheDir = tempDir('otaflux-cache-');
    const live = new Subscriber({ port: broker.port, topic: 'fw/updates/#', user: { name: 'watcher', password: 'watch-pass' } });
    cleanups.push(() => live.stop());

    let s = await serve(fw.root, broker, { 'cache-dir': cacheDir, 'mqtt-username': user.name, 'mqtt-password': user.password });
    expect(await poll(s, 'dev1')).toBe('1.0.0');
    const first = await live.waitFor((m) => m.topic === 'fw/updates/dev1');
    expect(first.payload).toBe(expected(fw.bytes('dev1', '1.0.0.bin'), '1.0.0'));
    expect(Object.keys(JSON.parse(first.payload)).slice(0, 2)).toEqual(['version', 'size']);

    // A new version in the folder, then the device is refreshed.
    const v110 = randomBytes(4096);
    writeFileSync(join(fw.root, 'dev1', '1.1.0.bin'), v110);
    expect(await poll(s, 'dev1')).toBe('1.1.0');
    await live.waitFor((m) => m.topic === 'fw/updates/dev1' && m.payload.includes('"1.1.0"'));

    // A subscriber that connects now gets the retained message, at QoS 1.
    const late = new Subscriber({ port: broker.port, topic: 'fw/updates/dev1', user: { name: 'watcher', password: 'watch-pass' } });
    cleanups.push(() => late.stop());
    const retained = await late.waitFor(() => true);
    expect(retained).toEqual({ retained: true, qos: 1, topic: 'fw/updates/dev1', payload: expected(v110, '1.1.0') });

    // Nothing changed: polls publish nothing.
    for (let i = 0; i < 5; i++) expect(await poll(s, 'dev1')).toBe('1.1.0');
    expect(await s.mqtt?.idle()).toBe(true);
    expect(s.mqtt?.stats()).toMatchObject({ connected: true, pending: 0, published: 2 });

    // Restart on the same cache: the same version is found again and not republished. The
    // resolver's own record of the last release is removed too (as when its blob was evicted),
    // so only the publisher's ledger stands between a restart and a duplicate publish.
    await s.close();
    rmSync(join(cacheDir, 'devices'), { recursive: true, force: true });
    s = await serve(fw.root, broker, { 'cache-dir': cacheDir, 'mqtt-username': user.name, 'mqtt-password': user.password });
    expect(await poll(s, 'dev1')).toBe('1.1.0');
    // A fence: dev2's first release is published after anything dev1's poll could have caused.
    expect(await poll(s, 'dev2')).toBe('1.0.0');
    await live.waitFor((m) => m.topic === 'fw/updates/dev2');
    expect(await s.mqtt?.idle()).toBe(true);
    expect(live.messages.filter((m) => m.topic === 'fw/updates/dev1').map((m) => JSON.parse(m.payload).version)).toEqual(['1.0.0', '1.1.0']);
    expect(broker.publishes('fw/updates/dev1')).toBe(2);
    expect(broker.publishes('fw/updates/dev2')).toBe(1);
    expect(s.mqtt?.stats()).toMatchObject({ published: 1, skipped: 1 });

    // No secret in any log line.
    expect(s.logs.join('')).not.toContain(user.password);
    expect(s.logs.some((l) => JSON.parse(l).msg === 'connected to MQTT broker')).toBe(true);
  }, 30_000);

  test('wrong password: the server still serves, warns once, and never logs the password', async () => {
    const broker = await startBroker({ users: { [user.name]: user.password } });
    cleanups.push(() => broker.stop());
    const fw = firmwareDir({ dev1: { '2.0.0.bin': 100 } });
    const s = await serve(fw.root, broker, { 'mqtt-username': user.name, 'mqtt-password': 'not-the-password-91b2' });
    expect(await poll(s, 'dev1')).toBe('2.0.0');
    const until = Date.now() + 5000;
    while (!s.logs.some((l) => l.includes('MQTT broker unreachable')) && Date.now() < until) await Bun.sleep(20);
    const warnings = s.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'MQTT broker unreachable, retrying with backoff');
    expect(warnings.length).toBe(1);
    expect(String(warnings[0].error)).toMatch(/not authorized|bad user name or password/i);
    expect(s.mqtt?.stats()).toMatchObject({ connected: false, pending: 1, published: 0 });
    expect(s.logs.join('')).not.toContain('not-the-password-91b2');
  }, 20_000);
});

describe('MQTT notifications over TLS with a client certificate', () => {
  test('a broker that requires client certificates receives the notification', async () => {
    const certs = makeCerts();
    const broker = await startBroker({ tls: certs });
    cleanups.push(() => broker.stop());
    const fw = firmwareDir({ 'esp32-a': { '0.9.0.bin': 2048 } });
    const sub = new Subscriber({ port: broker.port, topic: 'fw/updates/+', tls: certs });
    cleanups.push(() => sub.stop());
    const s = await serve(fw.root, broker, { 'mqtt-ca-cert-path': certs.ca, 'mqtt-client-cert-path': certs.clientCert, 'mqtt-client-key-path': certs.clientKey });
    expect(await poll(s, 'esp32-a')).toBe('0.9.0');
    const m = await sub.waitFor((x) => x.topic === 'fw/updates/esp32-a');
    expect(m.payload).toBe(expected(fw.bytes('esp32-a', '0.9.0.bin'), '0.9.0'));
    expect(m.qos).toBe(1);
  }, 20_000);

  test('without a client certificate the broker refuses the publisher; the device API keeps working', async () => {
    const certs = makeCerts();
    const broker = await startBroker({ tls: certs });
    cleanups.push(() => broker.stop());
    const fw = firmwareDir({ 'esp32-b': { '1.0.0.bin': 64 } });
    const s = await serve(fw.root, broker, { 'mqtt-ca-cert-path': certs.ca });
    expect(await poll(s, 'esp32-b')).toBe('1.0.0');
    const until = Date.now() + 5000;
    while (!s.logs.some((l) => l.includes('MQTT broker unreachable')) && Date.now() < until) await Bun.sleep(20);
    expect(s.logs.some((l) => l.includes('MQTT broker unreachable'))).toBe(true);
    expect(s.mqtt?.stats()).toMatchObject({ connected: false, published: 0 });
    expect(broker.publishes()).toBe(0);
  }, 20_000);
});

describe('MQTT broker restarts', () => {
  test('the publisher reconnects, sends the change made while the broker was down, then the next one', async () => {
    const broker = await startBroker();
    cleanups.push(() => broker.stop());
    const fw = firmwareDir({ dev1: { '1.0.0.bin': 512 } });
    const s = await serve(fw.root, broker, {});
    expect(await poll(s, 'dev1')).toBe('1.0.0');
    expect(await s.mqtt?.idle()).toBe(true);
    expect(broker.publishes('fw/updates/dev1')).toBe(1);

    // Broker down; a new version is found meanwhile.
    await broker.stop();
    writeFileSync(join(fw.root, 'dev1', '1.0.1.bin'), randomBytes(600));
    expect(await poll(s, 'dev1')).toBe('1.0.1');
    expect(s.mqtt?.stats()).toMatchObject({ connected: false, pending: 1 });

    await broker.restart();
    const sub = new Subscriber({ port: broker.port, topic: 'fw/updates/dev1' });
    cleanups.push(() => sub.stop());
    await sub.waitFor((m) => m.payload.includes('"1.0.1"'), 10_000);

    // Restarted again mid-way: the next change is published after reconnecting.
    await broker.restart();
    const bytes = randomBytes(700);
    writeFileSync(join(fw.root, 'dev1', '1.0.2.bin'), bytes);
    expect(await poll(s, 'dev1')).toBe('1.0.2');
    const after = new Subscriber({ port: broker.port, topic: 'fw/updates/dev1' });
    cleanups.push(() => after.stop());
    await after.waitFor((x) => x.payload.includes('"1.0.2"'), 10_000);
    // Delivered live (retain flag cleared) or as retained, depending on timing: a fresh subscriber sees it retained.
    const fresh = new Subscriber({ port: broker.port, topic: 'fw/updates/dev1' });
    cleanups.push(() => fresh.stop());
    expect(await fresh.waitFor(() => true)).toEqual({ retained: true, qos: 1, topic: 'fw/updates/dev1', payload: expected(bytes, '1.0.2') });
    expect(s.logs.some((l) => JSON.parse(l).msg === 'MQTT connection lost')).toBe(true);
  }, 30_000);

  test('a change found while the broker was down is published after OtaFlux restarts, without a poll', async () => {
    const broker = await startBroker();
    cleanups.push(() => broker.stop());
    const fw = firmwareDir({ dev9: { '3.0.0.bin': 256 } });
    const cacheDir = tempDir('otaflux-cache-');
    await broker.stop();
    const s1 = await serve(fw.root, broker, { 'cache-dir': cacheDir });
    expect(await poll(s1, 'dev9')).toBe('3.0.0');
    await s1.close();
    expect(s1.logs.some((l) => JSON.parse(l).msg === 'MQTT notifications left unpublished; they are sent at the next start')).toBe(true);

    await broker.restart();
    const s2 = await serve(fw.root, broker, { 'cache-dir': cacheDir });
    const sub = new Subscriber({ port: broker.port, topic: 'fw/updates/dev9' });
    cleanups.push(() => sub.stop());
    const m = await sub.waitFor(() => true);
    expect(m.payload).toBe(expected(fw.bytes('dev9', '3.0.0.bin'), '3.0.0'));
    expect(await s2.mqtt?.idle()).toBe(true);
    expect(broker.publishes('fw/updates/dev9')).toBe(1);
  }, 30_000);
});

describe('MQTT notifications after a Harbor webhook', () => {
  test('a push webhook refreshes the device at once and the new version is published, without waiting for the refresh interval', async () => {
    const broker = await startBroker();
    cleanups.push(() => broker.stop());
    const fw = firmwareDir({ 'esp32-h': { '1.0.0.bin': 300 } });
    const s = await serve(fw.root, broker, { 'refresh-interval': 3600, 'webhook-secret': 'hook-secret-42' });
    const sub = new Subscriber({ port: broker.port, topic: 'fw/updates/esp32-h' });
    cleanups.push(() => sub.stop());
    expect(await poll(s, 'esp32-h')).toBe('1.0.0');
    await sub.waitFor((m) => m.payload.includes('"1.0.0"'));

    const bytes = randomBytes(320);
    writeFileSync(join(fw.root, 'esp32-h', '1.1.0.bin'), bytes);
    // Polls within the refresh interval still get the remembered version.
    expect(await poll(s, 'esp32-h')).toBe('1.0.0');
    const res = await fetch(`${s.url}/webhooks/harbor`, {
      method: 'POST',
      headers: { authorization: 'hook-secret-42', 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'PUSH_ARTIFACT', event_data: { repository: { name: 'esp32-h', repo_full_name: 'esp32-h' } } }),
    });
    expect(res.status).toBe(202);
    const m = await sub.waitFor((x) => x.payload.includes('"1.1.0"'));
    expect(m.payload).toBe(expected(bytes, '1.1.0'));
    expect(await poll(s, 'esp32-h')).toBe('1.1.0');
  }, 20_000);
});
