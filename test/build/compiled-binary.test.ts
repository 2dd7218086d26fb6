// The compiled linux-x64 binary, run as an operator would: it loads otaflux.config.ts and a plugin
// from plugins/ at start-up (not bundled), ignores a hostile bunfig.toml and .env in the folder it
// runs in, refuses a plugin written for another plugin API, and reports config mistakes precisely.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pkg from '../../package.json' with { type: 'json' };
import { ROOT } from '../../scripts/build.ts';
import { tempDir } from '../support/tmp.ts';
import { compiledBinary, runBinary, startBinary, type RunningBinary } from './binary.ts';

let bin: string;
let site: string;
let marker: string;
let image: Uint8Array;
let imageRequests = 0;
let imageServer: ReturnType<typeof Bun.serve>;
let server: RunningBinary | undefined;

/**
 * A folder an operator might run OtaFlux in, made hostile: its bunfig.toml preloads a script that
 * writes a marker file, and its .env sets an invalid log level (which would stop start-up).
 */
function hostileSite(): string {
  const dir = tempDir('otaflux-site-');
  writeFileSync(join(dir, 'evil-preload.ts'), `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'preload ran in ' + process.execPath);\n`);
  writeFileSync(join(dir, 'bunfig.toml'), 'preload = ["./evil-preload.ts"]\n\n[run]\nbun = true\n');
  writeFileSync(join(dir, '.env'), 'LOG_LEVEL=not-a-level\nOTAFLUX_CONFIG=./missing.config.ts\n');
  mkdirSync(join(dir, 'plugins'));
  return dir;
}

/** Writes `body` after an import of the public API as `<dir>/otaflux.config.ts`. */
function writeConfig(dir: string, body: string): string {
  const path = join(dir, 'otaflux.config.ts');
  writeFileSync(path, `import { defineConfig, dir, none } from 'otaflux';\n${body}\n`);
  return path;
}

beforeAll(async () => {
  const started = performance.now();
  bin = (await compiledBinary('linux-x64')).path;
  console.log(`[test/build] binary ready after ${Math.round(performance.now() - started)} ms`);
  marker = join(tempDir('otaflux-marker-'), 'preload-ran');
  image = randomBytes(300_000);
  imageServer = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(req) {
      if (new URL(req.url).pathname !== '/cdn/dev1-1.4.0.bin') return new Response('not found', { status: 404 });
      imageRequests++;
      return new Response(image);
    },
  });
  site = hostileSite();
  copyFileSync(join(ROOT, 'plugins', 'url-list-source.ts'), join(site, 'plugins', 'url-list-source.ts'));
  const sha256 = new Bun.CryptoHasher('sha256').update(image).digest('hex');
  writeConfig(site, `import { urlList } from './plugins/url-list-source.ts';
export default defineConfig({
  server: { listenAddr: '127.0.0.1:0', metricsListenAddr: false },
  defaults: {
    source: urlList({ devices: { dev1: {
      '1.4.0': { url: 'http://127.0.0.1:${imageServer.port}/cdn/dev1-1.4.0.bin', sha256: '${sha256}' },
      'v1.5.0-rc.1': { url: 'http://127.0.0.1:${imageServer.port}/cdn/never-fetched.bin', sha256: '${'0'.repeat(64)}' },
    } } }),
    verifier: none(),
    auth: 'none',
  },
});`);
});

afterAll(async () => {
  await server?.stop();
  imageServer?.stop(true);
});

test('plain bun would run the hostile bunfig preload (the trap is real)', async () => {
  const r = await runBinary([process.execPath, join(ROOT, 'src', 'main.ts'), '--version'], { cwd: site });
  expect(r.stdout).toContain(`otaflux ${pkg.version}`);
  expect(existsSync(marker)).toBe(true);
  require('node:fs').rmSync(marker);
});

test('the binary serves /version and /firmware through the runtime-loaded plugin, ignoring bunfig.toml and .env', async () => {
  server = await startBinary([bin], { cwd: site });
  const crc = Bun.hash.crc32(image) >>> 0;
  const version = await fetch(`${server.url}/version?device=dev1`);
  expect(version.status).toBe(200);
  expect(await version.text()).toBe(`1.4.0\n${crc}\n${image.length}`);
  expect(imageRequests).toBe(1);
  const firmware = await fetch(`${server.url}/firmware?device=dev1`);
  expect(firmware.status).toBe(200);
  expect(firmware.headers.get('content-length')).toBe(String(image.length));
  expect(Buffer.from(await firmware.arrayBuffer()).equals(Buffer.from(image))).toBe(true);
  expect(server.logs.some((l) => l.includes('"plugin":"source.url-list"') && l.includes('url list loaded'))).toBe(true);
  expect(existsSync(marker)).toBe(false);
  expect(await server.stop()).toBe(0);
  server = undefined;
});

