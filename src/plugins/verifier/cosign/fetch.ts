/**
 * Bounded reads of signature objects through the OCI source's registry client. Signature
 * manifests, payloads and bundles are small; anything larger than these bounds is refused as
 * `too-large` instead of being loaded. Registry answers that retrying will not change become
 * findings; an unreachable registry (`UpstreamUnavailable`) and aborts are thrown to the core.
 */
import type { RegistryClient } from '../../source/oci/client.ts';
import { isRegistryError } from '../../source/oci/errors.ts';
import { fail, type Finding } from './outcome.ts';

export type SignatureClient = Pick<RegistryClient, 'getManifest' | 'getBlob' | 'referrers'>;

export const LIMITS = {
  /** A `.sig` manifest, a bundle manifest or a fallback index (cosign's are under 4 KiB). */
  manifestBytes: 256 << 10,
  /** Layers of one `.sig` manifest (one per signer). */
  layers: 64,
  /** One simple-signing payload (cosign's are ~250 bytes). */
  payloadBytes: 64 << 10,
  /** One Sigstore bundle (a key-signed one is ~700 bytes, a keyless one a few KiB). */
  bundleBytes: 256 << 10,
  /** Bundle manifests looked at per artifact (referrers or fallback index entries). */
  bundles: 32,
} as const;

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  simpleSigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
  bundlePrefix: 'application/vnd.dev.sigstore.bundle',
} as const;

export interface Where {
  client: SignatureClient;
  repository: string;
  signal?: AbortSignal;
}

export interface FetchedManifest {
  digest: string;
  json: Record<string, unknown>;
}

/** A small manifest by tag or digest; `null` when absent (404); a finding when refused. */
export async function smallManifest(w: Where, reference: string, accept: readonly string[], what: string): Promise<FetchedManifest | null | Finding> {
  try {
    const m = await w.client.getManifest(w.repository, reference, accept, w.signal);
    if (m.bytes.byteLength > LIMITS.manifestBytes) return fail('too-large', `${what} has ${m.bytes.byteLength} bytes (limit ${LIMITS.manifestBytes})`);
    return { digest: m.digest, json: m.json };
  } catch (e) {
    if (isRegistryError(e, 'not-found')) return null;
    return refused(e, what);
  }
}

/** A small blob, size-checked before it is fetched; a finding when too large or refused. */
export async function smallBlob(w: Where, digest: string, declaredSize: number, limit: number, what: string): Promise<Uint8Array | Finding> {
  if (declaredSize > limit) return fail('too-large', `${what} declares ${declaredSize} bytes (limit ${limit})`);
  try {
    return await w.client.getBlob(w.repository, digest, limit, w.signal);
  } catch (e) {
    return refused(e, what);
  }
}

/** Turns a registry refusal into a finding; rethrows outages, aborts and programming errors. */
export function refused(e: unknown, what: string): Finding {
  if (isRegistryError(e, 'too-large')) return fail('too-large', `${what}: over the size limit`);
  if (isRegistryError(e)) return fail('registry-error', `${what}: ${e.code}${e.status ? ` (${e.status})` : ''}`);
  throw e;
}

export function isFinding(x: unknown): x is Finding {
  return typeof x === 'object' && x !== null && 'ok' in x && typeof (x as { ok: unknown }).ok === 'boolean';
}

/** `sha256:<hex>` → `sha256-<hex>`: cosign's tag for things about a digest. */
export function digestTag(digest: string): string {
  return digest.replace(':', '-');
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
