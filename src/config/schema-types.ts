/**
 * The one schema and the config's public types. `defineConfig`'s types (define.ts, and the
 * protocols' config-types.ts) are plain TypeScript, so the SDK's declarations need no zod and an
 * editor shows their doc comments; they are held to the schema here: `tsc` fails when a key, its
 * type or whether it is optional differs between a public type and the input its schema accepts.
 * Code that only OtaFlux sees derives its types from the schemas directly (`FleetConfig` in
 * fleet/spec.ts).
 */
import type { z } from 'zod';
import type { configSchema } from './schema.ts';
import type { FleetConfig, OtaFluxConfig } from './define.ts';
import type { fleetConfigSchema } from '../fleet/spec.ts';
import type { ddiConfigSchema } from '../protocols/ddi/config.ts';
import type { DdiConfig } from '../protocols/ddi/config-types.ts';
import type { arduinoConfigSchema } from '../protocols/arduino/config.ts';
import type { raucConfigSchema } from '../protocols/rauc/config.ts';
import type { ArduinoConfig, RaucConfig } from '../protocols/config-types.ts';

/** `true` when A and B are the same type (keys, optionality, readonly, all the way down); `false` otherwise. */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/** Compiles only while every public type matches its schema. */
export const PUBLIC_TYPES_MATCH_SCHEMA: [
  Same<z.input<typeof configSchema>, OtaFluxConfig>,
  Same<z.input<typeof fleetConfigSchema>, FleetConfig>,
  Same<z.input<typeof ddiConfigSchema>, DdiConfig>,
  Same<z.input<typeof arduinoConfigSchema>, ArduinoConfig>,
  Same<z.input<typeof raucConfigSchema>, RaucConfig>,
] = [true, true, true, true, true];
