/**
 * The Sigstore bundle layout (cosign 3's default for `sign`; cosign 2.5 writes it with
 * `attest --new-bundle-format --type https://sigstore.dev/cosign/sign/v1`): a manifest whose layer
 * is a Sigstore bundle and whose `subject` is the image. It is found through the referrers API, or
 * when the registry lacks it, through the fallback tag `sha256-<hex>` (an image index; its entries'
 * `artifactType` may be the empty type, so it is not filtered on).
 *
 * The bundle holds a DSSE envelope of an in-toto statement. It counts when a trusted key signed the
 * envelope (DSSE pre-authentication encoding), the statement is a cosign signature
 * (`predicateType` https://sigstore.dev/cosign/sign/v1) and one of its subjects is the digest being
 * verified. The manifest's `subject` and the index are only places to look. Transparency-log
 * entries in the bundle are not required (as `cosign verify --insecure-ignore-tlog`).
 */
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { dsse } from '@sigstore/core';
import type { Descriptor } from '../../source/oci/manifest.ts';
import { isRegistryError } from '../../source/oci/errors.ts';
import { checkSignature, keyLabel, looksLikeSignature, type TrustedKey } from './keys.ts';
import { LIMITS, MEDIA, digestTag, isFinding, isRecord, smallBlob, smallManifest, type Where } from './fetch.ts';
import { fail, type Finding } from './outcome.ts';
import type { KeylessPolicy } from './keyless.ts';
import type { Evidence } from './evidence.ts';

const IN_TOTO = 'application/vnd.in-toto+json';
const STATEMENT_TYPES = new Set(['https://in-toto.io/Statement/v0.1', 'https://in-toto.io/Statement/v1']);
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';


/** Findings for every Sigstore bundle attached to the digest (none when there is none); their bytes go to `evidence`. */
export async function bundleFindings(w: Where, digest: string, keys: readonly TrustedKey[], keyless?: KeylessPolicy, evidence?: Evidence): Promise<Finding[]> {
  const listed = await bundleManifests(w, digest);
  if (isFinding(listed)) return [listed];
  const findings: Finding[] = [];
  for (const d of listed.slice(0, LIMITS.bundles)) {
    if (d.mediaType !== MEDIA.ociManifest) continue;
    const what = `bundle manifest ${d.digest}`;
    if (d.size > LIMITS.manifestBytes) {
      findings.push(fail('too-large', `${what} declares ${d.size} bytes (limit ${LIMITS.manifestBytes})`));
      continue;
    }
    const manifest = await smallManifest(w, d.digest, [MEDIA.ociManifest], what);
    if (manifest === null) continue;
    if (isFinding(manifest)) {
      findings.push(manifest);
      continue;
    }
    const layers = Array.isArray(manifest.json.layers) ? manifest.json.layers.slice(0, LIMITS.layers) : [];
    for (const [i, layer] of layers.entries()) {
      if (!isRecord(layer) || typeof layer.mediaType !== 'string' || !layer.mediaType.startsWith(MEDIA.bundlePrefix)) continue;
      const f = await layerFinding(w, layer, `${what} layer ${i}`, digest, keys, keyless, evidence);
      if (f.ok) return [f];
      findings.push(f);
    }
  }
  return findings;
}

/** Descriptors of manifests that may hold bundles: referrers, else the fallback index's entries. */
async function bundleManifests(w: Where, digest: string): Promise<Descriptor[] | Finding> {
  let referrers: Descriptor[] | null = null;
  try {
    referrers = await w.client.referrers(w.repository, digest, undefined, w.signal);
  } catch (e) {
    if (!isRegistryError(e)) throw e;
  }
  if (referrers && referrers.length > 0) return referrers;
  const tag = digestTag(digest);
  const index = await smallManifest(w, tag, [MEDIA.ociIndex], `bundle index ${tag}`);
  if (index === null) return [];
  if (isFinding(index)) return index;
  const entries = index.json.manifests;
  if (!Array.isArray(entries)) return fail('bad-payload', `bundle index ${tag} lists no manifests`);
  return entries.filter((e): e is Descriptor => isRecord(e) && typeof e.digest === 'string' && /^sha256:[a-f0-9]{64}$/.test(e.digest) && typeof e.size === 'number' && typeof e.mediaType === 'string');
}

async function layerFinding(w: Where, layer: Record<string, unknown>, what: string, digest: string, keys: readonly TrustedKey[], keyless?: KeylessPolicy, evidence?: Evidence): Promise<Finding> {
  if (typeof layer.digest !== 'string' || typeof layer.size !== 'number') return fail('bad-payload', `${what}: not a descriptor`);
  const bytes = await smallBlob(w, layer.digest, layer.size, LIMITS.bundleBytes, what);
  if (isFinding(bytes)) return bytes;
  evidence?.addBundle(bytes);
  return checkBundleBytes(bytes, what, digest, keys, keyless);
}

