/**
 * `verifier.cosign` serves only firmware the operator signed with cosign:
 *
 *     cosign({ keys: ['cosign.pub'] })                    // the Rust server's --cosign-pub-key-path
 *     cosign({ keys: ['release.pub', 'backup.pub'] })     // any of these keys may sign
 *
 * `keys` are PEM public keys (ECDSA P-256/P-384, Ed25519, RSA), as file paths (relative: to the
 * config file's folder) or PEM text. The flag `--cosign-pub-key-path` (env `COSIGN_PUB_KEY_PATH`)
 * maps to `cosign({ keys: [path] })`. Different devices or groups get different keys by giving
 * them different `cosign()` instances in the config.
 *
 * It checks the exact manifest digest the OCI source resolved (`artifact.digest`, never a tag again)
 * against both layouts cosign writes: the legacy `sha256-<hex>.sig` tag (legacy.ts) and Sigstore
 * bundles found through the referrers API or the `sha256-<hex>` fallback index (bundle.ts). Any
 * valid signature by any trusted key is enough. A bad signature never throws: the verdict says
 * `unsigned`, `wrong-key`, `digest-mismatch`, `bad-signature`, `bad-payload`, `too-large` or
 * `registry-error` (outcome.ts), or `unsupported-source` for artifacts that do not come from an OCI
 * registry. Only an unreachable registry throws (`UpstreamUnavailable`), so the core can retry.
 * Transparency-log entries are not required: this is `cosign verify --key … --insecure-ignore-tlog`.
 */
import { PLUGIN_API_VERSION, type Artifact, type DeviceRef, type PluginContext, type Verdict, type VerifierPlugin } from '../../../plugin.ts';
import { UpstreamUnavailable, errorMessage } from '../../../core/errors.ts';
import type { OciArtifactMeta } from '../../source/oci/index.ts';
import { bundleFindings } from './bundle.ts';
import { isRecord, type Where } from './fetch.ts';
import { loadKeys, type TrustedKey } from './keys.ts';
import { KeylessPolicy, checkKeylessOptions, type KeylessOptions } from './keyless.ts';
import { legacyFindings } from './legacy.ts';
import { combine } from './outcome.ts';

export interface CosignOptions {
  /** Trusted public keys: PEM file paths (relative to the config file) or PEM text. Any of them may sign. */
  keys?: string[];
  /** Which signature layouts count. Default both: `['legacy', 'bundle']`. */
  layouts?: Array<'legacy' | 'bundle'>;
  /** Also accept certificates (Fulcio or a private CA) issued to these identities: see keyless.ts. */
  keyless?: KeylessOptions;
}

const KNOWN_OPTIONS = new Set(['keys', 'layouts', 'keyless']);
const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function cosign(options: CosignOptions): VerifierPlugin {
  checkOptions(options);
  const layouts = new Set(options.layouts ?? ['legacy', 'bundle']);
  let keys: TrustedKey[] | undefined;
  let keyless: KeylessPolicy | undefined;

  function trusted(baseDir = process.cwd()): TrustedKey[] {
    keys ??= loadKeys(options.keys ?? [], baseDir);
    if (options.keyless) keyless ??= new KeylessPolicy(options.keyless, baseDir);
    return keys;
  }

  return {
    kind: 'verifier',
    id: 'verifier.cosign',
    apiVersion: PLUGIN_API_VERSION,

    setup(ctx: PluginContext) {
      const loaded = trusted(ctx.configDir);
      ctx.logger.info('cosign keys loaded', { keys: loaded.map((k) => `${k.kind} SHA256:${k.fingerprint.slice(0, 16)}`), layouts: [...layouts], keyless: keyless ? { identities: options.keyless?.identities.length, requireTlog: keyless.requireTlog } : false });
    },

    async verify(_device: DeviceRef, artifact: Artifact, signal?: AbortSignal): Promise<Verdict> {
      const oci = isRecord(artifact.meta) ? (artifact.meta.oci as OciArtifactMeta | undefined) : undefined;
      if (!isRecord(oci) || !isRecord(oci.client) || typeof oci.repository !== 'string') {
        return { ok: false, reason: 'unsupported-source', detail: 'cosign signatures live in an OCI registry: this artifact does not come from one' };
      }
      const digest = artifact.digest;
      if (!DIGEST.test(digest)) return { ok: false, reason: 'digest-mismatch', detail: `artifact digest '${digest.slice(0, 80)}' is not a sha256 or sha512 digest` };
      if (oci.manifestDigest !== digest) return { ok: false, reason: 'digest-mismatch', detail: `artifact digest ${digest} is not the manifest digest ${String(oci.manifestDigest).slice(0, 80)}` };
      const where: Where = { client: oci.client, repository: oci.repository, ...(signal ? { signal } : {}) };
      try {
        const k = trusted();
        const findings = layouts.has('legacy') ? await legacyFindings(where, digest, k, keyless) : [];
        if (findings.some((f) => f.ok)) return combine(findings);
        if (layouts.has('bundle')) findings.push(...(await bundleFindings(where, digest, k, keyless)));
        return combine(findings);
      } catch (e) {
        if (e instanceof UpstreamUnavailable || signal?.aborted || (e as Error)?.name === 'AbortError') throw e;
        return { ok: false, reason: 'registry-error', detail: `checking signatures of ${digest}: ${errorMessage(e).slice(0, 200)}` };
      }
    },
  };
}

function checkOptions(options: CosignOptions): void {
  const usage = "cosign(): pass the trusted public keys, e.g. cosign({ keys: ['cosign.pub'] })";
  if (!isRecord(options)) throw new TypeError(usage);
  for (const k of Object.keys(options)) if (!KNOWN_OPTIONS.has(k)) throw new TypeError(`cosign(): unknown option '${k}' (known: ${[...KNOWN_OPTIONS].join(', ')})`);
  if (options.keyless !== undefined) checkKeylessOptions(options.keyless);
  const keys = options.keys ?? [];
  if (!Array.isArray(keys) || (keys.length === 0 && !options.keyless) || keys.some((k) => typeof k !== 'string' || k.trim() === '')) throw new TypeError(usage);
  if (options.layouts !== undefined) {
    if (!Array.isArray(options.layouts) || options.layouts.length === 0 || options.layouts.some((l) => l !== 'legacy' && l !== 'bundle')) {
      throw new TypeError("cosign(): layouts must list 'legacy' and/or 'bundle'");
    }
  }
}
