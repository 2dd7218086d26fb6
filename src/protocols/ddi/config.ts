/**
 * The `protocols.ddi` config key: the hawkBit DDI front door (README "hawkBit DDI"). Present → the
 * DDI routes answer; absent → they are 404 like any unknown route.
 */
import { z } from 'zod';
import { streamFor, streamMap, streamMapSchema, type StreamMap } from '../stream-map.ts';
import type { DdiConfig } from './config-types.ts';

export type { DdiConfig } from './config-types.ts';

export const ddiConfigSchema = z
  .object({
    tenant: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'expected a tenant name of letters, digits, _ . -' }).optional(),
    streams: streamMapSchema(/^[A-Za-z0-9*][A-Za-z0-9._:*-]{0,127}$/, 'a controller id (letters, digits, . _ : -, at most 128) or a pattern with *').optional(),
    pollSleep: z.number().int().min(1).max(359_999, { error: 'expected seconds, at most 99:59:59' }).optional(),
    publicUrl: z.string().regex(/^https?:\/\/[^/?#\s]+\/?$/, { error: 'expected scheme, host and port only, e.g. https://ota.example.com:8443' }).optional(),
  })
  .strict();

export interface DdiSettings {
  tenant: string;
  /** Exact ids first, then patterns in the order written. */
  streams: StreamMap;
  pollSleepSeconds: number;
  publicUrl?: string;
}

export const DEFAULT_POLL_SLEEP = 60;

export function ddiSettings(c: DdiConfig): DdiSettings {
  return {
    tenant: c.tenant ?? 'DEFAULT',
    streams: streamMap(c.streams),
    pollSleepSeconds: c.pollSleep ?? DEFAULT_POLL_SLEEP,
    ...(c.publicUrl ? { publicUrl: c.publicUrl.replace(/\/$/, '') } : {}),
  };
}

/** The stream a controller follows. */
export function streamOf(s: DdiSettings, controllerId: string): string {
  return streamFor(s.streams, controllerId) ?? controllerId.toLowerCase();
}

/** Seconds as the 8-character `HH:MM:SS` every DDI client parses. */
export function pollSleep(seconds: number): string {
  const s = Math.min(Math.max(0, Math.floor(seconds)), 359_999);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(Math.floor(s / 3600))}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
}