/** Checks one Sigstore bundle (its JSON bytes) against the trusted keys and identities; no network. */
export function checkBundleBytes(bytes: Uint8Array, what: string, digest: string, keys: readonly TrustedKey[], keyless?: KeylessPolicy): Finding {
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)));
  } catch (e) {
    return fail('bad-payload', `${what}: not a Sigstore bundle (${(e as Error).message.slice(0, 120)})`);
  }
  if (bundle.content.$case !== 'dsseEnvelope') return fail('bad-payload', `${what}: the bundle signs a message, not a DSSE statement`);
  const envelope = bundle.content.dsseEnvelope;
  const claim = statementClaim(envelope.payloadType, envelope.payload, digest);

  const material = bundle.verificationMaterial.content.$case;
  let verified: Finding;
  if (material === 'publicKey') {
    verified = keySigned(envelope, keys, what);
  } else if (keyless) {
    verified = keylessSigned(bundle, envelope, keyless, what);
  } else {
    verified = fail('wrong-key', `${what}: signed with a certificate (keyless), and only public keys are trusted`);
  }
  if (!verified.ok) {
    if (verified.reason === 'wrong-key' && claim !== 'match' && claim !== 'other-digest') return fail('bad-payload', `${what}: unsigned statement that ${claim}`);
    return verified;
  }
  if (claim === 'other-digest') return fail('digest-mismatch', `${what}: the signed statement's subjects do not include ${digest}`);
  if (claim !== 'match') return fail('bad-payload', `${what}: signed statement that ${claim}`);
  return { ok: true, by: `${verified.by} (bundle)` };
}

/** Checks a certificate-signed bundle against the keyless policy. */
function keylessSigned(bundle: Bundle, envelope: Envelope, keyless: KeylessPolicy, what: string): Finding {
  if (keyless.requireTlog) {
    const signer = keyless.verifyWithTlog(bundle, what);
    return 'key' in signer ? { ok: true, by: `verifier.cosign identity:${signer.identity} issuer:${signer.issuer}` } : signer;
  }
  const material = bundle.verificationMaterial.content;
  const der = material.$case === 'certificate' ? material.certificate.rawBytes : material.$case === 'x509CertificateChain' ? material.x509CertificateChain.certificates[0]?.rawBytes : undefined;
  if (!der) return fail('bad-signature', `${what}: the bundle carries no certificate`);
  const signer = keyless.certified(der, what);
  if (!('key' in signer)) return signer;
  const signed = keySigned(envelope, [signer.key], what);
  if (!signed.ok) return signed;
  return { ok: true, by: `verifier.cosign identity:${signer.identity} issuer:${signer.issuer}` };
}

type Envelope = { payloadType: string; payload: Buffer; signatures: { sig: Buffer }[] };

/** Checks the envelope's signatures against the trusted keys. */
function keySigned(envelope: Envelope, keys: readonly TrustedKey[], what: string): Finding {
  const pae = dsse.preAuthEncoding(envelope.payloadType, envelope.payload);
  if (envelope.signatures.length === 0) return fail('bad-signature', `${what}: the envelope has no signature`);
  let shaped = false;
  for (const s of envelope.signatures) {
    const sig = new Uint8Array(s.sig);
    shaped ||= looksLikeSignature(sig);
    for (const k of keys) if (checkSignature(k, pae, sig) === 'valid') return { ok: true, by: `verifier.cosign key:${keyLabel(k)}` };
  }
  if (!shaped) return fail('bad-signature', `${what}: the envelope's signature is neither DER ECDSA, Ed25519 nor RSA`);
  return fail('wrong-key', `${what}: no trusted key made the envelope's signature`);
}

/** Whether the DSSE payload is a cosign signature statement about `digest`, else why not. */
function statementClaim(payloadType: string, payload: Buffer, digest: string): 'match' | 'other-digest' | string {
  if (payloadType !== IN_TOTO) return `has payload type '${payloadType.slice(0, 60)}', not ${IN_TOTO}`;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    return 'is not JSON';
  }
  if (!isRecord(json) || typeof json._type !== 'string' || !STATEMENT_TYPES.has(json._type)) return 'is not an in-toto statement';
  if (json.predicateType !== COSIGN_SIGN_PREDICATE) return `has predicate type '${String(json.predicateType).slice(0, 80)}', not ${COSIGN_SIGN_PREDICATE}`;
  if (!Array.isArray(json.subject) || json.subject.length === 0) return 'has no subject';
  const [alg, hex] = digest.split(':');
  const named = json.subject.some((s) => isRecord(s) && isRecord(s.digest) && alg !== undefined && s.digest[alg] === hex);
  return named ? 'match' : 'other-digest';
}
