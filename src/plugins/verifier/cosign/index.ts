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
 *
 * An acceptance carries the signature material read as its evidence (evidence.ts), every signature
 * found for the digest, not only the valid one. `identity()` names what is trusted (key fingerprints,
 * layouts, keyless identities and trusted root); `verifyOffline` checks stored evidence against the
 * keys configured now, so a cached release survives a key rotation while the registry is down when a
 * key still trusted signed it, and is refused when none did.
 */
import { PLUGIN_API_VERSION, type Artifact, type DeviceRef, type PluginContext, type Verdict, type VerifierPlugin } from '../../../plugin.ts';
import { UpstreamUnavailable, errorMessage } from '../../../sdk/index.ts';
import type { OciArtifactMeta } from '../../source/oci/index.ts';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { bundleFindings, checkBundleBytes } from './bundle.ts';
import { isRecord, type Where } from './fetch.ts';
import { loadKeys, type TrustedKey } from './keys.ts';
import { KeylessPolicy, checkKeylessOptions, type KeylessOptions } from './keyless.ts';
import { checkLegacySignature, legacyFindings } from './legacy.ts';
import { combine, type Finding } from './outcome.ts';
import { Evidence, parseEvidence } from './evidence.ts';

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
  let identity: string | undefined;

  function trusted(baseDir = process.cwd()): TrustedKey[] {
    keys ??= loadKeys(options.keys ?? [], baseDir);
    if (options.keyless) keyless ??= new KeylessPolicy(options.keyless, baseDir);
    identity ??= identityOf(keys, [...layouts], options.keyless, baseDir);
    return keys;
  }

  /** Findings of stored evidence against what is trusted now. */
  function offlineFindings(evidence: Evidence, digest: string): Finding[] {
    const k = trusted();
    const findings: Finding[] = [];
    if (layouts.has('legacy')) {
      for (const [i, l] of evidence.legacy.entries()) findings.push(checkLegacySignature(l, `stored legacy signature ${i}`, digest, k, keyless));
    }
    if (layouts.has('bundle')) {
      for (const [i, b] of evidence.bundles.entries()) findings.push(checkBundleBytes(b, `stored bundle ${i}`, digest, k, keyless));
    }
    return findings;
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
      const evidence = new Evidence(digest);
      const accepted = (findings: Finding[]): Verdict => {
        const v = combine(findings);
        return v.ok ? { ...v, evidence: evidence.toJSON() } : v;
      };
      try {
        const k = trusted();
        const findings = layouts.has('legacy') ? await legacyFindings(where, digest, k, keyless, evidence) : [];
        if (findings.some((f) => f.ok)) {
          // Bundles are read too, for the evidence only: a key trusted later may have signed one.
          if (layouts.has('bundle')) await bundleFindings(where, digest, k, keyless, evidence).catch(() => []);
          return accepted(findings);
        }
        if (layouts.has('bundle')) findings.push(...(await bundleFindings(where, digest, k, keyless, evidence)));
        return accepted(findings);
      } catch (e) {
        if (e instanceof UpstreamUnavailable || signal?.aborted || (e as Error)?.name === 'AbortError') throw e;
        return { ok: false, reason: 'registry-error', detail: `checking signatures of ${digest}: ${errorMessage(e).slice(0, 200)}` };
      }
    },

    identity(): string {
      trusted();
      return identity as string;
    },

    verifyOffline(_device: DeviceRef, digest: string, stored: unknown): Verdict {
      const evidence = parseEvidence(stored);
      if (!evidence) return { ok: false, reason: 'bad-evidence', detail: 'the stored evidence is not cosign signature material' };
      if (evidence.digest !== digest) return { ok: false, reason: 'digest-mismatch', detail: `the stored evidence is about ${evidence.digest.slice(0, 80)}, not ${digest}` };
      const v = combine(offlineFindings(evidence, digest));
      return v.ok ? { ...v, by: `${v.by} (re-verified offline)`, evidence: stored } : v;
    },
  };
}

/**
 * What this instance trusts, as one stable line: full key fingerprints (sorted), layouts, and for
 * keyless a hash of the identities, the transparency-log rule and the trusted root's bytes.
 */
function identityOf(keys: readonly TrustedKey[], layouts: string[], keyless: KeylessOptions | undefined, baseDir: string): string {
  const parts = [`keys=${[...new Set(keys.map((k) => `SHA256:${k.fingerprint}`))].sort().join(',') || '-'}`, `layouts=${[...layouts].sort().join(',')}`];
  if (keyless) {
    let root = '';
    try {
      root = createHash('sha256').update(readFileSync(resolve(baseDir, keyless.trustedRoot))).digest('hex');
    } catch {
      root = 'unreadable';
    }
    const h = createHash('sha256').update(JSON.stringify({ identities: keyless.identities, requireTlog: keyless.requireTlog ?? false, root })).digest('hex');
    parts.push(`keyless=sha256:${h.slice(0, 32)}`);
  }
  return `verifier.cosign ${parts.join(' ')}`;
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
