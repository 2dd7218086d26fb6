// `otaflux check-config` over the real process: it runs every check `serve` runs before listening
// (plugin setup and validate, TLS and MQTT files, the cache folder, flags), so whatever makes `serve`
// exit makes it exit 2 with the same one line, and a config it passes starts. It opens no listener.
import { expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { firmwareDir } from '../support/firmware-dir.ts';
import { freePort } from '../support/ports.ts';
import { tempDir } from '../support/tmp.ts';

const MAIN = join(import.meta.dir, '../../src/main.ts');

function run(cwd: string, args: string[], env: Record<string, string> = {}) {
  const p = Bun.spawnSync([process.execPath, MAIN, ...args], { cwd, stdout: 'pipe', stderr: 'pipe', env: { PATH: process.env.PATH ?? '', HOME: cwd, ...env } });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

function folder(config?: string): string {
  const cwd = tempDir('otaflux-check-');
  if (config !== undefined) writeFileSync(join(cwd, 'otaflux.config.ts'), `import { defineConfig, dir, none } from 'otaflux';\n${config}\n`);
  return cwd;
}

test('a missing firmware folder: check-config fails as serve does (it ran the plugin setup)', () => {
  const cwd = folder(`export default defineConfig({ defaults: { source: dir({ root: './no-such-folder' }) } });`);
  const check = run(cwd, ['check-config']);
  expect(check.code).toBe(2);
  expect(check.out).toBe('');
  expect(check.err.trim()).toBe(`otaflux: setup source.dir: firmware folder ${join(cwd, 'no-such-folder')} does not exist or is not a folder`);
  const serve = run(cwd, ['--listen-addr', '127.0.0.1:0', '--metrics-listen-addr', '127.0.0.1:0'], { LOG_LEVEL: 'off' });
  expect(serve.code).toBe(1);
  expect(serve.err.trim()).toBe(check.err.trim());
}, 60_000);

test('a syntax error: the compiler message with file, line and column', () => {
  const cwd = folder(`export default defineConfig({\n  defaults: { source: dir({ root: '.' }) }\n  devices: {},\n});`);
  const r = run(cwd, ['check-config']);
  expect(r.code).toBe(2);
  // Line 1 is the import the helper adds; the missing comma is at the end of line 3.
  expect(r.err).toMatch(/^otaflux: otaflux\.config\.ts:4:3: error: Expected "}" but found "devices"( \(\d+ more errors? after it\))?\n$/);
}, 30_000);

test('an import that does not resolve names the file that imports it', () => {
  const cwd = folder(`import { thing } from './missing-plugin.ts';\nexport default defineConfig({ defaults: { source: thing } });`);
  const r = run(cwd, ['check-config']);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/^otaflux: otaflux\.config\.ts: error: Cannot find module '\.\/missing-plugin\.ts'/);
}, 30_000);

test('--config naming a folder says which file to pass', () => {
  const cwd = folder();
  const r = run(cwd, ['check-config', '--config', cwd]);
  expect(r.code).toBe(2);
  expect(r.err).toBe(`otaflux: ${cwd}: a folder, not a config file; pass --config ${join(cwd, 'otaflux.config.ts')}\n`);
}, 30_000);

test('a config file that throws while it runs: the file and the message', () => {
  const cwd = folder(`throw new Error('OTA_REGISTRY is not set');\nexport default defineConfig({});`);
  const r = run(cwd, ['check-config']);
  expect(r.code).toBe(2);
  expect(r.err).toBe('otaflux: otaflux.config.ts: OTA_REGISTRY is not set\n');
}, 30_000);

test('unreadable TLS and MQTT files, a cache folder that is a file, a short secret: each exits 2 with its line', () => {
  const fw = firmwareDir({ dev: { '1.0.0.bin': 5 } }).root;
  const cwd = folder();
  writeFileSync(join(cwd, 'a-file'), 'x');
  const base = ['check-config', '--firmware-dir', fw];
  const cases: [string[], RegExp][] = [
    [['--tls-cert', 'no.crt', '--tls-key', 'no.key'], /^otaflux: reading TLS certificate .*no\.crt: ENOENT; check --tls-cert/],
    [['--mqtt-url', 'mqtts://broker:8883', '--mqtt-ca-cert-path', join(cwd, 'no-ca.pem')], /^otaflux: --mqtt-ca-cert-path: cannot read .*no-ca\.pem: ENOENT\n$/],
    [['--cache-dir', join(cwd, 'a-file')], /^otaflux: --cache-dir .*a-file: cannot create the cache there \(ENOTDIR\)/],
    [['--webhook-secret', 'short'], /^otaflux: --webhook-secret: 5 characters is too short/],
    [['--listen-addr', ':http'], /^otaflux: --listen-addr :http: expected host:port/],
  ];
  for (const [args, line] of cases) {
    const r = run(cwd, [...base, ...args]);
    expect(r.err).toMatch(line);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.code).toBe(2);
  }
}, 90_000);

test('a good config: ok, each composition, and no listener opened (its ports stay free)', async () => {
  const fw = firmwareDir({ dev: { '1.0.0.bin': 5 } }).root;
  const port = await freePort();
  const cwd = folder(`export default defineConfig({
  server: { listenAddr: '127.0.0.1:${port}', metricsListenAddr: '127.0.0.1:${port}' },
  defaults: { source: dir({ root: ${JSON.stringify(fw)} }), auth: 'none' },
  devices: { 'lab-*': { allowPrerelease: true, extract: 'raw' } },
});`);
  const r = run(cwd, ['check-config', '--cache-dir', tempDir()]);
  expect(r.code).toBe(0);
  expect(r.out).toBe(`${join(cwd, 'otaflux.config.ts')}: ok\n  lab-*: source.dir, verifier.none, extract extractor.raw, auth none, prereleases\n  defaults: source.dir, verifier.none, extract auto, auth none\n`);
  // The port named in the file was never bound: it can be bound now.
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(port, '127.0.0.1', () => resolve());
  });
  probe.close();
  expect(r.err).toBe('');
}, 30_000);

test('flags only: the output says there is no config file', () => {
  const fw = firmwareDir({ dev: { '1.0.0.bin': 5 } }).root;
  const r = run(folder(), ['check-config', '--firmware-dir', fw, '--cache-dir', tempDir()], { LOG_LEVEL: 'off' });
  expect(r.code).toBe(0);
  expect(r.out).toBe('no config file (flags and env vars): ok\n  defaults: source.dir, verifier.none, extract auto, auth none\n');
}, 30_000);
