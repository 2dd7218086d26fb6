/**
 * Loads `otaflux.config.ts` (or .js/.mjs) at run time, outside the bundle, and checks it.
 * Every error names the file, and the key path when there is one.
 */
import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { configSchema, formatIssues } from './schema.ts';
import { registerPublicApiModule } from './virtual-module.ts';
import type { OtaFluxConfig } from './define.ts';

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
  registerPublicApiModule();
  let mod: { default?: unknown };
  try {
    delete require.cache[abs];
    mod = await import(pathToFileURL(abs).href);
  } catch (e) {
    throw new ConfigError(`${shown}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (mod.default === undefined) throw new ConfigError(`${shown}: no default export; write export default defineConfig({ ... })`);
  const parsed = configSchema.safeParse(mod.default);
  if (!parsed.success) throw new ConfigError(formatIssues(shown, parsed.error));
  return mod.default as OtaFluxConfig;
}
