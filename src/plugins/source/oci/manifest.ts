/**
 * Manifest media types and the checked shapes the client hands out: OCI image manifests (as
 * oras 1.0 and ≥ 1.1 push them), Docker v2 manifests, OCI image indexes and Docker manifest lists.
 */
import { assertDigest } from './digest.ts';
import { RegistryError } from './errors.ts';

export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

/** What the client asks for by default: every manifest and index kind it understands. */
export const MANIFEST_ACCEPT: readonly string[] = [MediaType.ociManifest, MediaType.ociIndex, MediaType.dockerManifest, MediaType.dockerList];

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
  urls?: string[];
}

export interface ImageManifest {
  kind: 'manifest';
  mediaType: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export function isIndexType(mediaType: string): boolean {
  return mediaType === MediaType.ociIndex || mediaType === MediaType.dockerList;
}

/** The media type of a manifest: its own field, else the Content-Type, else guessed from its fields. */
export function manifestMediaType(json: Record<string, unknown>, contentType: string | null): string {
  if (typeof json.mediaType === 'string' && json.mediaType) return json.mediaType;
  const ct = contentType?.split(';')[0]?.trim();
  if (ct && ct !== 'application/json' && ct !== 'application/octet-stream') return ct;
  return Array.isArray(json.manifests) ? MediaType.ociIndex : MediaType.ociManifest;
}

/** Checks a manifest's JSON and returns it typed; `what` prefixes errors. */
export function parseManifest(json: Record<string, unknown>, mediaType: string, what: string): ImageManifest | ImageIndex {
  if (json.schemaVersion !== 2) throw new RegistryError('bad-response', `${what}: schemaVersion ${String(json.schemaVersion)} is not supported (only 2)`);
  if (isIndexType(mediaType)) {
    if (!Array.isArray(json.manifests)) throw new RegistryError('bad-response', `${what}: index without manifests`);
    return { kind: 'index', mediaType, manifests: json.manifests.map((d, i) => descriptor(d, `${what}: manifests[${i}]`)), ...annotationsOf(json) };
  }
  if (mediaType !== MediaType.ociManifest && mediaType !== MediaType.dockerManifest) {
    throw new RegistryError('bad-response', `${what}: manifest type ${mediaType} is not supported`);
  }
  if (!Array.isArray(json.layers)) throw new RegistryError('bad-response', `${what}: manifest without layers`);
  return {
    kind: 'manifest',
    mediaType,
    ...(typeof json.artifactType === 'string' ? { artifactType: json.artifactType } : {}),
    config: descriptor(json.config, `${what}: config`),
    layers: json.layers.map((d, i) => descriptor(d, `${what}: layers[${i}]`)),
    ...(json.subject ? { subject: descriptor(json.subject, `${what}: subject`) } : {}),
    ...annotationsOf(json),
  };
}

/** Checks one descriptor (digest grammar, size) so its digest is safe to put in a URL. */
export function descriptor(raw: unknown, what: string): Descriptor {
  const d = raw as Partial<Descriptor> | null;
  if (!d || typeof d !== 'object' || typeof d.mediaType !== 'string' || typeof d.digest !== 'string' || typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw new RegistryError('bad-response', `${what}: not a descriptor (mediaType, digest, size)`);
  }
  assertDigest(d.digest, what);
  return d as Descriptor;
}

function annotationsOf(json: Record<string, unknown>): { annotations?: Record<string, string> } {
  const a = json.annotations;
  return a && typeof a === 'object' ? { annotations: a as Record<string, string> } : {};
}
