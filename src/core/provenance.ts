/**
 * Provenance of cached releases: the identities a device's composition has now, and whether a
 * release cached under earlier ones may be served to it. The cache never outranks the
 * configuration: a release fetched from another registry or folder, through another extractor
 * chain, or accepted by a verifier that is no longer trusted is not served.
 */
import type { DeviceRef, Verdict, VerifierPlugin, SourcePlugin } from '../plugin.ts';
import type { Composition } from './composition.ts';
import type { ExtractSpec } from './extract-chain.ts';
import type { Provenance, Release } from './release.ts';

/** The configured extractor chain as a string: part of a release's key and provenance. */
export function chainKey(spec: ExtractSpec): string {
  return spec === 'auto' ? 'auto' : spec.map((x) => (x.variant ? `${x.id}(${x.variant})` : x.id)).join('|');
}

export function sourceIdentity(source: SourcePlugin, device: DeviceRef): string {
  return source.identity?.(device) ?? source.id;
}

export function verifierIdentity(verifier: VerifierPlugin): string {
  return verifier.identity?.() ?? verifier.id;
}

/** The provenance a release built now, for this device and composition, gets. */
export function provenanceNow(device: DeviceRef, comp: Composition): Provenance {
  return { source: sourceIdentity(comp.source, device), verifier: verifierIdentity(comp.verifier), chain: chainKey(comp.extract) };
}

export type CachedVerdict = { ok: true; release: Release } | { ok: false; reason: string };

/**
 * Whether a cached release (with the evidence its verifier returned) may be served to a device under
 * its composition now. Source and chain must be equal; the verifier must be the same identity, or
 * re-verify the evidence offline. Accepted releases come back with `verifiedBy` of the check made now.
 */
export async function acceptCached(device: DeviceRef, comp: Composition, release: Release, evidence: unknown): Promise<CachedVerdict> {
  const was = release.provenance;
  if (!was) return { ok: false, reason: 'cached without provenance' };
  const now = provenanceNow(device, comp);
  if (was.source !== now.source) return { ok: false, reason: `fetched from ${was.source}, configured source is ${now.source}` };
  if (was.chain !== now.chain) return { ok: false, reason: `extracted with ${was.chain}, configured chain is ${now.chain}` };
  if (was.verifier === now.verifier) return { ok: true, release };
  if (!comp.verifier.verifyOffline || evidence === undefined) {
    return { ok: false, reason: `accepted by ${was.verifier}, configured verifier is ${now.verifier} (no offline re-verification)` };
  }
  let verdict: Verdict;
  try {
    verdict = await comp.verifier.verifyOffline(device, release.sourceDigest, evidence);
  } catch (e) {
    verdict = { ok: false, reason: 'offline-error', detail: (e as Error)?.message };
  }
  if (!verdict.ok) return { ok: false, reason: `accepted by ${was.verifier}, refused offline by ${now.verifier}: ${verdict.reason}` };
  return { ok: true, release: { ...release, verifiedBy: verdict.by, provenance: { ...was, verifier: now.verifier } } };
}
