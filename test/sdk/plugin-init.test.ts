// The SDK used outside this repository, end to end: `bun scripts/build.ts --sdk`'s package, a project
// made by `otaflux plugin init` in a temp folder outside the repository, the package installed there
// offline (unpacked into node_modules, as npm would), a strict `tsc --noEmit` without skipLibCheck,
// the project's own `bun test` (through otaflux/testing), and the compiled binary serving through
// the scaffolded source plugin from an otaflux.config.ts.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSdk, ROOT, sdkTarballName } from '../../scripts/build.ts';
import { tempDir } from '../support/tmp.ts';
import { compiledBinary, runBinary, startBinary, type RunningBinary } from '../build/binary.ts';

const MAIN = join(ROOT, 'src', 'main.ts');
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');
let sdk: { tarball: string; version: string };
let server: RunningBinary | undefined;

beforeAll(async () => {
  sdk = await buildSdk(join(tempDir('otaflux-sdk-build-'), 'otaflux-sdk'));
}, 120_000);
afterAll(async () => {
  await server?.stop();
});

/** `otaflux plugin init` as a real process. */
function pluginInit(args: string[], cwd = tempDir('otaflux-init-cwd-')) {
  return runBinary([process.execPath, MAIN, 'plugin', 'init', ...args], { cwd, timeoutMs: 30_000 });
}

/** Scaffolds a project and installs the packed SDK in it offline, as npm does: unpacked into node_modules/otaflux. */
async function project(kind: string, name: string): Promise<string> {
  const dir = join(tempDir('otaflux-plugin-project-'), name);
  const r = await pluginInit([kind, name, dir]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  expect(pkg.devDependencies.otaflux).toBe(`file:${sdkTarballName(sdk.version)}`);
  copyFileSync(sdk.tarball, join(dir, sdkTarballName(sdk.version)));
  mkdirSync(join(dir, 'node_modules', 'otaflux'), { recursive: true });
  mkdirSync(join(dir, 'node_modules', '@types'));
  const untar = await runBinary(['tar', '-xzf', join(dir, sdkTarballName(sdk.version)), '-C', join(dir, 'node_modules', 'otaflux'), '--strip-components=1']);
  expect(untar.code).toBe(0);
  // The runtime's own types, which `npm install` brings as @types/bun (from the scaffold's devDependencies).
  for (const dep of ['@types/bun', '@types/node', 'bun-types', 'undici-types']) symlinkSync(join(ROOT, 'node_modules', dep), join(dir, 'node_modules', dep));
  return dir;
}

async function typecheckAndTest(dir: string) {
  const tsc = await runBinary([TSC, '--noEmit', '-p', dir], { cwd: dir, timeoutMs: 90_000 });
  const tests = await runBinary([process.execPath, 'test'], { cwd: dir, timeoutMs: 60_000 });
  return { tsc, tests };
}

for (const kind of ['verifier', 'extractor', 'auth']) {
  test(`a scaffolded ${kind} plugin type-checks strictly and passes its own bun test outside the repo`, async () => {
    const dir = await project(kind, `acme-${kind}`);
    expect(JSON.parse(readFileSync(join(dir, 'tsconfig.json'), 'utf8')).compilerOptions).toMatchObject({ strict: true, skipLibCheck: false });
    const { tsc, tests } = await typecheckAndTest(dir);
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.code).toBe(0);
    expect(tests.stderr).toMatch(/ 0 fail/);
    expect(tests.stderr).toMatch(/ [1-9]\d* pass/);
    expect(tests.code).toBe(0);
  }, 180_000);
}

test('a scaffolded source plugin: strict types, its bun test, a break caught by it, and the binary serving through it', async () => {
  const dir = await project('source', 'acme.http-index');
  const { tsc, tests } = await typecheckAndTest(dir);
  expect(tsc.stdout + tsc.stderr).toBe('');
  expect(tests.stderr).toMatch(/ 3 pass/);
  expect(tests.code).toBe(0);

  const site = tempDir('otaflux-sdk-site-');
  mkdirSync(join(site, 'plugins'));
  copyFileSync(join(dir, 'acme.http-index.ts'), join(site, 'plugins', 'acme.http-index.ts'));
  // otaflux/testing comes from the binary too (its checks are the loader's): the config uses it.
  writeFileSync(join(site, 'otaflux.config.ts'), `import { defineConfig, none } from 'otaflux';
import { checkPlugin } from 'otaflux/testing';
import { acmeHttpIndex } from './plugins/acme.http-index.ts';
export default defineConfig({
  server: { listenAddr: '127.0.0.1:0', metricsListenAddr: false },
  cache: { dir: './cache' },
  defaults: { source: checkPlugin(acmeHttpIndex({ devices: { 'esp32-demo': { '1.0.0': 'old image', '1.2.0': 'the image of 1.2.0' } } })), verifier: none(), auth: 'none' },
});
`);
  const bin = (await compiledBinary('linux-x64')).path;
  server = await startBinary([bin], { cwd: site, timeoutMs: 60_000 });
  const image = new TextEncoder().encode('the image of 1.2.0');
  const version = await fetch(`${server.url}/version?device=esp32-demo`);
  expect(await version.text()).toBe(`1.2.0\n${Bun.hash.crc32(image) >>> 0}\n${image.length}`);
  const firmware = await fetch(`${server.url}/firmware?device=esp32-demo`);
  expect(firmware.status).toBe(200);
  expect(await firmware.text()).toBe('the image of 1.2.0');
  expect(await server.stop()).toBe(0);
  server = undefined;

  // The project's test catches a plugin that OtaFlux would refuse at load.
  const plugin = join(dir, 'acme.http-index.ts');
  writeFileSync(plugin, readFileSync(plugin, 'utf8').replace('async versions(', 'async listVersions('));
  const broken = await runBinary([process.execPath, 'test'], { cwd: dir, timeoutMs: 60_000 });
  expect(broken.code).not.toBe(0);
  expect(broken.stderr).toContain('plugin source.acme.http-index: missing method versions()');
}, 300_000);

test('plugin init without a folder makes otaflux-<kind>-<name> in the working folder', async () => {
  const cwd = tempDir('otaflux-init-cwd-');
  const r = await pluginInit(['auth', 'acme.key'], cwd);
  expect(r.code).toBe(0);
  const pkg = JSON.parse(readFileSync(join(cwd, 'otaflux-auth-acme-key', 'package.json'), 'utf8'));
  expect(pkg.main).toBe('./acme.key.ts');
  expect(readFileSync(join(cwd, 'otaflux-auth-acme-key', 'acme.key.ts'), 'utf8')).toContain("id: 'auth.acme.key'");
}, 30_000);

test('plugin init refuses a built-in id, a bad name, an unknown kind and a folder that is not empty, in one line, exit 2', async () => {
  const cases: [string[], RegExp][] = [
    [['source', 'dir'], /^otaflux: plugin init: source\.dir is a built-in plugin's id; choose another name, e.g\. acme-dir\n$/],
    [['source', 'Http'], /^otaflux: plugin init: name 'Http': plugin source\.Http: id name must be lowercase segments/],
    [['transport', 'x'], /^otaflux: plugin init: kind 'transport': expected source, verifier, extractor or auth\n$/],
    [['verifier', 'x', ROOT], /^otaflux: plugin init: .* is not empty; give a new or empty folder\n$/],
  ];
  for (const [args, line] of cases) {
    const r = await pluginInit(args);
    expect(r.stderr).toMatch(line);
    expect(r.code).toBe(2);
  }
}, 60_000);
