/**
 * Cosign's legacy signature layout: the tag `sha256-<hex>.sig` beside the image holds a manifest
 * whose every `simplesigning` layer is one signature. The layer's blob is the signed payload
 * (`{"critical":{"identity":…,"image":{"docker-manifest-digest":"sha256:…"},"type":"cosign container
 * image signature"},"optional":…}`) and its annotation `dev.cosignproject.cosign/signature` is the
 * base64 signature over those exact bytes.
 *
 * The tag is only a place to look: what counts is a payload, signed by a trusted key, that names
 * exactly the digest being verified. Other layers are skipped; every simplesigning layer is tried.
 */
import { checkSignature, decodeBase64, keyLabel, looksLikeSignature, type TrustedKey } from './keys.ts';
import { LIMITS, MEDIA, digestTag, isFinding, isRecord, smallBlob, smallManifest, type Where } from './fetch.ts';
import { fail, type Finding } from './outcome.ts';
import type { CertifiedSigner, KeylessPolicy } from './keyless.ts';
import type { Evidence } from './evidence.ts';

const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
const CERTIFICATE_ANNOTATION = 'dev.sigstore.cosign/certificate';
const SIGNATURE_TYPE = 'cosign container image signature';

/**
 * Findings for every simplesigning layer of the digest's `.sig` manifest (none when it is absent).
 * Every layer is read, also after a valid one, and its material added to `evidence`: a signature by a
 * key trusted only later can then be checked offline.
 */
export async function legacyFindings(w: Where, digest: string, keys: readonly TrustedKey[], keyless?: KeylessPolicy, evidence?: Evidence): Promise<Finding[]> {
  const tag = `${digestTag(digest)}.sig`;
  const manifest = await smallManifest(w, tag, [MEDIA.ociManifest, MEDIA.dockerManifest], `signature manifest ${tag}`);
  if (manifest === null) return [];
  if (isFinding(manifest)) return [manifest];
  const layers = manifest.json.layers;
  if (!Array.isArray(layers)) return [fail('bad-payload', `signature manifest ${tag} has no layers`)];
  if (layers.length > LIMITS.layers) return [fail('too-large', `signature manifest ${tag} has ${layers.length} layers (limit ${LIMITS.layers})`)];
  const findings: Finding[] = [];
  let valid: Finding | undefined;
  for (const [i, layer] of layers.entries()) {
    if (!isRecord(layer) || layer.mediaType !== MEDIA.simpleSigning) continue;
    const f = await layerFinding(w, layer, `${tag} layer ${i}`, digest, keys, keyless, evidence);
    if (f.ok) valid ??= f;
    else findings.push(f);
  }
  return valid ? [valid] : findings;
}

async function layerFinding(w: Where, layer: Record<string, unknown>, what: string, digest: string, keys: readonly TrustedKey[], keyless?: KeylessPolicy, evidence?: Evidence): Promise<Finding> {
  if (typeof layer.digest !== 'string' || typeof layer.size !== 'number') return fail('bad-payload', `${what}: not a descriptor`);
  const annotations = isRecord(layer.annotations) ? layer.annotations : {};
  const payload = await smallBlob(w, layer.digest, layer.size, LIMITS.payloadBytes, `${what} payload`);
  if (isFinding(payload)) return payload;
  const signatureText = annotations[SIGNATURE_ANNOTATION];
  const certificate = typeof annotations[CERTIFICATE_ANNOTATION] === 'string' ? annotations[CERTIFICATE_ANNOTATION] : undefined;
  if (typeof signatureText === 'string') evidence?.addLegacy({ payload, signature: signatureText, ...(certificate ? { certificate } : {}) });
  return checkLegacySignature({ payload, signature: signatureText, certificate }, what, digest, keys, keyless);
}

/** Checks one legacy signature (payload, base64 signature, optional certificate PEM); no network. */
export function checkLegacySignature(s: { payload: Uint8Array; signature: unknown; certificate?: unknown }, what: string, digest: string, keys: readonly TrustedKey[], keyless?: KeylessPolicy): Finding {
  const { payload } = s;
  const signature = decodeBase64(s.signature);
  const claim = payloadClaim(payload);
  if (!signature) return fail('bad-signature', `${what}: no base64 signature in ${SIGNATURE_ANNOTATION}`);

  const candidates = keys.map((k) => ({ key: k, by: `key:${keyLabel(k)}` }));
  let certificateRefusal: Finding | undefined;
  if (keyless && typeof s.certificate === 'string') {
    const signer = certifiedSigner(s.certificate, keyless, what);
    if ('key' in signer) candidates.push({ key: signer.key, by: `identity:${signer.identity} issuer:${signer.issuer}` });
    else certificateRefusal = signer;
  }
  const signer = candidates.find((c) => checkSignature(c.key, payload, signature) === 'valid');
  if (!signer) {
    if (!looksLikeSignature(signature)) return fail('bad-signature', `${what}: the signature is neither DER ECDSA, Ed25519 nor RSA`);
    if (typeof claim === 'string') return fail('bad-payload', `${what}: unsigned payload that ${claim}`);
    return certificateRefusal ?? fail('wrong-key', `${what}: no trusted key made this signature`);
  }
  if (typeof claim === 'string') return fail('bad-payload', `${what}: signed payload that ${claim}`);
  if (claim.digest !== digest) return fail('digest-mismatch', `${what}: signed for ${claim.digest.slice(0, 80)}, not ${digest}`);
  return { ok: true, by: `verifier.cosign ${signer.by} (legacy .sig)` };
}

/** The signer a layer's certificate annotation vouches for under the keyless policy, or why not. */
function certifiedSigner(pem: string, keyless: KeylessPolicy, what: string): CertifiedSigner | Finding {
  if (keyless.requireTlog) return fail('wrong-key', `${what}: transparency-log proof is required, and legacy keyless signatures are only accepted without it (use the bundle layout)`);
  const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem);
  if (!m) return fail('bad-signature', `${what}: the certificate annotation is not a PEM certificate`);
  return keyless.certified(new Uint8Array(Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64')), what);
}

/** The digest a payload claims, or a phrase saying why it is not a cosign image signature. */
function payloadClaim(bytes: Uint8Array): { digest: string } | string {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return 'is not JSON';
  }
  const critical = isRecord(json) ? json.critical : undefined;
  if (!isRecord(critical)) return "has no 'critical' section";
  if (critical.type !== SIGNATURE_TYPE) return `has type '${String(critical.type).slice(0, 60)}', not '${SIGNATURE_TYPE}'`;
  const image = critical.image;
  const digest = isRecord(image) ? image['docker-manifest-digest'] : undefined;
  if (typeof digest !== 'string') return "names no 'docker-manifest-digest'";
  return { digest };
}