test('a plugin declaring plugin API 3 is refused at start-up, naming it', async () => {
  const dir = hostileSite();
  writeFileSync(join(dir, 'plugins', 'future-source.ts'), `import type { SourcePlugin } from 'otaflux';
export function future(): SourcePlugin {
  return { kind: 'source', id: 'source.from-the-future', apiVersion: 3, versions: async () => [], resolve: async () => { throw new Error('unused'); } };
}
`);
  writeConfig(dir, `import { future } from './plugins/future-source.ts';
export default defineConfig({ server: { listenAddr: '127.0.0.1:0', metricsListenAddr: false }, defaults: { source: future(), auth: 'none' } });`);
  const r = await runBinary([bin], { cwd: dir });
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain('plugin source.from-the-future targets plugin API 3, but this OtaFlux speaks plugin API 2');
  expect(r.stderr).not.toContain('device API listening');
  expect(existsSync(marker)).toBe(false);
});

test('--version and --help', async () => {
  const v = await runBinary([bin, '--version'], { cwd: site });
  expect(v.code).toBe(0);
  expect(v.stdout).toBe(`otaflux ${pkg.version} (bun ${Bun.version}, linux-x64)\n`);
  const h = await runBinary([bin, '--help'], { cwd: site });
  expect(h.code).toBe(0);
  expect(h.stdout).toContain('Usage:');
  expect(h.stdout).toContain('otaflux check-config');
  expect(h.stdout).toMatch(/--listen-addr <value>\s+Device API address .*default: 0\.0\.0\.0:8080; env: LISTEN_ADDR/);
  expect(h.stdout).toContain('--firmware-dir');
  expect(existsSync(marker)).toBe(false);
});

test('check-config accepts the plugin config and lists its composition', async () => {
  const r = await runBinary([bin, 'check-config'], { cwd: site });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(`${join(site, 'otaflux.config.ts')}: ok\n  defaults: source.url-list, verifier.none, extract auto, auth none\n`);
});

/** Runs check-config on a config with one mistake; returns stderr after checking the exit code. */
async function checkConfigError(body: string): Promise<string> {
  const dir = hostileSite();
  copyFileSync(join(ROOT, 'plugins', 'url-list-source.ts'), join(dir, 'plugins', 'url-list-source.ts'));
  writeConfig(dir, body);
  const r = await runBinary([bin, 'check-config'], { cwd: dir });
  expect(r.stdout).toBe('');
  expect(r.code).toBe(2);
  return r.stderr;
}

test('check-config: a verifier where a source belongs (file, key path, expected)', async () => {
  const err = await checkConfigError(`export default defineConfig({ devices: { 'esp32-*': { source: none() } } });`);
  expect(err).toBe('otaflux: otaflux.config.ts: devices["esp32-*"].source: expected a source plugin, e.g. dir({ root: "./firmware" }) or oci({ url, prefix }), got verifier plugin verifier.none\n');
});

test('check-config: a misspelt key (file, key path, expected)', async () => {
  const err = await checkConfigError(`export default defineConfig({ defaults: { source: dir({ root: '.' }) }, cache: { refreshIntervall: 5 } } as any);`);
  expect(err).toBe("otaflux: otaflux.config.ts: cache: unknown key 'refreshIntervall'\n");
});

test('check-config: a bad option of the runtime-loaded plugin (file, key path, expected)', async () => {
  const err = await checkConfigError(`import { urlList } from './plugins/url-list-source.ts';
export default defineConfig({ defaults: { source: urlList({ devices: { dev1: { '1.0.0': { url: 'ftp://example.com/fw.bin', sha256: 'ab' } } } }) } });`);
  expect(err).toBe('otaflux: otaflux.config.ts: urlList(): devices["dev1"]["1.0.0"].url: expected an http:// or https:// URL, got ftp:\n');
});
