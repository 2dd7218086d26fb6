/**
 * Release is what OtaFlux serves to a device: one version of one artifact, after verification
 * and extraction, with every hash of the bytes on the wire. Later features (rollouts, hawkBit DDI,
 * RAUC manifests, MQTT notices) read releases, never source internals.
 */
export interface Release {
  device: string;
  /** Normalised semver without `v`. */
  version: string;
  /** The source's name for it (`v1.2.3`). */
  tag: string;
  /** Bytes served by /firmware. */
  size: number;
  /** IEEE CRC-32 of the served bytes, unsigned. */
  crc32: number;
  /** SHA-256 of the served bytes, lowercase hex. The content-address in the cache. */
  sha256: string;
  /** Which source plugin produced it, and that source's digest of the stored artifact. */
  sourceId: string;
  sourceDigest: string;
  /** Verifier id and who vouched (`verifier.cosign key:SHA256:ab…`, `verifier.none`). */
  verifiedBy: string;
  /** Extractor ids applied, in order (`['extractor.gzip']`; `[]` or `['extractor.raw']` for raw). */
  extractors: string[];
  /** Name hint of the served file. */
  name?: string;
  /** When this release was first built (ISO 8601). */
  createdAt: string;
  /** What accepted it: a cached release is served only to a composition with the same provenance. */
  provenance?: Provenance;
}

/**
 * Provenance is what a release was accepted under. A cached copy is served (after a restart, with the
 * source down) only when the device's composition now has the same source identity and extractor
 * chain, and the same verifier identity or a verifier that accepts the stored evidence offline.
 */
export interface Provenance {
  /** The source's identity for the device (`source.oci http://host:5000/fw/dev`; the plugin id when it has none). */
  source: string;
  /** The verifier's identity when it accepted (`verifier.cosign keys=SHA256:…`, `verifier.none`). */
  verifier: string;
  /** The configured extractor chain (`auto`, or `extractor.gzip|extractor.tar(app.bin)`). */
  chain: string;
}

/** Quoted strong ETag for a release: its content hash. */
export function releaseEtag(r: Pick<Release, 'sha256'>): string {
  return `"${r.sha256}"`;
}

/** The Rust server's `/version` body: `version\ncrc32\nsize`, no trailing newline. */
export function versionBody(r: Pick<Release, 'version' | 'crc32' | 'size'>): string {
  return `${r.version}\n${r.crc32 >>> 0}\n${r.size}`;
}
