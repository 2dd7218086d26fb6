/**
 * Runs a plugin as the host does, without a server: the load-time checks (the same code the config
 * loader runs), setup with a fake context, validate, the kind's methods, close. Each `run*` closes
 * the plugin and removes its state folder before it returns or throws.
 */
import { pluginProblems } from '../core/plugin-checks.ts';
import { rankVersions, sha256Digest } from '../sdk/index.ts';
import type {
  Artifact, AuthDecision, DeviceRequest, AuthenticatorPlugin, DeviceRef, ExtractLimits, ExtractorPlugin, Plugin, SourcePlugin, SourceVersion, Verdict, VerifierPlugin,
} from '../plugin.ts';
import { fakeContext, type CapturingLogger, type FakeContext, type LoggedLine } from './fakes.ts';
import { resolveWith } from '../core/plugin-compat.ts';

/** The plugin fails a check OtaFlux runs at load; `problems` holds one line per problem. */
export class PluginCheckError extends Error {
  override readonly name = 'PluginCheckError';
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

/** Throws PluginCheckError when OtaFlux would refuse the plugin at load; returns it otherwise. */
export function checkPlugin<P>(plugin: P): P {
  const problems = pluginProblems(plugin);
  if (problems.length) throw new PluginCheckError(problems);
  return plugin;
}

interface RunOptions {
  /** The context to use (default: a fresh fakeContext()). */
  context?: FakeContext;
}

/** Checks, sets up and validates `plugin`, runs `use`, then closes it; `logs` is what it logged. */
async function lifecycle<P extends Plugin, T>(plugin: P, o: RunOptions, use: (p: P, ctx: FakeContext) => Promise<T>): Promise<T & { logs: LoggedLine[] }> {
  checkPlugin(plugin);
  const ctx = o.context ?? fakeContext({ pluginId: plugin.id });
  try {
    await plugin.setup?.({ ...ctx, logger: ctx.logger.child({ plugin: plugin.id }) as CapturingLogger });
    await plugin.validate?.();
    const result = await use(plugin, ctx);
    return { ...result, logs: ctx.logger.lines };
  } finally {
    await plugin.close?.();
    ctx.abort();
    if (!o.context) ctx.cleanup();
  }
}

export interface SourceRun {
  versions: SourceVersion[];
  /** The version OtaFlux would serve (highest semver, prereleases only when the device allows them). */
  chosen?: SourceVersion;
  artifact?: Artifact;
  /** The stored bytes `open()` yielded for the chosen version. */
  bytes?: Uint8Array;
}

/**
 * Lists the device's versions, picks the one OtaFlux would serve, resolves and reads it. Throws when
 * `open()`'s stream errors, or when the artifact's `contentDigest` does not match the bytes.
 */
export function runSource(source: SourcePlugin, device: DeviceRef, o: RunOptions = {}): Promise<SourceRun & { logs: LoggedLine[] }> {
  return lifecycle(source, o, async (s, ctx) => {
    const versions = await s.versions(device, ctx.signal);
    const chosen = rankVersions(versions, device.allowPrerelease)[0];
    if (!chosen) return { versions };
    const artifact = await resolveWith(s, device, chosen, { signal: ctx.signal });
    if (!/^sha256:[0-9a-f]{64}$/.test(artifact.digest)) throw new Error(`${s.id}: artifact digest ${artifact.digest} is not sha256:<64 hex digits>`);
    const bytes = new Uint8Array(await new Response(await artifact.open(ctx.signal)).arrayBuffer());
    if (artifact.contentDigest && sha256Digest(bytes) !== artifact.contentDigest) {
      throw new Error(`${s.id}: open() yielded bytes of ${sha256Digest(bytes)}, not the artifact's contentDigest ${artifact.contentDigest}`);
    }
    return { versions, chosen, artifact, bytes };
  });
}

/** An artifact for a verifier test, whose `open()` yields `bytes` and whose digest is theirs unless given. */
export function fakeArtifact(bytes: Uint8Array, o: Partial<Omit<Artifact, 'open'>> = {}): Artifact {
  const digest = sha256Digest(bytes);
  return { version: '1.0.0', tag: '1.0.0', digest, contentDigest: digest, size: bytes.length, ...o, open: async () => new Response(bytes).body as ReadableStream<Uint8Array> };
}

/** The verifier's verdict on `artifact`; throws when the verdict is not `{ ok: true, by }` or `{ ok: false, reason }`. */
export function runVerifier(verifier: VerifierPlugin, device: DeviceRef, artifact: Artifact, o: RunOptions = {}): Promise<{ verdict: Verdict; logs: LoggedLine[] }> {
  return lifecycle(verifier, o, async (v, ctx) => {
    const verdict = await v.verify(device, artifact, ctx.signal);
    const shaped = verdict?.ok === true ? typeof verdict.by === 'string' : verdict?.ok === false && typeof verdict.reason === 'string';
    if (!shaped) throw new Error(`${v.id}: verify() answered ${JSON.stringify(verdict)}, expected { ok: true, by } or { ok: false, reason }`);
    return { verdict };
  });
}

/** Extracts `input`; `detected` is what `detect()` said of its head (undefined without detect). */
export function runExtractor(
  extractor: ExtractorPlugin,
  input: Uint8Array,
  o: RunOptions & { device?: DeviceRef; name?: string; mediaType?: string; limits?: Partial<ExtractLimits> } = {},
): Promise<{ output: Uint8Array; detected?: boolean; logs: LoggedLine[] }> {
  return lifecycle(extractor, o, async (x, ctx) => {
    const head = input.subarray(0, 512);
    const detected = x.detect?.({ head, ...(o.name ? { name: o.name } : {}), ...(o.mediaType ? { mediaType: o.mediaType } : {}) });
    const limits: ExtractLimits = { maxOutputBytes: 512 * 1024 * 1024, maxRatio: 200, ...o.limits };
    const stream = x.extract(new Response(input).body as ReadableStream<Uint8Array>, {
      device: o.device ?? { id: 'test-device', allowPrerelease: false, options: {} },
      limits,
      signal: ctx.signal,
      logger: ctx.logger.child({ plugin: x.id }),
      ...(o.name ? { name: o.name } : {}),
      ...(o.mediaType ? { mediaType: o.mediaType } : {}),
    });
    const output = new Uint8Array(await new Response(stream).arrayBuffer());
    return detected === undefined ? { output } : { output, detected };
  });
}

/** The authenticator's decision on `req`; throws when it is not allow (with identity), deny (401/403) or skip. */
export function runAuthenticator(auth: AuthenticatorPlugin, req: DeviceRequest, o: RunOptions = {}): Promise<{ decision: AuthDecision; logs: LoggedLine[] }> {
  return lifecycle(auth, o, async (a) => {
    const decision = await a.authenticate(req);
    const shaped =
      (decision?.outcome === 'allow' && typeof decision.identity === 'string' && decision.identity !== '') ||
      (decision?.outcome === 'deny' && (decision.status === 401 || decision.status === 403)) ||
      decision?.outcome === 'skip';
    if (!shaped) throw new Error(`${a.id}: authenticate() answered ${JSON.stringify(decision)}, expected allow with an identity, deny 401/403, or skip`);
    return { decision };
  });
}
