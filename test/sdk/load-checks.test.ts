// Plugins a config file names are checked completely when it is loaded: the id grammar, built-in ids
// kept for built-ins, every required method present and a function, apiVersion present and spoken.
// Each refusal is one line naming the file, the key path and the plugin id, from `check-config` run
// as a real process (exit 2).
import { expect, test } from 'bun:test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.ts';
import { startTestServer } from '../support/server.ts';

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
  ['an unknown apiVersion', `{ kind: 'source', id: 'source.http-index', apiVersion: 3, ${GOOD_METHODS} }`,
    `${WHERE}: plugin source.http-index targets plugin API 3, but this OtaFlux speaks plugin API 2 (and loads plugins written for 1, 2): update the plugin or OtaFlux`],
  ['an apiVersion that is not a number', `{ kind: 'source', id: 'source.http-index', apiVersion: '2', ${GOOD_METHODS} }`,
    `${WHERE}: plugin source.http-index: apiVersion is string "2", expected a number; write apiVersion: PLUGIN_API_VERSION (imported from 'otaflux')`],
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

// Plugin API 2 changed one call: `resolve(device, version, opts)` gets `{ signal, previous }` where
// API 1 handed the signal itself. A source written for API 1 still loads and serves, and gets the
// signal it was written for (passed on to a real fetch, which refuses anything else).
test('a source written for plugin API 1 loads, serves, and its resolve gets the signal itself; an API 2 source gets { signal, previous }', async () => {
  const image = new TextEncoder().encode('firmware from upstream');
  const upstream = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response(image) });
  const cwd = tempDir('otaflux-sdk-api1-');
  const source = (id: string, apiVersion: string, third: string) => `{
  kind: 'source', id: '${id}', apiVersion: ${apiVersion},
  versions: async () => [{ version: '1.0.0', tag: '1.0.0' }],
  async resolve(_device: unknown, v: { version: string; tag: string }, third: any) {
    seen.push(['${id}', third instanceof AbortSignal ? 'an AbortSignal' : 'options ' + Object.keys(third ?? {}).join(',')]);
    const bytes = new Uint8Array(await (await fetch('http://127.0.0.1:${upstream.port}/fw.bin', { signal: ${third} })).arrayBuffer());
    return { version: v.version, tag: v.tag, digest: sha256Digest(bytes), open: async () => new Response(bytes).body! };
  },
}`;
  writeFileSync(join(cwd, 'otaflux.config.ts'), `import { defineConfig, none, sha256Digest, PLUGIN_API_VERSION } from 'otaflux';
export const seen: string[][] = (globalThis as any).apiSeen = [];
export default defineConfig({
  cache: { dir: './cache' },
  defaults: { source: ${source('source.acme-old', '1', 'third')} as any, verifier: none(), auth: 'none' },
  devices: { 'new-*': { source: ${source('source.acme-new', 'PLUGIN_API_VERSION', 'third.signal')} as any } },
});
`);
  const checked = checkConfig(cwd);
  expect(checked.err).toBe('');
  expect(checked.code).toBe(0);
  const s = await startTestServer({ config: join(cwd, 'otaflux.config.ts') });
  try {
    for (const device of ['old-1', 'new-1']) {
      const r = await fetch(`${s.url}/firmware?device=${device}`);
      expect(r.status).toBe(200);
      expect(new Uint8Array(await r.arrayBuffer())).toEqual(image);
    }
    expect((globalThis as { apiSeen?: string[][] }).apiSeen).toEqual([['source.acme-old', 'an AbortSignal'], ['source.acme-new', 'options signal']]);
  } finally {
    await s.close();
    upstream.stop(true);
  }
}, 30_000);
