// A deployment of the Rust server keeps its settings: values its parsers accepted (tracing's level
// filter, clap's booleans, Rust integers, a registry URL with a scheme or a trailing slash, an MQTT
// URL with ?client_id=) are accepted here with the same meaning, so nothing crash-loops on migration.
import { expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromEnv, parseArgs } from '../../src/cli/flags.ts';
import { resolveSettings, type Settings } from '../../src/config/settings.ts';
import { createLogger, parseLogLevel } from '../../src/log.ts';
import { startServer } from '../../src/server.ts';
import { brokerOptions } from '../../src/notify/mqtt-options.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { makeTlsFiles } from '../support/registry.ts';
import { tempDir } from '../support/tmp.ts';

const MAIN = join(import.meta.dir, '../../src/main.ts');
const fw = firmwareDir({ dev: { '1.0.0.bin': 10 } }).root;

async function settings(argv: string[], env: Record<string, string> = {}): Promise<Settings> {
  return resolveSettings(fromEnv(env, parseArgs(argv).flags), tempDir('otaflux-parity-'));
}

test('log levels as tracing reads them: any case, 0 (off) to 5 (trace), empty is error', async () => {
  const cases: [string, string][] = [
    ['DEBUG', 'debug'], ['Debug', 'debug'], ['TRACE', 'trace'], ['Warn', 'warn'], ['OFF', 'off'], ['info', 'info'],
    ['0', 'off'], ['1', 'error'], ['2', 'warn'], ['3', 'info'], ['4', 'debug'], ['5', 'trace'], ['+4', 'debug'], ['', 'error'],
  ];
  for (const [given, level] of cases) {
    expect(parseLogLevel(given)).toBe(level as never);
    if (given !== '') expect((await settings(['--firmware-dir', fw], { LOG_LEVEL: given })).logLevel).toBe(level as never);
  }
  expect((await settings(['--firmware-dir', fw, '--log-level='])).logLevel).toBe('error');
  for (const bad of ['6', 'verbose', 'warning', '-1']) expect(parseLogLevel(bad)).toBeUndefined();
});

test('LOG_LEVEL=4 really logs debug lines and LOG_LEVEL=0 none', async () => {
  for (const [given, expected] of [['4', ['error', 'warn', 'info', 'debug']], ['0', []], ['WARN', ['error', 'warn']]] as const) {
    const lines: string[] = [];
    const log = createLogger({ level: (await settings(['--firmware-dir', fw], { LOG_LEVEL: given })).logLevel, format: 'json', sink: { write: (l) => void lines.push(l) } });
    for (const l of ['error', 'warn', 'info', 'debug', 'trace'] as const) log[l](`at ${l}`);
    expect(lines.map((l) => (JSON.parse(l) as { level: string }).level)).toEqual([...expected]);
  }
});

test('a migrated deployment with LOG_LEVEL=DEBUG starts (check-config over the real process)', () => {
  for (const level of ['DEBUG', '4', 'Trace']) {
    const p = Bun.spawnSync([process.execPath, MAIN, 'check-config', '--firmware-dir', fw, '--cache-dir', tempDir()], {
      cwd: tempDir(), stdout: 'pipe', stderr: 'pipe', env: { PATH: process.env.PATH ?? '', LOG_LEVEL: level },
    });
    expect(p.stderr.toString()).not.toContain('log-level');
    expect(p.exitCode).toBe(0);
  }
}, 60_000);

test('booleans as clap and people write them, in env vars and --flag=value', () => {
  for (const v of ['1', 'true', 'TRUE', 'True', 'yes', 'YES', 'on']) expect(fromEnv({ REGISTRY_INSECURE: v }, {})['registry-insecure']).toBe(true);
  for (const v of ['0', 'false', 'FALSE', 'no', 'off']) expect(fromEnv({ REGISTRY_INSECURE: v }, {})['registry-insecure']).toBe(false);
  expect(parseArgs(['--registry-insecure=TRUE']).flags['registry-insecure']).toBe(true);
  expect(parseArgs(['--registry-insecure']).flags['registry-insecure']).toBe(true);
  // An empty env var is unset, as for every other flag.
  expect(fromEnv({ REGISTRY_INSECURE: '' }, {})['registry-insecure']).toBeUndefined();
});

