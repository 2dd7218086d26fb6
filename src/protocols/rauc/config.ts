/**
 * `protocols.rauc`: the RAUC simple server's manifest endpoints (`/api/v1/manifest.json`,
 * `/api/v1/manifest/{compatible}.json`), so devices pointed at such a server can move over (README
 * "Device protocols"). Present → the endpoints answer; absent → 404. `streams` maps a RAUC
 * `compatible` (exact, or a pattern with `*`) to the stream whose bundles it gets; without a match the
 * compatible itself, lower-cased, is the stream.
 */
import { z } from 'zod';
import { streamFor, streamMap, streamMapSchema, type StreamMap } from '../stream-map.ts';
import type { RaucConfig } from '../config-types.ts';

export type { RaucConfig } from '../config-types.ts';

export const raucConfigSchema = z
  .object({ streams: streamMapSchema(/^[A-Za-z0-9*][A-Za-z0-9 ._:*+-]{0,127}$/, 'a RAUC compatible string, or a pattern with *').optional() })
  .strict();

export interface RaucSettings {
  /** Exact compatibles first, then patterns in the order written. */
  streams: StreamMap;
}

export function raucSettings(c: RaucConfig): RaucSettings {
  return { streams: streamMap(c.streams) };
}

/** The stream a compatible gets its bundles from. */
export function streamOfCompatible(s: RaucSettings, compatible: string): string {
  return streamFor(s.streams, compatible) ?? compatible.toLowerCase();
}
