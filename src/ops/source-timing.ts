/**
 * Times every call the core makes to a source plugin (`versions`, `resolve`, and `open` of the
 * artifacts it returns) and reports each one as an `upstream-request` event, so registry latency
 * and errors show in the metrics for any source, built-in or third-party, without the plugin
 * knowing about metrics.
 *
 * The plugin object is instrumented in place (its identity matters to the core); instrumenting
 * it again only re-targets the events, so a plugin reused by a second runtime is timed once.
 */
import type { Artifact, SourcePlugin } from '../plugin.ts';
import type { CoreEventBus } from '../core/events.ts';
import { isNoFirmware } from '../core/errors.ts';

const TARGET = Symbol.for('otaflux.source-timing.events');

interface Timed {
  [TARGET]?: CoreEventBus;
}

/** Makes `source` report its calls on `events`. */
export function timeSource(source: SourcePlugin, events: CoreEventBus): void {
  const timed = source as SourcePlugin & Timed;
  if (timed[TARGET]) {
    timed[TARGET] = events;
    return;
  }
  if (Object.isFrozen(source)) return;
  timed[TARGET] = events;
  const report = (operation: string, started: number, error?: unknown) =>
    timed[TARGET]?.emit('upstream-request', {
      source: source.id,
      operation,
      ok: error === undefined,
      durationMs: performance.now() - started,
      ...(error !== undefined ? { errorKind: errorKind(error) } : {}),
    });
  const timedCall = async <T>(operation: string, call: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      const out = await call();
      report(operation, started);
      return out;
    } catch (e) {
      // "Nothing published here" (a registry's 404 for a repository) is an answer, not an upstream error.
      report(operation, started, isNoFirmware(e) ? undefined : e);
      throw e;
    }
  };
  const versions = source.versions.bind(source);
  const resolve = source.resolve.bind(source);
  source.versions = (device, signal) => timedCall('versions', () => versions(device, signal));
  source.resolve = async (device, version, opts) => {
    const artifact = await timedCall('resolve', () => resolve(device, version, opts));
    const open = artifact.open.bind(artifact);
    (artifact as { open: Artifact['open'] }).open = (s?: AbortSignal) => timedCall('open', () => open(s));
    return artifact;
  };
}

function errorKind(e: unknown): string {
  if (e instanceof Error) return e.name === 'Error' ? e.constructor.name : e.name;
  return 'unknown';
}
