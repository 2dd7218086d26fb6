/**
 * `protocols.arduino`: which stream an Arduino HTTPUpdate device follows when its update URL names no
 * `device` (README "Device protocols"). Keys are STA MAC addresses (`24:0A:C4:12:34:56`) or patterns
 * with `*` (`24:0A:C4:*`), matched case-insensitively; exact addresses win over patterns.
 */
import { z } from 'zod';
import { streamMatches } from '../../fleet/model.ts';
import type { ArduinoConfig } from '../config-types.ts';

export type { ArduinoConfig } from '../config-types.ts';

const KEY = /^[0-9A-Fa-f:*]{1,17}$/;

export const arduinoConfigSchema = z
  .object({
    streams: z
      .record(z.string(), z.string().regex(/^[a-z0-9][a-z0-9._/-]*$/, { error: 'expected a stream (device id), lowercase' }))
      // Keys checked one by one: zod reports a bad record key only as "Invalid key in record".
      .superRefine((streams, ctx) => {
        for (const key of Object.keys(streams)) if (!KEY.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: 'expected a MAC address like 24:0A:C4:12:34:56, or a pattern with *' });
      })
      .optional(),
  })
  .strict();

export interface ArduinoSettings {
  /** Upper-cased MACs, exact ones first, then patterns in the order written. */
  streams: [pattern: string, stream: string][];
}

export function arduinoSettings(c: ArduinoConfig): ArduinoSettings {
  const entries = Object.entries(c.streams ?? {}).map(([p, s]) => [p.toUpperCase(), s] as [string, string]);
  return { streams: [...entries.filter(([p]) => !p.includes('*')), ...entries.filter(([p]) => p.includes('*'))] };
}

/** The stream a MAC follows by config, if any. */
export function streamOfMac(s: ArduinoSettings | undefined, mac: string | undefined): string | undefined {
  if (!s || !mac) return undefined;
  const m = mac.toUpperCase();
  for (const [p, stream] of s.streams) if (streamMatches(p, m)) return stream;
  return undefined;
}
