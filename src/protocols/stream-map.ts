/**
 * `protocols.<name>.streams`, shared by every device protocol: a map from what a client says about
 * itself (a DDI controller id, an Arduino STA MAC, a RAUC compatible), exact or a pattern with `*`,
 * to the stream (device id) it follows. Exact keys win over patterns; patterns are tried in the
 * order written.
 */
import { z } from 'zod';
import { streamMatches } from '../fleet/model.ts';

/** A stream name as `devices` keys spell it. */
const STREAM = /^[a-z0-9][a-z0-9._/-]*$/;

/**
 * The schema of a `streams` map whose keys must match `key`; `expected` says what a key is, for the
 * config error (`protocols.ddi.streams["bad key"]: expected …`). Keys are checked one by one: zod
 * reports a bad record key only as "Invalid key in record".
 */
export function streamMapSchema(key: RegExp, expected: string) {
  return z
    .record(z.string(), z.string().regex(STREAM, { error: 'expected a stream (device id), lowercase' }))
    .superRefine((streams, ctx) => {
      for (const k of Object.keys(streams)) if (!key.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: `expected ${expected}` });
    });
}

/** Keys → streams in matching order: exact keys first, then patterns as written. */
export type StreamMap = [pattern: string, stream: string][];

/** The matching order of a `streams` map; `normalise` folds keys (e.g. MACs to upper case). */
export function streamMap(streams: Record<string, string> | undefined, normalise: (key: string) => string = (k) => k): StreamMap {
  const entries = Object.entries(streams ?? {}).map(([k, s]) => [normalise(k), s] as [string, string]);
  return [...entries.filter(([k]) => !k.includes('*')), ...entries.filter(([k]) => k.includes('*'))];
}

/** The stream the first matching key names, if any (`key` already normalised like the map's keys). */
export function streamFor(map: StreamMap, key: string): string | undefined {
  for (const [pattern, stream] of map) if (streamMatches(pattern, key)) return stream;
  return undefined;
}
