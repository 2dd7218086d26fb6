/**
 * `protocols.arduino`: which stream an Arduino HTTPUpdate device follows when its update URL names no
 * `device` (README "Device protocols"). Keys are STA MAC addresses (`24:0A:C4:12:34:56`) or patterns
 * with `*` (`24:0A:C4:*`), matched case-insensitively; exact addresses win over patterns.
 */
import { z } from 'zod';
import { streamFor, streamMap, streamMapSchema, type StreamMap } from '../stream-map.ts';
import type { ArduinoConfig } from '../config-types.ts';

export type { ArduinoConfig } from '../config-types.ts';

export const arduinoConfigSchema = z
  .object({ streams: streamMapSchema(/^[0-9A-Fa-f:*]{1,17}$/, 'a MAC address like 24:0A:C4:12:34:56, or a pattern with *').optional() })
  .strict();

export interface ArduinoSettings {
  /** Upper-cased MACs, exact ones first, then patterns in the order written. */
  streams: StreamMap;
}

export function arduinoSettings(c: ArduinoConfig): ArduinoSettings {
  return { streams: streamMap(c.streams, (mac) => mac.toUpperCase()) };
}

/** The stream a MAC follows by config, if any. */
export function streamOfMac(s: ArduinoSettings | undefined, mac: string | undefined): string | undefined {
  return s && mac ? streamFor(s.streams, mac.toUpperCase()) : undefined;
}
