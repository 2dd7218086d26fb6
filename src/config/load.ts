/**
 * Loads `otaflux.config.ts` (or .js/.mjs) at run time, outside the bundle, and checks it.
 * Every error names the file, and the key path when there is one.
 */
import { existsSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { configSchema, formatIssues } from './schema.ts';
import { registerPublicApiModule } from './virtual-module.ts';
import type { DeviceConfig, OtaFluxConfig } from './define.ts';
import { pluginProblems } from '../core/plugin-checks.ts';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export const DEFAULT_CONFIG_FILE = 'otaflux.config.ts';

/** A path for messages: relative to the working directory when shorter. */
export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && rel.length < path.length ? rel : path;
}

export async function loadConfigFile(path: string): Promise<OtaFluxConfig> {
  const abs = resolve(path);
  const shown = displayPath(abs);
  if (!existsSync(abs)) throw new ConfigError(`${shown}: file not found (pass --config PATH, or --firmware-dir DIR for a quick start)`);
  if (!statSync(abs).isFile()) throw new ConfigError(`${shown}: a folder, not a config file; pass --config ${join(shown, DEFAULT_CONFIG_FILE)}`);
  registerPublicApiModule();
  let mod: { default?: unknown };
  try {
    delete require.cache[abs];
    mod = await import(pathToFileURL(abs).href);
  } catch (e) {
    throw new ConfigError(importError(shown, e));
  }
  if (mod.default === undefined) throw new ConfigError(`${shown}: no default export; write export default defineConfig({ ... })`);
  const parsed = configSchema.safeParse(mod.default);
  if (!parsed.success) throw new ConfigError(formatIssues(shown, parsed.error));
  const config = mod.default as OtaFluxConfig;
  const refusals = pluginRefusals(config).map(([path, problem]) => `${shown}: ${path}: ${problem}`);
  if (refusals.length) throw new ConfigError(refusals.join('\n'));
  return config;
}

/** Every plugin the config names, with its key path, as `[path, problem]` for each problem found. */
export function pluginRefusals(config: OtaFluxConfig): [string, string][] {
  const found: [string, unknown][] = [];
  config.extractors?.forEach((x, i) => found.push([`extractors[${i}]`, x]));
  const compositions: [string, DeviceConfig | undefined][] = [['defaults', config.defaults]];
  for (const [pattern, c] of Object.entries(config.devices ?? {})) compositions.push([`devices[${JSON.stringify(pattern)}]`, c]);
  for (const [where, c] of compositions) {
    if (!c) continue;
    if (c.source) found.push([`${where}.source`, c.source]);
    if (c.verifier) found.push([`${where}.verifier`, c.verifier]);
    if (Array.isArray(c.extract)) c.extract.forEach((x, i) => found.push([`${where}.extract[${i}]`, x]));
    if (Array.isArray(c.auth)) c.auth.forEach((a, i) => found.push([`${where}.auth[${i}]`, a]));
    else if (c.auth && c.auth !== 'none') found.push([`${where}.auth`, c.auth]);
  }
  return found.flatMap(([path, p]) => pluginProblems(p).map((problem): [string, string] => [path, problem]));
}

/** What Bun's compiler and resolver report about one place: BuildMessage and ResolveMessage. */
interface CompilerMessage {
  message: string;
  position?: { file: string; line: number; column: number } | null;
  referrer?: string;
}

/**
 * The compiler's first message as one line, `file:line:column: error: message` (a syntax error
 * throws one BuildMessage, or an AggregateError of several where the ones after the first follow
 * from it; an import that does not resolve throws a ResolveMessage); anything the file threw while
 * running as `file: message`.
 */
function importError(shown: string, e: unknown): string {
  const messages: unknown[] = e instanceof AggregateError ? e.errors : [e];
  const located = messages.filter(isCompilerMessage);
  if (located.length === 0) return `${shown}: ${e instanceof Error ? e.message : String(e)}`;
  const first = located[0] as CompilerMessage;
  const p = first.position;
  const where = p ? `${displayPath(p.file)}:${p.line}:${p.column}` : first.referrer ? displayPath(first.referrer) : shown;
  const more = located.length > 1 ? ` (${located.length - 1} more error${located.length > 2 ? 's' : ''} after it)` : '';
  return `${where}: error: ${first.message}${more}`;
}

function isCompilerMessage(m: unknown): m is CompilerMessage {
  if (typeof m !== 'object' || m === null || !('position' in m)) return false;
  const name = (m as { name?: unknown }).name;
  return name === 'BuildMessage' || name === 'ResolveMessage' || typeof (m as CompilerMessage).position?.line === 'number';
}
