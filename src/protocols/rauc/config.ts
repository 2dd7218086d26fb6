/**
 * `protocols.rauc`: the RAUC simple server's manifest endpoints (`/api/v1/manifest.json`,
 * `/api/v1/manifest/{compatible}.json`), so devices pointed at such a server can move over (README
 * "Device protocols"). Present → the endpoints answer; absent → 404. `streams` maps a RAUC
 * `compatible` (exact, or a pattern with `*`) to the stream whose bundles it gets; without a match the
 * compatible itself, lower-cased, is the stream.
 */
import { z } from 'zod';
import { streamMatches } from '../../fleet/model.ts';
import type { RaucConfig } from '../config-types.ts';

export type { RaucConfig } from '../config-types.ts';

const KEY = /^[A-Za-z0-9*][A-Za-z0-9 ._:*+-]{0,127}$/;

export const raucConfigSchema = z
  .object({
    streams: z
      .record(z.string(), z.string().regex(/^[a-z0-9][a-z0-9._/-]*$/, { error: 'expected a stream (device id), lowercase' }))
      // Keys checked one by one: zod reports a bad record key only as "Invalid key in record".
      .superRefine((streams, ctx) => {
        for (const key of Object.keys(streams)) if (!KEY.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: 'expected a RAUC compatible string, or a pattern with *' });
      })
      .optional(),
  })
  .strict();

export interface RaucSettings {
  /** Exact compatibles first, then patterns in the order written. */
  streams: [pattern: string, stream: string][];
}

export function raucSettings(c: RaucConfig): RaucSettings {
  const entries = Object.entries(c.streams ?? {});
  return { streams: [...entries.filter(([p]) => !p.includes('*')), ...entries.filter(([p]) => p.includes('*'))] };
}

/** The stream a compatible gets its bundles from. */
export function streamOfCompatible(s: RaucSettings, compatible: string): string {
  for (const [p, stream] of s.streams) if (streamMatches(p, compatible)) return stream;
  return compatible.toLowerCase();
}
