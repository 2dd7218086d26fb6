/**
 * The checks every plugin passes before OtaFlux uses it, in one place: the config loader runs them
 * on each plugin the config file names, the plugin host on the API version of each plugin it starts,
 * and `otaflux/testing` on the plugin under test. Each problem is one message starting
 * `plugin <id>`, so callers only add where the plugin was found.
 *
 * Id grammar: `<prefix>.<name>`, prefix `source`, `verifier`, `extractor` or `auth` (authenticators),
 * matching the kind; name one or more dot-separated segments, each `[a-z][a-z0-9-]*`
 * (`source.http-index`, `verifier.acme.hsm`). At most 100 characters.
 */
import { PLUGIN_API_VERSION, SUPPORTED_PLUGIN_API_VERSIONS, type Plugin, type PluginKind } from '../plugin.ts';

export const PLUGIN_KINDS: readonly PluginKind[] = ['source', 'verifier', 'extractor', 'authenticator'];

/** The first segment of a plugin id, per kind. */
export const ID_PREFIX: Readonly<Record<PluginKind, string>> = { source: 'source', verifier: 'verifier', extractor: 'extractor', authenticator: 'auth' };

const NAME = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$/;
const MAX_ID_LENGTH = 100;

/** The methods a plugin of each kind must have. */
export const REQUIRED_METHODS: Readonly<Record<PluginKind, readonly string[]>> = {
  source: ['versions', 'resolve'],
  verifier: ['verify'],
  extractor: ['extract'],
  authenticator: ['authenticate'],
};

/** Hooks a plugin may leave out, but which must be functions when present. */
const OPTIONAL_METHODS: Readonly<Record<PluginKind, readonly string[]>> = {
  source: ['setup', 'validate', 'close', 'identity'],
  verifier: ['setup', 'validate', 'close', 'identity', 'verifyOffline'],
  extractor: ['setup', 'validate', 'close', 'detect', 'outputName'],
  authenticator: ['setup', 'validate', 'close'],
};

/** Ids only OtaFlux's own plugins may carry. */
export const BUILT_IN_IDS: ReadonlySet<string> = new Set([
  'source.dir', 'source.oci', 'verifier.none', 'verifier.cosign',
  'extractor.raw', 'extractor.gzip', 'extractor.zstd', 'extractor.tar', 'auth.token', 'auth.mtls',
]);

const builtIns = new WeakSet<object>();

/** Wraps a built-in factory so the plugins it makes may carry a built-in id. */
export function builtInFactory<A extends unknown[], P extends Plugin>(factory: (...args: A) => P): (...args: A) => P {
  return (...args: A) => {
    const p = factory(...args);
    builtIns.add(p);
    return p;
  };
}

/** The plugin API version problem of `p`, if any (one message). */
export function apiVersionProblem(p: { id?: unknown; apiVersion?: unknown }): string | undefined {
  const who = `plugin ${String(p.id)}`;
  if (p.apiVersion === undefined) return `${who}: missing apiVersion; add apiVersion: PLUGIN_API_VERSION (imported from 'otaflux')`;
  if (typeof p.apiVersion !== 'number') return `${who}: apiVersion is ${typeof p.apiVersion} ${JSON.stringify(p.apiVersion)}, expected a number; write apiVersion: PLUGIN_API_VERSION (imported from 'otaflux')`;
  if (!SUPPORTED_PLUGIN_API_VERSIONS.includes(p.apiVersion)) {
    return `${who} targets plugin API ${String(p.apiVersion)}, but this OtaFlux speaks plugin API ${PLUGIN_API_VERSION} (and loads plugins written for ${SUPPORTED_PLUGIN_API_VERSIONS.join(', ')}): update the plugin or OtaFlux`;
  }
  return undefined;
}

/** Every problem of the plugin object `value`, one message each; empty when it may be used. */
export function pluginProblems(value: unknown): string[] {
  if (typeof value !== 'object' || value === null) return [`expected a plugin object { kind, id, apiVersion, ... }, got ${value === null ? 'null' : typeof value}`];
  const p = value as Record<string, unknown>;
  const kind = p.kind as PluginKind;
  if (!PLUGIN_KINDS.includes(kind)) return [`plugin ${String(p.id)}: kind must be one of ${PLUGIN_KINDS.join(', ')}, got ${JSON.stringify(p.kind)}`];
  const problems: string[] = [];
  const idProblem = idGrammarProblem(kind, p.id);
  if (idProblem) problems.push(idProblem);
  else if (BUILT_IN_IDS.has(p.id as string) && !builtIns.has(p)) {
    problems.push(`plugin ${String(p.id)}: this id belongs to a built-in plugin; give yours another name, e.g. ${ID_PREFIX[kind]}.acme-${(p.id as string).split('.')[1]}`);
  }
  const api = apiVersionProblem(p);
  if (api) problems.push(api);
  for (const m of REQUIRED_METHODS[kind]) {
    if (p[m] === undefined) problems.push(`plugin ${String(p.id)}: missing method ${m}()`);
    else if (typeof p[m] !== 'function') problems.push(`plugin ${String(p.id)}: ${m} is ${typeof p[m]}, expected a method ${m}()`);
  }
  for (const m of OPTIONAL_METHODS[kind]) {
    if (p[m] !== undefined && typeof p[m] !== 'function') problems.push(`plugin ${String(p.id)}: ${m} is ${typeof p[m]}, expected a method ${m}() or nothing`);
  }
  if (kind === 'extractor' && p.detectPriority !== undefined && !Number.isFinite(p.detectPriority)) {
    problems.push(`plugin ${String(p.id)}: detectPriority is ${JSON.stringify(p.detectPriority) ?? typeof p.detectPriority}, expected a finite number or nothing`);
  }
  return problems;
}

/** Why `id` is not a valid id for a plugin of `kind`, or undefined. */
export function idGrammarProblem(kind: PluginKind, id: unknown): string | undefined {
  const prefix = ID_PREFIX[kind];
  const example = `e.g. ${prefix}.http-index`;
  if (typeof id !== 'string') return `plugin ${String(id)}: id must be a string ${prefix}.<name>, ${example}`;
  const dot = id.indexOf('.');
  if (dot < 0 || id.slice(0, dot) !== prefix) return `plugin ${id}: a ${kind} plugin's id is ${prefix}.<name>, ${example}`;
  if (!NAME.test(id.slice(dot + 1)) || id.length > MAX_ID_LENGTH) {
    return `plugin ${id}: id name must be lowercase segments [a-z][a-z0-9-]* separated by dots, at most ${MAX_ID_LENGTH} characters, ${example}`;
  }
  return undefined;
}
