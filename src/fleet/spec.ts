/**
 * What an operator writes: a rollout, a pin, channels and labels, the same shape in `otaflux.config.ts`
 * (`fleet: { … }`), in the operator API's JSON bodies and from the CLI. One zod schema checks all three,
 * and one function turns a rollout spec into the stored Rollout.
 */
import { z } from 'zod';
import semver from 'semver';
import { DEFAULT_GATES, type Pin, type Rollout } from './model.ts';

const streamPatternSchema = z.string().regex(/^[a-z0-9*][a-z0-9._/*-]*$/, { error: 'expected a stream id or a pattern with * (lowercase)' });
const version = z.string().refine((v) => semver.valid(v) !== null, { error: 'expected a semver version such as 1.2.0 or 1.3.0-beta.2' });
const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { error: 'expected an id of letters, digits, . _ - (at most 64)' });
const instanceList = z.array(z.string().min(1).max(200));
const percent = z.number().gt(0).lte(100);

export const rolloutSpecSchema = z
  .object({
    id: id.optional(),
    streams: z.union([streamPatternSchema, z.array(streamPatternSchema).min(1)]),
    version,
    /** SHA-256 of the served bytes, per stream or one for all. */
    digest: z.string().regex(/^[0-9a-f]{64}$/, { error: 'expected the SHA-256 (64 lowercase hex) of the served firmware' }).optional(),
    instances: instanceList.optional(),
    labels: z.array(z.string().min(1)).optional(),
    canary: instanceList.optional(),
    steps: z
      .array(z.object({ percent, soak: z.number().nonnegative().optional() }).strict())
      .min(1, { error: 'expected at least one step, e.g. [{ percent: 10, soak: 3600 }, { percent: 100 }]' })
      .refine((s) => s.every((x, i) => i === 0 || x.percent > (s[i - 1] as { percent: number }).percent), { error: 'expected increasing percentages (steps are cumulative)' }),
    gates: z
      .object({
        successPercent: z.number().min(0).max(100).optional(),
        minSample: z.number().int().nonnegative().optional(),
        failurePercent: z.number().gt(0).max(100).optional(),
        maxDownloadsPerMinute: z.number().int().nonnegative().optional(),
        timeout: z.number().positive().optional(),
      })
      .strict()
      .optional(),
    salt: z.string().min(1).max(200).optional(),
    paused: z.boolean().optional(),
    /** Why (kept in the audit log). */
    reason: z.string().max(500).optional(),
  })
  .strict();

export const pinSpecSchema = z
  .object({
    id: id.optional(),
    stream: streamPatternSchema,
    instances: instanceList.optional(),
    version,
    reason: z.string().max(500).optional(),
  })
  .strict();

export const fleetConfigSchema = z
  .object({
    enabled: z.boolean().optional(),
    databaseUrl: z.string().regex(/^(postgres(ql)?|sqlite):\/\//, { error: 'expected postgres://user@host:port/db or sqlite://FILE' }).optional(),
    checkins: z.boolean().optional(),
    refreshInterval: z.number().positive().optional(),
    rollouts: z.array(rolloutSpecSchema.extend({ id })).optional(),
    pins: z.array(pinSpecSchema.extend({ id })).optional(),
    channels: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/, { error: 'expected a channel name such as beta' }), instanceList).optional(),
    labels: z.record(z.string().min(1), instanceList).optional(),
  })
  .strict();

export type RolloutSpec = z.infer<typeof rolloutSpecSchema>;
export type PinSpec = z.infer<typeof pinSpecSchema>;
export type FleetConfig = z.infer<typeof fleetConfigSchema>;

export function rolloutFromSpec(s: RolloutSpec, now: number, newId: () => string): Rollout {
  const rid = s.id ?? newId();
  const streams = Array.isArray(s.streams) ? s.streams : [s.streams];
  const canary = s.canary ?? [];
  const g = s.gates ?? {};
  return {
    id: rid,
    version: semver.valid(s.version) as string,
    digests: s.digest ? Object.fromEntries(streams.map((st) => [st, s.digest as string])) : {},
    selector: { streams, ...(s.instances ? { instances: s.instances } : {}), ...(s.labels ? { labels: s.labels } : {}) },
    canary,
    steps: s.steps.map((x) => ({ percent: x.percent, soakSeconds: x.soak ?? 0 })),
    gates: {
      successPercent: g.successPercent ?? DEFAULT_GATES.successPercent,
      minSample: g.minSample ?? DEFAULT_GATES.minSample,
      failurePercent: g.failurePercent ?? DEFAULT_GATES.failurePercent,
      maxDownloadsPerMinute: g.maxDownloadsPerMinute ?? DEFAULT_GATES.maxDownloadsPerMinute,
      timeoutSeconds: g.timeout ?? DEFAULT_GATES.timeoutSeconds,
    },
    salt: s.salt ?? rid,
    state: s.paused ? 'paused' : 'running',
    step: canary.length > 0 ? -1 : 0,
    stepStartedAt: now,
    createdAt: now,
  };
}

export function pinFromSpec(s: PinSpec, now: number, newId: () => string): Pin {
  return { id: s.id ?? newId(), stream: s.stream, instances: s.instances ?? [], version: semver.valid(s.version) as string, ...(s.reason ? { reason: s.reason } : {}), createdAt: now };
}

/** zod issues as one line for the operator API and CLI (`steps[1].percent: expected …`). */
export function issuesLine(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.map(String).join('.') || 'body'}: ${i.code === 'unrecognized_keys' ? `unknown key ${i.keys.join(', ')}` : i.message}`).join('; ');
}