test('registry URLs: host:port, https://host, a trailing slash, http://host:port; a path is refused with the flag named', async () => {
  for (const url of ['harbor.example.com', 'harbor.example.com/', 'harbor.example.com:5000', 'https://harbor.example.com', 'https://harbor.example.com/', 'http://10.0.0.5:5000', 'HTTPS://Harbor.Example.com']) {
    const s = await settings(['--registry-url', url, '--repository-prefix', 'firmware/']);
    expect(s.composer.for('dev')?.source.id).toBe('source.oci');
    // One trailing slash of the prefix is dropped, as the Rust server does.
    expect(s.repositoryPrefix).toBe('firmware');
  }
  await expect(settings(['--registry-url', 'https://harbor.example.com/v2/firmware', '--repository-prefix', 'fw'])).rejects.toThrow(/^--registry-url https:\/\/harbor\.example\.com\/v2\/firmware: .*without a path$/);
});

test('CACHE_SIZE as a Rust usize: a leading + is accepted, 0 and signs or fractions are not', async () => {
  expect((await settings(['--firmware-dir', fw], { CACHE_SIZE: '+100' })).cache.maxEntries).toBe(100);
  expect((await settings(['--firmware-dir', fw], { CACHE_SIZE: '007' })).cache.maxEntries).toBe(7);
  await expect(settings(['--firmware-dir', fw], { CACHE_SIZE: '0' })).rejects.toThrow('--cache-size: must be at least 1');
  for (const bad of ['-1', '1.5', '10k']) await expect(settings(['--firmware-dir', fw], { CACHE_SIZE: bad })).rejects.toThrow(`CACHE_SIZE: expected a whole number, got '${bad}'`);
});

test('listen addresses as Rust binds them: IPv4, [IPv6], a host name; false or off turns the plain listener off', async () => {
  for (const a of ['0.0.0.0:8080', '[::]:8080', '[::1]:0', 'localhost:8080', '127.0.0.1:0']) expect((await settings(['--firmware-dir', fw, '--listen-addr', a])).listenAddr).toBe(a);
  for (const off of ['false', 'FALSE', 'off']) expect((await settings(['--firmware-dir', fw, '--metrics-listen-addr', off])).metricsListenAddr).toBe(false);
});

test('--listen-addr false with HTTPS on: only the HTTPS listener runs', async () => {
  const tls = await makeTlsFiles(tempDir('otaflux-parity-tls-'));
  const s = await settings(['--firmware-dir', fw, '--listen-addr', 'false', '--metrics-listen-addr', 'false', '--tls-cert', tls.certFile, '--tls-key', tls.keyFile, '--tls-listen-addr', '127.0.0.1:0', '--cache-dir', tempDir()]);
  const server = await startServer(s, createLogger({ level: 'off' }));
  try {
    expect(server.ports.http).toBeUndefined();
    expect(server.ports.metrics).toBeUndefined();
    const r = await fetch(`https://127.0.0.1:${server.ports.https}/version?device=dev`, { tls: { ca: await Bun.file(tls.caFile).text() } } as RequestInit);
    expect((await r.text()).split('\n')[0]).toBe('1.0.0');
  } finally {
    await server.close();
  }
});

test('the Rust MQTT URL with ?client_id= keeps its client id; without one a unique id is made; the topic defaults to otaflux', async () => {
  expect(brokerOptions({ url: 'mqtt://broker:1883?client_id=otaflux-prod', topic: 't' }).client.clientId).toBe('otaflux-prod');
  expect(brokerOptions({ url: 'mqtt://broker:1883', topic: 't' }).client.clientId).toMatch(/^otaflux-/);
  const s = await settings(['--firmware-dir', fw], { MQTT_URL: 'mqtt://broker:1883?client_id=x' });
  expect(s.mqtt).toMatchObject({ url: 'mqtt://broker:1883?client_id=x', topic: 'otaflux' });
});

test('--repository-prefix "" (none) is accepted with --registry-url', async () => {
  const s = await settings(['--registry-url', 'harbor.example.com', '--repository-prefix', '']);
  expect(s.repositoryPrefix).toBe('');
});

test('a config file next to Rust-style flags is still read (its unknown keys are still errors)', async () => {
  const cwd = tempDir('otaflux-parity-file-');
  writeFileSync(join(cwd, 'otaflux.config.ts'), `export default { cache: { refreshIntervall: 5 } };\n`);
  await expect(resolveSettings(fromEnv({ REGISTRY_URL: 'harbor.example.com', REPOSITORY_PREFIX: 'fw' }, {}), cwd)).rejects.toThrow("cache: unknown key 'refreshIntervall'");
});
