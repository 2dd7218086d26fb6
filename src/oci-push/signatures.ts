/**
 * Cosign signatures of one manifest digest, in the two layouts `cosign verify --key` and the
 * `verifier.cosign` plugin read. Offline: nothing goes to a transparency log (Rekor) or a
 * certificate authority (Fulcio), as `cosign sign --tlog-upload=false` with a key.
 *
 * - legacy: tag `sha256-<hex>.sig` holds a manifest with one `simplesigning` layer per signature:
 *   the layer's blob is the payload `{"critical":{"identity":{"docker-reference":"host/repo"},
 *   "image":{"docker-manifest-digest":"sha256:…"},"type":"cosign container image signature"},
 *   "optional":null}` and its annotation `dev.cosignproject.cosign/signature` the base64 signature of
 *   those bytes. Earlier signatures in the manifest are kept (a second signer appends).
 * - bundle: a Sigstore bundle (v0.3) of a DSSE envelope over an in-toto statement whose subject is
 *   the digest and whose predicate type is `https://sigstore.dev/cosign/sign/v1` (what cosign 3's
 *   `sign` writes), in a manifest whose `subject` is the signed manifest (the layout of cosign's
 *   specs/BUNDLE_SPEC.md, index entries with their annotations). Registries with the
 *   referrers API index it themselves (they answer the PUT with `OCI-Subject`); for the others the
 *   manifest is added to the fallback index tag `sha256-<hex>`.
 */
import type { RegistrySession } from './session.ts';
import type { SigningKey } from './private-key.ts';
import { MEDIA, encode, putManifest, readManifest, type FetchedManifest } from './manifests.ts';
import { memoryBlob, uploadBlob } from './upload.ts';
import { PublishError } from './errors.ts';

export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
const IN_TOTO = 'application/vnd.in-toto+json';
const CREATED = 'org.opencontainers.image.created';

export interface Target {
  repository: string;
  /** The manifest being signed. */
  manifest: FetchedManifest;
}

/** `sha256:<hex>` → `sha256-<hex>` */
function digestTag(digest: string): string {
  return digest.replace(':', '-');
}

/** Signs in the legacy layout; returns the `.sig` tag written. */
export async function signLegacy(s: RegistrySession, key: SigningKey, t: Target): Promise<string> {
  const payload = encode({
    critical: { identity: { 'docker-reference': `${s.host}/${t.repository}` }, image: { 'docker-manifest-digest': t.manifest.digest }, type: 'cosign container image signature' },
    optional: null,
  });
  const signature = Buffer.from(key.sign(payload)).toString('base64');
  const blob = memoryBlob(payload);
  await uploadBlob(s, t.repository, blob, 'the signature payload');
  const tag = `${digestTag(t.manifest.digest)}.sig`;
  const existing = await readManifest(s, t.repository, tag, [MEDIA.ociManifest, MEDIA.dockerManifest]);
  const earlier = existing && Array.isArray(existing.json.layers) ? (existing.json.layers as Record<string, unknown>[]) : [];
  const layers = [...earlier, { mediaType: MEDIA.simpleSigning, size: blob.size, digest: blob.digest, annotations: { [SIGNATURE_ANNOTATION]: signature } }];
  const config = memoryBlob(encode({
    architecture: '', created: '0001-01-01T00:00:00Z', history: [{ created: '0001-01-01T00:00:00Z' }], os: '',
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) }, config: {},
  }));
  await uploadBlob(s, t.repository, config, 'the signature config');
  const manifest = { schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { mediaType: MEDIA.ociConfig, size: config.size, digest: config.digest }, layers };
  await putManifest(s, t.repository, tag, encode(manifest), MEDIA.ociManifest);
  return tag;
}

/** Signs in the Sigstore bundle layout; returns the bundle manifest's digest and where it is listed. */
export async function signBundle(s: RegistrySession, key: SigningKey, t: Target): Promise<{ digest: string; listedIn: string }> {
  const [alg, hex] = t.manifest.digest.split(':') as [string, string];
  const statement = encode({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: `${s.host}/${t.repository}`, digest: { [alg]: hex } }], predicateType: SIGN_PREDICATE, predicate: {} });
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${IN_TOTO.length} ${IN_TOTO} ${statement.byteLength} `), statement]);
  const bundle = encode({
    mediaType: MEDIA.bundle,
    verificationMaterial: { publicKey: { hint: key.hint } },
    dsseEnvelope: { payload: Buffer.from(statement).toString('base64'), payloadType: IN_TOTO, signatures: [{ sig: Buffer.from(key.sign(pae)).toString('base64') }] },
  });
  const layer = memoryBlob(bundle);
  await uploadBlob(s, t.repository, layer, 'the signature bundle');
  const empty = memoryBlob(new TextEncoder().encode('{}'));
  await uploadBlob(s, t.repository, empty, 'the empty config');
  const annotations = { 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': SIGN_PREDICATE, [CREATED]: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
  const manifest = encode({
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    artifactType: MEDIA.bundle,
    config: { mediaType: MEDIA.ociEmpty, digest: empty.digest, size: 2, data: 'e30=' },
    layers: [{ mediaType: MEDIA.bundle, digest: layer.digest, size: layer.size, annotations: { 'org.opencontainers.image.title': `${digestTag(layer.digest)}.sigstore.json` } }],
    subject: { mediaType: t.manifest.mediaType, digest: t.manifest.digest, size: t.manifest.bytes.byteLength },
    annotations,
  });
  const digest = memoryBlob(manifest).digest;
  const put = await putManifest(s, t.repository, digest, manifest, MEDIA.ociManifest);
  if (put.subjectIndexed) return { digest, listedIn: 'the referrers API' };
  const indexTag = digestTag(t.manifest.digest);
  const index = await readManifest(s, t.repository, indexTag, [MEDIA.ociIndex]);
  if (index && !Array.isArray(index.json.manifests)) throw new PublishError(`${s.host}/${t.repository}:${indexTag} is not an image index: cannot list the bundle there`);
  const entries = index ? (index.json.manifests as Record<string, unknown>[]) : [];
  entries.push({ mediaType: MEDIA.ociManifest, digest, size: manifest.byteLength, artifactType: MEDIA.bundle, annotations });
  await putManifest(s, t.repository, indexTag, encode({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: entries }), MEDIA.ociIndex);
  return { digest, listedIn: `the fallback tag ${indexTag}` };
}
