/**
 * pushFirmware publishes one file as `oras push host/repo:tag file` (oras ≥ 1.1) does: the file as
 * the only layer with its name in `org.opencontainers.image.title`, the empty config
 * (`application/vnd.oci.empty.v1+json`, `{}`), `artifactType: application/vnd.unknown.artifact.v1`,
 * and the creation time as a manifest annotation. That is the shape the OCI source reads.
 *
 * A tag that exists is refused unless `force` is set: a published version is never changed by mistake.
 * When it already holds this very file (same bytes, same media type), nothing is written and the push
 * succeeds, so a pipeline that runs again does not fail.
 */
import { basename } from 'node:path';
import type { RegistrySession } from './session.ts';
import { PublishError } from './errors.ts';
import { MEDIA, encode, putManifest, readManifest } from './manifests.ts';
import { fileBlob, memoryBlob, uploadBlob, type Progress } from './upload.ts';

export const TITLE = 'org.opencontainers.image.title';
const CREATED = 'org.opencontainers.image.created';

export interface PushRequest {
  repository: string;
  tag: string;
  file: string;
  /** Layer media type (default: oras's `application/vnd.oci.image.layer.v1.tar`). */
  mediaType?: string;
  /** Overwrite an existing tag. */
  force?: boolean;
  /** Hashing done, upload starting (size in bytes, whether the registry has the blob already). */
  onStart?: (size: number, digest: string) => void;
  progress?: Progress;
}

export interface PushResult {
  digest: string;
  size: number;
  layerDigest: string;
  /** Whether the file's bytes were sent (false when the registry had the blob). */
  uploaded: boolean;
  /** The tag already held this file: nothing was written. */
  unchanged?: boolean;
  /** The digest the tag pointed to before, when `force` replaced it. */
  replaced?: string;
}

export async function pushFirmware(s: RegistrySession, r: PushRequest): Promise<PushResult> {
  const where = `${s.host}/${r.repository}:${r.tag}`;
  const blob = await fileBlob(r.file);
  const title = basename(r.file);
  const layerType = r.mediaType ?? MEDIA.orasLayer;
  const existing = await readManifest(s, r.repository, r.tag, undefined, `checking tag ${r.tag} in ${s.host}/${r.repository}`);
  if (existing && !r.force) {
    const layers = existing.json.layers;
    const same = Array.isArray(layers) && layers.length === 1 && layers[0]?.digest === blob.digest && layers[0]?.mediaType === layerType;
    if (same) return { digest: existing.digest, size: blob.size, layerDigest: blob.digest, uploaded: false, unchanged: true };
    throw new PublishError(`${where} already exists (${existing.digest}) with other content: a published version is not overwritten; push a new version, or pass --force to replace it`);
  }
  r.onStart?.(blob.size, blob.digest);
  const uploaded = await uploadBlob(s, r.repository, blob, title, r.progress);
  const empty = memoryBlob(new TextEncoder().encode('{}'));
  await uploadBlob(s, r.repository, empty, 'the empty config');
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    artifactType: MEDIA.orasArtifact,
    config: { mediaType: MEDIA.ociEmpty, digest: empty.digest, size: 2, data: 'e30=' },
    layers: [{ mediaType: layerType, digest: blob.digest, size: blob.size, annotations: { [TITLE]: title } }],
    annotations: { [CREATED]: new Date().toISOString().replace(/\.\d+Z$/, 'Z') },
  };
  const { digest } = await putManifest(s, r.repository, r.tag, encode(manifest), MEDIA.ociManifest);
  return { digest, size: blob.size, layerDigest: blob.digest, uploaded, ...(existing ? { replaced: existing.digest } : {}) };
}
