// Types for plugin authors outside this repository: `bun scripts/build.ts --sdk` builds the SDK, an
// npm package named `otaflux`; a project that has only that package (no OtaFlux sources) type-checks
// the example plugin and the guide's minimal source without skipLibCheck, and a plugin that breaks
// the contract fails to type-check.
import { beforeAll, expect, test } from 'bun:test';
import { copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSdk, ROOT } from '../../scripts/build.ts';
import { tempDir } from '../support/tmp.ts';
import { runBinary } from './binary.ts';

let project: string;
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');

beforeAll(async () => {
  const out = tempDir('otaflux-sdk-');
  const { dir } = await buildSdk(join(out, 'otaflux-sdk'));
  project = tempDir('otaflux-plugin-project-');
  mkdirSync(join(project, 'node_modules', '@types'), { recursive: true });
  cpSync(dir, join(project, 'node_modules', 'otaflux'), { recursive: true });
  // The runtime's own types, as a plugin project gets them from `npm install -D @types/bun`.
  for (const dep of ['@types/bun', '@types/node', 'bun-types', 'undici-types']) symlinkSync(join(ROOT, 'node_modules', dep), join(project, 'node_modules', dep));
  mkdirSync(join(project, 'plugins'));
  copyFileSync(join(ROOT, 'plugins', 'url-list-source.ts'), join(project, 'plugins', 'url-list-source.ts'));
  // The guide's minimal source, taken from plugins/README.md as written.
  const guide = readFileSync(join(ROOT, 'plugins', 'README.md'), 'utf8');
  const minimal = /```ts\n(\/\/ plugins\/static-source\.ts[\s\S]*?)```/.exec(guide)?.[1];
  if (!minimal) throw new Error('plugins/README.md: the minimal source example is missing');
  writeFileSync(join(project, 'plugins', 'static-source.ts'), minimal);
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'ESNext', module: 'ESNext', moduleResolution: 'bundler', strict: true, noEmit: true, allowImportingTsExtensions: true, verbatimModuleSyntax: true, skipLibCheck: false, types: ['bun'] },
      include: ['*.ts', 'plugins'],
    }),
  );
}, 60_000);

test('the package is named otaflux, exports . and ./testing, and no declaration imports a foreign package', () => {
  const pkg = JSON.parse(readFileSync(join(project, 'node_modules', 'otaflux', 'package.json'), 'utf8'));
  expect(pkg.name).toBe('otaflux');
  expect(pkg.exports).toEqual({
    '.': { types: './public-api.d.ts', default: './public-api.js' },
    './testing': { types: './testing/index.d.ts', default: './testing/index.js' },
  });
  const keyless = readFileSync(join(project, 'node_modules', 'otaflux', 'plugins', 'verifier', 'cosign', 'keyless.d.ts'), 'utf8');
  expect(keyless).toContain('type Bundle = unknown;');
  const sdk = join(project, 'node_modules', 'otaflux');
  const foreign = readdirSync(sdk, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.d.ts'))
    .filter((f) => /^(import|export)\b[^;]*from '(?![./]|node:|bun)/m.test(readFileSync(join(sdk, f), 'utf8')));
  expect(foreign).toEqual([]);
  const api = readFileSync(join(project, 'node_modules', 'otaflux', 'public-api.d.ts'), 'utf8');
  expect(api).toContain('defineConfig');
  expect(readFileSync(join(project, 'node_modules', 'otaflux', 'plugin.d.ts'), 'utf8')).toContain('export declare const PLUGIN_API_VERSION = 2;');
});

test('the example plugin, the guide example and a config using them type-check outside the repo', async () => {
  writeFileSync(join(project, 'otaflux.config.ts'), `import { cosign, defineConfig, gzip, none, oci, tar, token, zstd, type OciOptions } from 'otaflux';
import { urlList } from './plugins/url-list-source.ts';
import { staticImage } from './plugins/static-source.ts';
const registry: OciOptions = { url: 'https://harbor.example', prefix: 'firmware' };
export default defineConfig({
  defaults: { source: staticImage({ file: './fw.bin', version: '1.0.0' }), verifier: none(), auth: 'none' },
  devices: {
    'cdn-*': { source: urlList({ devices: {} }) },
    'gw-*': { source: oci(registry), verifier: cosign({ keys: ['./cosign.pub'] }), extract: [zstd(), tar({ member: '*.bin' })], auth: token({ devices: { 'gw-1': 'sha256:00' } }) },
    'esp-*': { source: oci(registry), extract: [gzip()] },
  },
});
`);
  const r = await runBinary([TSC, '-p', project], { cwd: project, timeoutMs: 60_000 });
  expect(r.stdout + r.stderr).toBe('');
  expect(r.code).toBe(0);
}, 60_000);

test('outside the repo too, each config mistake of the fixture is a type error (every @ts-expect-error is used)', async () => {
  copyFileSync(join(ROOT, 'test', 'config', 'fixtures', 'wrong-keys.config.ts'), join(project, 'wrong-keys.config.ts'));
  try {
    const r = await runBinary([TSC, '-p', project], { cwd: project, timeoutMs: 60_000 });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  } finally {
    rmSync(join(project, 'wrong-keys.config.ts'));
  }
}, 60_000);

test('a plugin that breaks the contract fails to type-check', async () => {
  writeFileSync(join(project, 'broken.ts'), `import { PLUGIN_API_VERSION, type SourcePlugin } from 'otaflux';
export const wrongKind: SourcePlugin = { kind: 'verifier', id: 'x', apiVersion: 1, versions: async () => [], resolve: async () => { throw new Error(); } };
`);
  const r = await runBinary([TSC, '-p', project], { cwd: project, timeoutMs: 60_000 });
  expect(r.code).not.toBe(0);
  expect(r.stdout).toContain("broken.ts(2,");
  expect(r.stdout).toContain(`Type '"verifier"' is not assignable to type '"source"'`);
}, 60_000);
