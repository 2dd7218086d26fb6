/** The config file's `mqtt` section: mirrors the `--mqtt-*` flags, flags win key by key, paths resolve beside the file. */
import { expect, test } from 'bun:test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveSettings } from '../../src/config/settings.ts';
import { tempDir } from '../support/tmp.ts';

function configFile(mqtt: string): string {
  const dir = tempDir('otaflux-config-');
  mkdirSync(join(dir, 'fw'));
  const path = join(dir, 'otaflux.config.ts');
  writeFileSync(path, `import { defineConfig, dir } from 'otaflux';\nexport default defineConfig({ defaults: { source: dir({ root: './fw' }) }, mqtt: ${mqtt} });\n`);
  return path;
}

test('the mqtt section becomes settings.mqtt, certificate paths relative to the config file', async () => {
  const path = configFile(`{ url: 'mqtts://broker:8883', topic: 'fleet/fw', username: 'ota', password: 'pw', caCertPath: 'certs/ca.pem', clientCertPath: '/abs/c.pem', clientKeyPath: 'k.pem' }`);
  const s = await resolveSettings({ config: path });
  const dir = join(path, '..');
  expect(s.mqtt).toEqual({ url: 'mqtts://broker:8883', topic: 'fleet/fw', username: 'ota', password: 'pw', caCertPath: join(dir, 'certs/ca.pem'), clientCertPath: '/abs/c.pem', clientKeyPath: join(dir, 'k.pem') });
});

test('flags win over the file, key by key', async () => {
  const path = configFile(`{ url: 'mqtt://file-broker:1883', topic: 'file/topic', username: 'file-user' }`);
  const s = await resolveSettings({ config: path, 'mqtt-url': 'mqtt://flag-broker:1883', 'mqtt-username': 'flag-user' });
  expect(s.mqtt).toEqual({ url: 'mqtt://flag-broker:1883', topic: 'file/topic', username: 'flag-user' });
});

test('a URL that is not mqtt:// or mqtts:// is a config error naming the key', async () => {
  const path = configFile(`{ url: 'http://broker' }`);
  const err = await resolveSettings({ config: path }).then(() => undefined, (e: Error) => e.message);
  expect(err).toContain('mqtt.url: expected mqtt://host:port or mqtts://host:port');
});

test('no mqtt section and no --mqtt-url: notifications are off', async () => {
  const dir = tempDir('otaflux-config-');
  expect((await resolveSettings({ 'firmware-dir': dir })).mqtt).toBeUndefined();
});
