/** Broker options from the `--mqtt-*` settings, the message body and topic, and the reconnect backoff. */
import { describe, expect, test } from 'bun:test';
import { brokerOptions } from '../../src/notify/mqtt-options.ts';
import { notificationPayload, notificationTopic } from '../../src/notify/mqtt-payload.ts';
import { Backoff } from '../../src/notify/backoff.ts';

const files: Record<string, string> = { '/ca.pem': 'CA', '/c.pem': 'CERT', '/k.pem': 'KEY' };
const read = (p: string) => {
  if (!(p in files)) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
  return Buffer.from(files[p] as string);
};

describe('brokerOptions', () => {
  test('plain URL with the Rust client_id query and default port', () => {
    const { client, display } = brokerOptions({ url: 'mqtt://broker.lan?client_id=otaflux-1', topic: 't' }, read);
    expect(client).toMatchObject({ protocol: 'mqtt', host: 'broker.lan', port: 1883, clientId: 'otaflux-1', reconnectPeriod: 0, clean: true });
    expect(client.username).toBeUndefined();
    expect(display).toBe('mqtt://broker.lan:1883');
  });

  test('mqtts with CA and client certificate; flags beat credentials in the URL, which are never displayed', () => {
    const { client, display } = brokerOptions({
      url: 'mqtts://u%40x:p%2Fw@10.0.0.5', topic: 't', username: 'flag-user', caCertPath: '/ca.pem', clientCertPath: '/c.pem', clientKeyPath: '/k.pem',
    }, read);
    expect(client).toMatchObject({ protocol: 'mqtts', port: 8883, username: 'flag-user', password: 'p/w', rejectUnauthorized: true });
    expect(String(client.ca)).toBe('CA');
    expect(String(client.cert)).toBe('CERT');
    expect(String(client.key)).toBe('KEY');
    expect(client.clientId).toMatch(/^otaflux-/);
    expect(display).toBe('mqtts://10.0.0.5:8883');
  });

  test('a CA turns TLS on for an mqtt:// URL, as in the Rust server', () => {
    expect(brokerOptions({ url: 'mqtt://b:8884', topic: 't', caCertPath: '/ca.pem' }, read).client).toMatchObject({ protocol: 'mqtts', port: 8884 });
  });

  test('IPv6 host', () => {
    expect(brokerOptions({ url: 'mqtt://[::1]:1884', topic: 't' }, read)).toMatchObject({ client: { host: '::1', port: 1884 }, display: 'mqtt://[::1]:1884' });
  });

  test('mistakes are reported with the flag that holds them, never a secret', () => {
    expect(() => brokerOptions({ url: 'broker:1883', topic: 't' }, read)).toThrow("--mqtt-url: unsupported scheme 'broker'");
    expect(() => brokerOptions({ url: 'http://b', topic: 't' }, read)).toThrow("unsupported scheme 'http'");
    expect(() => brokerOptions({ url: 'not a url', topic: 't', password: 'sekret' }, read)).toThrow(/^--mqtt-url: expected mqtt:\/\/host:port/);
    expect(() => brokerOptions({ url: 'mqtts://b', topic: 't', clientCertPath: '/c.pem' }, read)).toThrow('--mqtt-client-cert-path and --mqtt-client-key-path go together');
    expect(() => brokerOptions({ url: 'mqtts://b', topic: 't', caCertPath: '/missing.pem' }, read)).toThrow('--mqtt-ca-cert-path: cannot read /missing.pem: ENOENT');
  });
});

describe('notification body and topic', () => {
  test('version and size first (the Rust body), then crc32 unsigned and sha256', () => {
    const body = notificationPayload({ version: '1.0.0', size: 942320, crc32: -243035003, sha256: 'ab'.repeat(32) });
    expect(body).toBe(`{"version":"1.0.0","size":942320,"crc32":4051932293,"sha256":"${'ab'.repeat(32)}"}`);
  });

  test('topic is {prefix}/{device}; one trailing slash of the prefix is dropped', () => {
    expect(notificationTopic('firmware/updates', 'esp32-a')).toBe('firmware/updates/esp32-a');
    expect(notificationTopic('firmware/updates/', 'esp32-a')).toBe('firmware/updates/esp32-a');
    expect(notificationTopic('', 'fleet/esp32-a')).toBe('fleet/esp32-a');
  });
});

describe('Backoff', () => {
  test('doubles up to the cap with bounded jitter, and starts over after reset', () => {
    const b = new Backoff(500, 30_000, () => 1);
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(() => b.next())).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    b.reset();
    expect(b.next()).toBe(500);
    const low = new Backoff(1000, 1000, () => 0);
    expect(low.next()).toBe(800);
  });
});
