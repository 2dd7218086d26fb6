/**
 * Calls into plugins written for an older plugin API, with the arguments that API specified. Plugin
 * API 1 handed a source's `resolve` the abort signal itself as its third argument; API 2 hands it
 * `{ signal, previous }`.
 */
import type { Artifact, DeviceRef, ResolveOptions, SourcePlugin, SourceVersion } from '../plugin.ts';

/** `source.resolve`, called the way the source's `apiVersion` expects. */
export function resolveWith(source: SourcePlugin, device: DeviceRef, version: SourceVersion, opts: ResolveOptions): Promise<Artifact> {
  if (source.apiVersion === 1) return (source.resolve as (d: DeviceRef, v: SourceVersion, signal?: AbortSignal) => Promise<Artifact>)(device, version, opts.signal);
  return source.resolve(device, version, opts);
}
