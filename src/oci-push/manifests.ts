/**
 * Manifests by reference: read one (or learn it is absent), and put one under a tag or its digest.
 */
import type { RegistrySession } from './session.ts';
import { PublishError } from './errors.ts';
import { sha256 } from './upload.ts';

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  orasLayer: 'application/vnd.oci.image.layer.v1.tar',
  orasArtifact: 'application/vnd.unknown.artifact.v1',
  simpleSigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
  bundle: 'application/vnd.dev.sigstore.bundle.v0.3+json',
} as const;

export const ALL_MANIFESTS = [MEDIA.ociManifest, MEDIA.ociIndex, MEDIA.dockerManifest, MEDIA.dockerList];

export interface FetchedManifest {
  digest: string;
  mediaType: string;
  bytes: Uint8Array;
  json: Record<string, unknown>;
}

/** The manifest `reference` names, or null when the repository has none by that name. */
export async function readManifest(s: RegistrySession, repository: string, reference: string, accept: readonly string[] = ALL_MANIFESTS, what = `reading ${s.host}/${repository}:${reference}`): Promise<FetchedManifest | null> {
  const res = await s.send('GET', `/v2/${repository}/manifests/${reference}`, { what, repository, headers: { accept: accept.join(', ') } });
  if (res.status === 404) {
    await res.body?.cancel().catch(() => {});
    return null;
  }
  await s.expect(res, [200], what);
  const bytes = new Uint8Array(await res.arrayBuffer());
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  } catch {
    throw new PublishError(`${what}: the answer is not JSON`);
  }
  const mediaType = typeof json.mediaType === 'string' ? json.mediaType : (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
  return { digest: sha256(bytes), mediaType, bytes, json };
}

/** PUTs manifest bytes under `reference` (a tag, or their own digest); returns the digest and whether the registry took the subject. */
export async function putManifest(s: RegistrySession, repository: string, reference: string, bytes: Uint8Array, mediaType: string): Promise<{ digest: string; subjectIndexed: boolean }> {
  const what = `writing manifest ${reference} to ${s.host}/${repository}`;
  const res = await s.send('PUT', `/v2/${repository}/manifests/${reference}`, { what, repository, body: bytes, headers: { 'content-type': mediaType } });
  await s.expect(res, [201, 200, 204], what);
  await res.body?.cancel().catch(() => {});
  return { digest: sha256(bytes), subjectIndexed: res.headers.has('oci-subject') };
}

export function encode(json: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(json));
}
