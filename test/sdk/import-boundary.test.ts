// Built-in plugins are written against the public API only: every file under src/plugins/ (and the
// public helpers under src/sdk/ they use) is parsed with TypeScript's own import scanner, type-only
// and dynamic imports included, and each import must resolve to the contract (src/plugin.ts), the
// public API (src/public-api.ts, src/sdk/), another plugin file, or a package. Plugin tests may also
// use the test support and otaflux/testing. A synthetic offending file proves the check can fail.
import { expect, test } from 'bun:test';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(import.meta.dir, '../..');
const SRC = join(ROOT, 'src');

/** Where a file under src/plugins/ or src/sdk/ may import from, as paths relative to the repository. */
function allowed(file: string, target: string): boolean {
  const rel = relative(ROOT, target).split(sep).join('/');
  if (rel === 'src/plugin.ts' || rel === 'src/public-api.ts' || rel.startsWith('src/sdk/')) return true;
  const fromSdk = relative(ROOT, file).startsWith(`src${sep}sdk${sep}`);
  if (rel.startsWith('src/plugins/')) return !fromSdk;
  if (file.endsWith('.test.ts')) return rel.startsWith('test/support/') || rel.startsWith('src/testing/');
  return false;
}

/** Every import of `text` (the file `file`) that reaches past the public API, as `specifier` strings. */
export function boundaryViolations(file: string, text: string): string[] {
  const { importedFiles } = ts.preProcessFile(text, true, true);
  const out: string[] = [];
  for (const { fileName: spec } of importedFiles) {
    if (!spec.startsWith('.') && !spec.startsWith('/')) continue; // node:, bun, packages
    if (!allowed(file, resolve(dirname(file), spec))) out.push(spec);
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(ts|tsx|js|mjs)$/.test(f)).map((f) => join(dir, f));
}

test('no file under src/plugins/ or src/sdk/ imports a core internal', () => {
  const files = [...sourceFiles(join(SRC, 'plugins')), ...sourceFiles(join(SRC, 'sdk'))];
  expect(files.length).toBeGreaterThan(40);
  const offences = files.flatMap((f) => boundaryViolations(f, readFileSync(f, 'utf8')).map((spec) => `${relative(ROOT, f)} imports ${spec}`));
  expect(offences).toEqual([]);
});

test('the check catches value, type-only, re-exported and dynamic imports of core internals', () => {
  const file = join(SRC, 'plugins', 'source', 'offending.ts');
  const text = `import { parseVersionTag } from '../../core/versions.ts';
import type { Release } from '../../core/release.ts';
export { NoFirmware } from '../../core/errors.ts';
const log = await import('../../log.ts');
import { PLUGIN_API_VERSION } from '../../plugin.ts';
import { SingleFlight, UpstreamUnavailable } from '../../sdk/index.ts';
import { isRegistryError } from './oci/errors.ts';
import semver from 'semver';
import { join } from 'node:path';
`;
  expect(boundaryViolations(file, text)).toEqual(['../../core/versions.ts', '../../core/release.ts', '../../core/errors.ts', '../../log.ts']);
});

test('the public helpers under src/sdk/ may not import plugins or the core either', () => {
  const file = join(SRC, 'sdk', 'offending.ts');
  expect(boundaryViolations(file, `import { dir } from '../plugins/source/dir.ts';\nimport { errorMessage } from '../core/errors.ts';\nimport type { Logger } from '../plugin.ts';`))
    .toEqual(['../plugins/source/dir.ts', '../core/errors.ts']);
});

test('plugin tests may use the test support and otaflux/testing, plugin code may not', () => {
  const text = `import { tempDir } from '../../../test/support/tmp.ts';\nimport { fakeLogger } from '../../testing/index.ts';`;
  expect(boundaryViolations(join(SRC, 'plugins', 'source', 'dir.test.ts'), text)).toEqual([]);
  expect(boundaryViolations(join(SRC, 'plugins', 'source', 'dir.ts'), text)).toEqual(['../../../test/support/tmp.ts', '../../testing/index.ts']);
});

test('the SDK helpers are part of the public API a plugin imports', async () => {
  const api = await import('../../src/public-api.ts');
  for (const name of ['parseVersionTag', 'rankVersions', 'SingleFlight', 'sha256Digest', 'verifyDigestStream', 'UpstreamUnavailable', 'FirmwareNotFound', 'errorMessage', 'describeCert']) {
    expect(typeof (api as Record<string, unknown>)[name]).toBe('function');
  }
});
