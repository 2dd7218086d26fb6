/**
 * PluginHost drives every plugin's life in order: API version check → setup → validate, and
 * close at shutdown. A plugin that fails stops start-up with a message naming it; the plugins
 * already set up are closed first.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger, Plugin } from '../plugin.ts';
import { apiVersionProblem } from './plugin-checks.ts';

export class PluginStartError extends Error {
  override readonly name = 'PluginStartError';
}

export class PluginHost {
  private readonly started: Plugin[] = [];
  private readonly abort = new AbortController();

  constructor(private readonly logger: Logger, private readonly configDir: string, private readonly stateRoot: string) {}

  /** Aborted at shutdown (`close()`): handed to plugins in setup and, through the resolver, to their calls. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Starts each distinct plugin object once. */
  async start(plugins: readonly Plugin[]): Promise<void> {
    const unique = [...new Set(plugins)];
    for (const p of unique) {
      // The config loader checked the config file's plugins fully; this guards those made elsewhere.
      const problem = apiVersionProblem(p);
      if (problem) {
        await this.close();
        throw new PluginStartError(problem);
      }
    }
    const stateDirs = instanceStateDirs(this.stateRoot, unique);
    for (const p of unique) {
      try {
        const stateDir = stateDirs.get(p) as string;
        mkdirSync(stateDir, { recursive: true });
        await p.setup?.({ logger: this.logger.child({ plugin: p.id }), configDir: this.configDir, stateDir, signal: this.abort.signal });
        this.started.push(p);
      } catch (e) {
        await this.close();
        throw new PluginStartError(`setup ${p.id}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
    }
    for (const p of unique) {
      try {
        await p.validate?.();
      } catch (e) {
        await this.close();
        throw new PluginStartError(`validate ${p.id}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
    }
  }

  /** Closes started plugins in reverse order; errors are logged, not thrown. */
  async close(): Promise<void> {
    this.abort.abort();
    for (const p of this.started.splice(0).reverse()) {
      try {
        await p.close?.();
      } catch (e) {
        this.logger.warn('plugin close failed', { plugin: p.id, error: e instanceof Error ? e.message : String(e) });
      }
    }
  }
}

/**
 * Each plugin instance's own state folder: `<root>/<id>/<n>`, `n` counting the instances of that id
 * in the order they were given (the config's order), from 1.
 */
export function instanceStateDirs(root: string, plugins: readonly Plugin[]): Map<Plugin, string> {
  const seen = new Map<string, number>();
  const out = new Map<Plugin, string>();
  for (const p of plugins) {
    if (out.has(p)) continue;
    const n = (seen.get(p.id) ?? 0) + 1;
    seen.set(p.id, n);
    out.set(p, join(root, p.id, String(n)));
  }
  return out;
}
