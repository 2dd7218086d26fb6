// Plugins a config file names are checked completely when it is loaded: the id grammar, built-in ids
// kept for built-ins, every required method present and a function, apiVersion present and spoken.
// Each refusal is one line naming the file, the key path and the plugin id, from `check-config` run
// as a real process (exit 2).
import { expect, test } from 'bun:test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.ts';

const MAIN = join(import.meta.dir, '../../src/main.ts');

/** A config folder whose `devices["esp32-*"].source` is the plugin object `literal`. */
function site(literal: string, extra = ''): string {
  const cwd = tempDir('otaflux-sdk-checks-');
  mkdirSync(join(cwd, 'firmware'));
  writeFileSync(join(cwd, 'otaflux.config.ts'), `import { defineConfig, dir, none, PLUGIN_API_VERSION } from 'otaflux';
const plugin = ${literal};
export default defineConfig({
  cache: { dir: './cache' },
  defaults: { source: dir({ root: './firmware' }), verifier: none(), auth: 'none' },
  devices: { 'esp32-*': { source: plugin as any }${extra} },
});
`);
  return cwd;
}

function checkConfig(cwd: string) {
  const p = Bun.spawnSync([process.execPath, MAIN, 'check-config', '--config', join(cwd, 'otaflux.config.ts')], {
    cwd, stdout: 'pipe', stderr: 'pipe', env: { PATH: process.env.PATH ?? '', HOME: cwd },
  });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

const GOOD_METHODS = `versions: async () => [], resolve: async () => { throw new Error('unused'); }`;
const WHERE = 'otaflux: otaflux.config.ts: devices["esp32-*"].source';

const cases: [string, string, string][] = [
  ['a bad id (uppercase)', `{ kind: 'source', id: 'source.HTTP', apiVersion: PLUGIN_API_VERSION, ${GOOD_METHODS} }`,
    `${WHERE}: plugin source.HTTP: id name must be lowercase segments [a-z][a-z0-9-]* separated by dots, at most 100 characters, e.g. source.http-index`],
  ['an id of another kind', `{ kind: 'source', id: 'verifier.http', apiVersion: PLUGIN_API_VERSION, ${GOOD_METHODS} }`,
    `${WHERE}: plugin verifier.http: a source plugin's id is source.<name>, e.g. source.http-index`],
  ['a claimed built-in id', `{ kind: 'source', id: 'source.dir', apiVersion: PLUGIN_API_VERSION, ${GOOD_METHODS} }`,
    `${WHERE}: plugin source.dir: this id belongs to a built-in plugin; give yours another name, e.g. source.acme-dir`],
  ['a missing method (resolve present, versions not)', `{ kind: 'source', id: 'source.http-index', apiVersion: PLUGIN_API_VERSION, resolve: async () => { throw new Error('x'); } }`,
    `${WHERE}: plugin source.http-index: missing method versions()`],
  ['a method that is not a function', `{ kind: 'source', id: 'source.http-index', apiVersion: PLUGIN_API_VERSION, versions: async () => [], resolve: 'later' }`,
    `${WHERE}: plugin source.http-index: resolve is string, expected a method resolve()`],
  ['a missing apiVersion', `{ kind: 'source', id: 'source.http-index', ${GOOD_METHODS} }`,
    `${WHERE}: plugin source.http-index: missing apiVersion; add apiVersion: PLUGIN_API_VERSION (imported from 'otaflux')`],
  ['a wrong apiVersion', `{ kind: 'source', id: 'source.http-index', apiVersion: 2, ${GOOD_METHODS} }`,
    `${WHERE}: plugin source.http-index targets plugin API 2, but this OtaFlux speaks plugin API 1: update the plugin or OtaFlux`],
];

for (const [name, literal, line] of cases) {
  test(`check-config refuses ${name} in one line, exit 2`, () => {
    const r = checkConfig(site(literal));
    expect(r.out).toBe('');
    expect(r.err).toBe(`${line}\n`);
    expect(r.code).toBe(2);
  }, 30_000);
}

test('every problem is reported, one line each, with each key path', () => {
  const r = checkConfig(site(`{ kind: 'source', id: 'source.http-index' }`,
    `, gw: { verifier: { kind: 'verifier', id: 'verifier.acme.hsm', apiVersion: PLUGIN_API_VERSION, verify: async () => ({ ok: true, by: 'x' }), close: 1 } }`));
  expect(r.code).toBe(2);
  expect(r.err.split('\n').filter(Boolean)).toEqual([
    `${WHERE}: plugin source.http-index: missing apiVersion; add apiVersion: PLUGIN_API_VERSION (imported from 'otaflux')`,
    'otaflux.config.ts: devices["esp32-*"].source: plugin source.http-index: missing method versions()',
    'otaflux.config.ts: devices["esp32-*"].source: plugin source.http-index: missing method resolve()',
    'otaflux.config.ts: devices["gw"].verifier: plugin verifier.acme.hsm: close is number, expected a method close() or nothing',
  ]);
}, 30_000);

test('a namespaced third-party plugin passes and the built-in of the same name still works', () => {
  const r = checkConfig(site(`{ kind: 'source', id: 'source.acme.http-index', apiVersion: PLUGIN_API_VERSION, ${GOOD_METHODS} }`));
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  expect(r.out).toContain('esp32-*: source.acme.http-index, verifier.none');
  expect(r.out).toContain('source.dir, verifier.none');
}, 30_000);

test('extractors (their detectPriority too) and a pinned extract chain are checked, with their index in the key path', () => {
  const cwd = tempDir('otaflux-sdk-checks-');
  writeFileSync(join(cwd, 'otaflux.config.ts'), `import { defineConfig, gzip, none, PLUGIN_API_VERSION } from 'otaflux';
const sniffOnly = { kind: 'extractor', id: 'extractor.acme-sniff', apiVersion: PLUGIN_API_VERSION, detect: () => false } as any;
export default defineConfig({
  extractors: [{ ...sniffOnly, detectPriority: 'high' }],
  defaults: { source: { kind: 'source', id: 'source.acme', apiVersion: PLUGIN_API_VERSION, ${GOOD_METHODS} } as any, verifier: none(), extract: [gzip(), { ...sniffOnly, id: 'extractor.gzip' }] },
});
`);
  const r = checkConfig(cwd);
  expect(r.code).toBe(2);
  expect(r.err.split('\n').filter(Boolean)).toEqual([
    'otaflux: otaflux.config.ts: extractors[0]: plugin extractor.acme-sniff: missing method extract()',
    'otaflux.config.ts: extractors[0]: plugin extractor.acme-sniff: detectPriority is "high", expected a finite number or nothing',
    'otaflux.config.ts: defaults.extract[1]: plugin extractor.gzip: this id belongs to a built-in plugin; give yours another name, e.g. extractor.acme-gzip',
    'otaflux.config.ts: defaults.extract[1]: plugin extractor.gzip: missing method extract()',
  ]);
}, 30_000);
