// Config mistakes: each error names the file, the key path and what was expected; plugins that
// fail setup or target another plugin API stop start-up with a message naming them.
import { expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveSettings } from '../../src/config/settings.ts';
import { main } from '../../src/cli/main.ts';
import { tempDir } from '../support/tmp.ts';
import { startTestServer } from '../support/server.ts';

function configFile(body: string): string {
  const dir = tempDir('otaflux-config-');
  const path = join(dir, 'otaflux.config.ts');
  writeFileSync(path, `import { defineConfig, dir, none, raw, PLUGIN_API_VERSION } from 'otaflux';\n${body}`);
  return path;
}

async function configError(body: string): Promise<string> {
  const path = configFile(body);
  try {
    await resolveSettings({ config: path });
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a config error');
}

test('a verifier where a source belongs', async () => {
  const msg = await configError(`export default defineConfig({ devices: { 'esp32-*': { source: none() } } });`);
  expect(msg).toContain('otaflux.config.ts: devices["esp32-*"].source: expected a source plugin');
  expect(msg).toContain('got verifier plugin verifier.none');
});

test('a misspelt key', async () => {
  const msg = await configError(`export default defineConfig({ defaults: { source: dir({ root: '.' }) }, cache: { refreshIntervall: 5 } } as any);`);
  expect(msg).toMatch(/otaflux\.config\.ts: cache: unknown key 'refreshIntervall'/);
});

test('a malformed listen address and a bad extract value', async () => {
  const msg = await configError(`export default defineConfig({ server: { listenAddr: '8080' }, defaults: { source: dir({ root: '.' }), extract: 'zip' as any } });`);
  expect(msg).toContain('otaflux.config.ts: server.listenAddr: expected host:port, e.g. "0.0.0.0:8080"');
  expect(msg).toContain("otaflux.config.ts: defaults.extract: expected 'auto', 'raw' or a list of extractors");
});

test('a factory called without its options says what to pass', async () => {
  const msg = await configError(`export default defineConfig({ defaults: { source: (dir as any)() } });`);
  expect(msg).toContain('otaflux.config.ts: dir(): pass the firmware folder');
});

test('no default export, and a missing file', async () => {
  expect(await configError(`export const x = 1;`)).toContain('no default export; write export default defineConfig');
  await expect(resolveSettings({ config: '/nonexistent/otaflux.config.ts' })).rejects.toThrow('/nonexistent/otaflux.config.ts: file not found');
});

test('a device entry without a source and no defaults to fall back on', async () => {
  const msg = await configError(`export default defineConfig({ devices: { dev1: { verifier: none() } } });`);
  expect(msg).toContain('devices["dev1"].source: expected a source plugin');
});

test('a plugin for another plugin API version is refused, naming it', async () => {
  const path = configFile(`
    const future = { kind: 'source', id: 'source.future', apiVersion: PLUGIN_API_VERSION + 1, versions: async () => [], resolve: async () => { throw new Error('x'); } };
    export default defineConfig({ defaults: { source: future as any } });`);
  await expect(startTestServer({ config: path })).rejects.toThrow(/plugin source\.future targets plugin API 3, but this OtaFlux speaks plugin API 2 \(and loads plugins written for 1, 2\)/);
});

test('a plugin whose setup fails stops start-up with its id and cause', async () => {
  const path = configFile(`export default defineConfig({ defaults: { source: dir({ root: './no-such-folder' }) } });`);
  await expect(startTestServer({ config: path })).rejects.toThrow(/setup source\.dir: firmware folder .*no-such-folder does not exist/);
});

test('check-config exits 2 on an error and 0 on a good file, printing each composition', async () => {
  const bad = configFile(`export default defineConfig({ devices: { 'x': { source: none() } } });`);
  const good = configFile(`export default defineConfig({ defaults: { source: dir({ root: '.' }), auth: 'none' }, devices: { 'lab-*': { allowPrerelease: true, extract: 'raw' } } });`);
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => (out.push(s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => (out.push(s), true)) as typeof process.stderr.write;
  try {
    expect(await main(['check-config', '--config', bad], {})).toBe(2);
    expect(await main(['check-config', '--config', good], {})).toBe(0);
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
  const text = out.join('');
  expect(text).toContain('otaflux.config.ts: devices.x.source: expected a source plugin');
  expect(text).toContain('lab-*: source.dir, verifier.none, extract extractor.raw, auth none, prereleases');
});

test('flags: unknown flag suggests the right one; flags beat env vars', async () => {
  const { parseArgs, fromEnv } = await import('../../src/cli/flags.ts');
  expect(() => parseArgs(['--listen-adr', 'x'])).toThrow('unknown flag --listen-adr (did you mean --listen-addr?)');
  const merged = fromEnv({ LISTEN_ADDR: '1.2.3.4:1', LOG_LEVEL: 'debug', REGISTRY_INSECURE: 'true' }, parseArgs(['--listen-addr', '127.0.0.1:9']).flags);
  expect(merged['listen-addr']).toBe('127.0.0.1:9');
  expect(merged['log-level']).toBe('debug');
  expect(merged['registry-insecure']).toBe(true);
});
