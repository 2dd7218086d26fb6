/**
 * `otaflux plugin init <kind> <name> [dir]`: scaffolds a plugin project outside this repository: a
 * package.json that depends on the packed SDK of this OtaFlux version (`otaflux-sdk-<version>.tgz`,
 * copied beside it), a strict tsconfig.json, the plugin, a passing `bun test` using otaflux/testing,
 * and a README. The kind is source, verifier, extractor or auth; the id is `<kind>.<name>`.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pkg from '../../../package.json' with { type: 'json' };
import { UsageError, type FlagValues } from '../flags.ts';
import { BUILT_IN_IDS, ID_PREFIX, idGrammarProblem } from '../../core/plugin-checks.ts';
import type { PluginKind } from '../../plugin.ts';
import { pluginFiles, type Scaffold } from './plugin-init/templates.ts';

const USAGE = 'plugin init <source|verifier|extractor|auth> <name> [dir]';

export const pluginInitCommand = {
  name: 'plugin',
  usage: USAGE,
  help: 'Scaffold a plugin project (package, strict tsconfig, plugin, bun test with otaflux/testing, README)',
  run: pluginInit,
};

const KINDS: Record<string, PluginKind> = { source: 'source', verifier: 'verifier', extractor: 'extractor', auth: 'authenticator', authenticator: 'authenticator' };

async function pluginInit(_flags: FlagValues, args: string[]): Promise<number> {
  const [sub, kindWord, name, dirArg, ...rest] = args;
  if (sub !== 'init' || !kindWord || !name || rest.length) throw new UsageError(`plugin: usage: otaflux ${USAGE}`);
  const kind = KINDS[kindWord];
  if (!kind) throw new UsageError(`plugin init: kind '${kindWord}': expected source, verifier, extractor or auth`);
  const id = `${ID_PREFIX[kind]}.${name}`;
  const problem = idGrammarProblem(kind, id);
  if (problem) throw new UsageError(`plugin init: name '${name}': ${problem}`);
  if (BUILT_IN_IDS.has(id)) throw new UsageError(`plugin init: ${id} is a built-in plugin's id; choose another name, e.g. acme-${name}`);
  const dir = resolve(dirArg ?? `otaflux-${ID_PREFIX[kind]}-${name.replaceAll('.', '-')}`);
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new UsageError(`plugin init: ${dir} is not empty; give a new or empty folder`);
  const scaffold: Scaffold = { kind, id, name, otafluxVersion: pkg.version, typesBunVersion: pkg.devDependencies['@types/bun'], typescriptVersion: pkg.devDependencies.typescript };
  mkdirSync(dir, { recursive: true });
  const files = pluginFiles(scaffold);
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  process.stdout.write(`${id}: scaffolded in ${dir} (${Object.keys(files).join(', ')})\n`);
  process.stdout.write(`next: copy otaflux-sdk-${pkg.version}.tgz (from bun run build, dist/) there, then npm install && bun test\n`);
  return 0;
}
