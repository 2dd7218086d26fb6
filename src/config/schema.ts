/** Strict zod schema of `otaflux.config.ts`: unknown keys are errors, plugins are checked by kind. */
import { z } from 'zod';
import { LOG_LEVELS } from '../log.ts';
import type { AuthenticatorPlugin, ExtractorPlugin, PluginKind, SourcePlugin, VerifierPlugin } from '../plugin.ts';
import { fleetConfigSchema } from '../fleet/spec.ts';
import { ddiConfigSchema } from '../protocols/ddi/config.ts';
import { arduinoConfigSchema } from '../protocols/arduino/config.ts';
import { raucConfigSchema } from '../protocols/rauc/config.ts';

/** `server.workers`: the one message for every way it can be wrong. */
const workersError = "expected a whole number from 1 to 256, or 'auto'";
const KIND_EXAMPLES: Record<PluginKind, string> = {
  source: 'a source plugin, e.g. dir({ root: "./firmware" }) or oci({ url, prefix })',
  verifier: 'a verifier plugin, e.g. none() or cosign({ keys: ["cosign.pub"] })',
  extractor: 'an extractor plugin, e.g. gzip(), zstd() or tar()',
  authenticator: 'an authenticator plugin, e.g. token({ ... }) or mtls({ ... })',
};

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') {
    const o = v as { kind?: unknown; id?: unknown };
    if (typeof o.kind === 'string' && typeof o.id === 'string') return `${o.kind} plugin ${o.id}`;
    return 'an object that is not a plugin (did you forget to call the factory?)';
  }
  if (typeof v === 'function') return 'a function (call it: write dir({...}), not dir)';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** The plugin type of each kind, so the schema's input type names what `defineConfig` accepts. */
interface PluginOfKind {
  source: SourcePlugin;
  verifier: VerifierPlugin;
  extractor: ExtractorPlugin;
  authenticator: AuthenticatorPlugin;
}

function plugin<K extends PluginKind>(kind: K) {
  return z.custom<PluginOfKind[K]>(
    (v) => {
      if (typeof v !== 'object' || v === null) return false;
      const p = v as Record<string, unknown>;
      // The rest (id grammar, apiVersion, methods) is checked after parsing, by core/plugin-checks.ts.
      return p.kind === kind && typeof p.id === 'string';
    },
    { error: (issue) => `expected ${KIND_EXAMPLES[kind]}, got ${describe(issue.input)}` },
  );
}

const address = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]*):\d{1,5}$/, { error: 'expected host:port, e.g. "0.0.0.0:8080"' });

const device = z
  .object({
    source: plugin('source').optional(),
    verifier: plugin('verifier').optional(),
    extract: z.union([z.literal('auto'), z.literal('raw'), z.array(plugin('extractor'))], {
      error: "expected 'auto', 'raw' or a list of extractors such as [gzip(), tar()]",
    }).optional(),
    auth: z.union([z.literal('none'), plugin('authenticator'), z.array(plugin('authenticator')).min(1)], {
      error: "expected 'none', an authenticator such as token({...}), or a non-empty list of them",
    }).optional(),
    allowPrerelease: z.boolean().optional(),
    options: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

const positiveInt = z.number().int().positive();

const operatorSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, { error: 'expected a name of letters, digits and ._@- (at most 64)' }),
    role: z.enum(['viewer', 'operator']),
    token: z.string().regex(/^sha256:[A-Za-z0-9_-]{16,}:[A-Za-z0-9_-]{43}$/, { error: "expected a token hash 'sha256:<salt>:<digest>' as printed by otaflux hash-token (never the token itself)" }),
  })
  .strict();

export const configSchema = z
  .object({
    server: z
      .object({
        listenAddr: z.union([address, z.literal(false)]).optional(),
        metricsListenAddr: z.union([address, z.literal(false)]).optional(),
        logLevel: z.enum(LOG_LEVELS).optional(),
        logFormat: z.enum(['json', 'text']).optional(),
        tls: z
          .object({
            listenAddr: address.optional(),
            cert: z.string().min(1),
            key: z.string().min(1),
            clientCa: z.string().min(1).optional(),
            requireClientCert: z.boolean().optional(),
            crl: z.string().min(1).optional(),
          })
          .strict()
          .optional(),
        metricsDeviceLabels: z.boolean().optional(),
        adminToken: z.string().min(16, { error: 'expected a token of at least 16 characters' }).optional(),
        adminListenAddr: z.union([address, z.literal(false)]).optional(),
        adminOnDevicePort: z.boolean().optional(),
        operators: z.array(operatorSchema).optional(),
        uploadMaxBytes: positiveInt.optional(),
        webhookSecret: z.string().min(8, { error: 'expected a secret of at least 8 characters' }).optional(),
        headerTimeout: z.number().positive({ error: 'expected a number of seconds above 0' }).optional(),
        maxConnections: positiveInt.optional(),
        workers: z.union([z.literal('auto'), z.number().int({ error: workersError }).min(1, { error: workersError }).max(256, { error: workersError })], { error: workersError }).optional(),
        drainTimeout: z.number().min(0, { error: 'expected a number of seconds, 0 or more' }).optional(),
      })
      .strict()
      .optional(),
    cache: z
      .object({
        dir: z.string().min(1).optional(),
        maxBytes: positiveInt.optional(),
        maxEntries: positiveInt.optional(),
        memoryBytes: z.number().int().nonnegative().optional(),
        refreshInterval: z.number().nonnegative().optional(),
      })
      .strict()
      .optional(),
    limits: z
      .object({ maxOutputBytes: positiveInt.optional(), maxRatio: z.number().positive().optional() })
      .strict()
      .optional(),
    mqtt: z
      .object({
        url: z.string().regex(/^(mqtts?|tcp|ssl|tls):\/\/[^/?#]+/, { error: 'expected mqtt://host:port or mqtts://host:port' }),
        topic: z.string().optional(),
        username: z.string().optional(),
        password: z.string().optional(),
        caCertPath: z.string().min(1).optional(),
        clientCertPath: z.string().min(1).optional(),
        clientKeyPath: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    extractors: z.array(plugin('extractor')).optional(),
    defaults: device.optional(),
    devices: z.record(z.string().regex(/^[a-z0-9*][a-z0-9._/*-]*$/, { error: 'expected a device id or a pattern with * (lowercase)' }), device).optional(),
    fleet: fleetConfigSchema.optional(),
    protocols: z.object({ ddi: ddiConfigSchema.optional(), arduino: arduinoConfigSchema.optional(), rauc: raucConfigSchema.optional() }).strict().optional(),
  })
  .strict();

/** Renders zod issues as `file: key.path: what was expected` lines. */
export function formatIssues(file: string, error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const path = i.path.map((p) => (typeof p === 'number' ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(String(p)) ? `.${String(p)}` : `[${JSON.stringify(String(p))}]`)).join('').replace(/^\./, '');
      const message = i.code === 'unrecognized_keys' ? `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `'${k}'`).join(', ')}` : i.message;
      return `${file}: ${path || '(top level)'}: ${message}`;
    })
    .join('\n');
}
