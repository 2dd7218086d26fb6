/**
 * `source.oci` serves firmware pushed to an OCI registry (`oras push host/prefix/device:1.2.3 fw.bin`):
 * Harbor, GHCR, a CNCF distribution registry, anything speaking the distribution API.
 *
 *     oci({ url: 'registry.example.com', prefix: 'firmware', username, password })
 *
 * - Repository of a device: `{prefix}/{device}` (`{device}` when the prefix is empty).
 * - Versions: the semver tags (`1.2.3`, `v1.2.3` reported as `1.2.3`); other tags are ignored.
 *   A repository the registry does not know is `FirmwareNotFound` naming it (devices get 404; the log
 *   and `otaflux inspect` show the repository path, so a wrong prefix is visible).
 * - `resolve()` pins the tag to its manifest digest once; everything after is fetched by digest
 *   and verified, so a tag moved meanwhile never mixes content. An image index is narrowed to one
 *   entry (`platform`, `annotations`), then one layer is chosen (`layer.title`, `layer.mediaType`,
 *   else the only one). A device's config `options` may set `layer`, `platform` and `annotations`
 *   too; they win over the plugin's.
 * - `artifact.digest` is the manifest digest the tag pointed to; `artifact.meta.oci` is
 *   `{ client, registry, repository, manifestDigest, platformManifestDigest?, layerDigest }` for
 *   verifiers (`client` is the RegistryClient documented in client.ts).
 * - Unreachable registry, timeouts, 5xx: UpstreamUnavailable, so the core keeps serving its last good
 *   copy. 401/403/404 and bad content: RegistryError with a message naming registry and repository;
 *   credentials refused, access denied, TLS trust and plain-HTTP answers are marked `sourceUnavailable`
 *   (503 like an unreachable registry) and carry a `summary` naming the flag to change.
 * - At debug level: each registry request, and the tags each listing found and ignored.
 */
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { PLUGIN_API_VERSION, type Artifact, type DeviceRef, type Logger, type PluginContext, type ResolveOptions, type SourcePlugin, type SourceVersion } from '../../../plugin.ts';
import { FirmwareNotFound, parseVersionTag } from '../../../sdk/index.ts';
import { RegistryClient } from './client.ts';
import { RegistryError, isRegistryError } from './errors.ts';
import { MANIFEST_ACCEPT, parseManifest, type Platform } from './manifest.ts';
import { parseRegistryUrl } from './registry-url.ts';
import { normalisePrefix, repositoryFor } from './repository.ts';
import { TITLE, selectEntry, selectLayer, type EntrySelector, type LayerSelector } from './select.ts';

export { RegistryClient } from './client.ts';
export type { ManifestResult, RegistryClientOptions } from './client.ts';
export { RegistryError } from './errors.ts';
export type { Descriptor } from './manifest.ts';

export interface OciOptions {
  /** `host:port`, `https://host` or `http://host:port`. */
  url: string;
  /** Plain HTTP when `url` has no scheme (the Rust server's `--registry-insecure`). */
  insecure?: boolean;
  /** Repository prefix: `firmware` → `firmware/<device>`; `''` for none. */
  prefix: string;
  /** Optional: anonymous pulls work without. */
  username?: string;
  password?: string;
  /** PEM file of the CA that signed the registry's certificate (relative: to the config file). */
  caFile?: string;
  /** Image index entry: `os/architecture[/variant]`. */
  platform?: string | Partial<Platform>;
  /** Image index entry: annotations it must carry. */
  annotations?: Record<string, string>;
  /** Which layer holds the firmware when a manifest has several. */
  layer?: LayerSelector;
  /** Milliseconds until response headers and between body chunks (default 10 000). */
  timeoutMs?: number;
  /** Extra attempts after connection errors, timeouts, 5xx, 429 (default 2). */
  retries?: number;
}

/** What `artifact.meta.oci` holds. */
export interface OciArtifactMeta {
  client: RegistryClient;
  /** `host[:port]` */
  registry: string;
  repository: string;
  /** What the tag pointed to (an image manifest or an index). */
  manifestDigest: string;
  /** The image manifest chosen from an index, when the tag pointed to one. */
  platformManifestDigest?: string;
  layerDigest: string;
}

const MAX_INDEX_DEPTH = 3;

export function oci(options: OciOptions): SourcePlugin {
  if (!options || typeof options.url !== 'string') throw new TypeError("oci(): pass the registry, e.g. oci({ url: 'registry.example.com', prefix: 'firmware' })");
  if (typeof options.prefix !== 'string') throw new TypeError("oci(): pass the repository prefix, e.g. prefix: 'firmware' ('' for none)");
  parseRegistryUrl(options.url, options.insecure);
  const prefix = normalisePrefix(options.prefix);
  checkSelectors(options, 'oci()');
  let client: RegistryClient | undefined;
  let logger: Logger | undefined;
  let configDir = process.cwd();

  function clientFor(): RegistryClient {
    if (client) return client;
    const ca = options.caFile ? readFileSync(resolvePath(configDir, options.caFile), 'utf8') : undefined;
    client = new RegistryClient({
      url: options.url,
      ...(options.insecure !== undefined ? { insecure: options.insecure } : {}),
      ...(options.username !== undefined ? { username: options.username } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...(ca ? { ca } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.retries !== undefined ? { retries: options.retries } : {}),
      ...(logger ? { logger } : {}),
    });
    return client;
  }

  return {
    kind: 'source',
    id: 'source.oci',
    apiVersion: PLUGIN_API_VERSION,

    setup(ctx: PluginContext) {
      configDir = ctx.configDir;
      logger = ctx.logger;
      if (options.caFile) {
        const path = resolvePath(configDir, options.caFile);
        try {
          readFileSync(path, 'utf8');
        } catch {
          throw new Error(`registry CA file ${path} cannot be read`);
        }
      }
      clientFor();
    },

    /** Checks the registry answers; a registry down at start-up is only a warning (cached copies still serve). */
    async validate() {
      const c = clientFor();
      try {
        const status = await c.ping(AbortSignal.timeout(3000));
        if (status !== 200) logger?.warn('registry answers GET /v2/ unexpectedly', { registry: c.registry, status });
      } catch (e) {
        const level = isRegistryError(e, 'unauthorized') || isRegistryError(e, 'tls') ? 'error' : 'warn';
        logger?.[level]('registry check failed at start-up', { registry: c.registry, error: (e as Error).message });
      }
    },

    /** Registry origin and repository: a release cached from one registry is never served as another's. */
    identity(device: DeviceRef): string {
      return `source.oci ${parseRegistryUrl(options.url, options.insecure).origin}/${repositoryFor(prefix, device.id)}`;
    },

    async versions(device: DeviceRef, signal?: AbortSignal): Promise<SourceVersion[]> {
      const repository = repositoryFor(prefix, device.id);
      const c = clientFor();
      let tags: string[];
      try {
        tags = await c.listTags(repository, signal);
      } catch (e) {
        if (isRegistryError(e, 'not-found')) throw missingRepository(c.registry, repository, e.message);
        throw e;
      }
      const versions: SourceVersion[] = [];
      const ignored: string[] = [];
      for (const tag of tags) {
        const v = parseVersionTag(tag);
        if (v) versions.push(v);
        else ignored.push(tag);
      }
      // Ignored tags (`latest`, cosign's `sha256-….sig`) are not semver.
      logger?.debug('tags listed', { device: device.id, repository, tags: tags.length, versions: versions.slice(0, 50).map((v) => v.tag), ignoredNotSemver: ignored.slice(0, 20) });
      return versions;
    },

    async resolve(device: DeviceRef, version: SourceVersion, opts: ResolveOptions = {}): Promise<Artifact> {
      const { signal } = opts;
      const c = clientFor();
      const repository = repositoryFor(prefix, device.id);
      const where = `${c.registry}/${repository}:${version.tag}`;
      const deviceSel = deviceSelectors(device);
      const entrySel: EntrySelector = {
        ...(deviceSel.platform ?? options.platform ? { platform: deviceSel.platform ?? options.platform } : {}),
        ...(deviceSel.annotations ?? options.annotations ? { annotations: deviceSel.annotations ?? options.annotations } : {}),
      };
      const layerSel: LayerSelector = deviceSel.layer ?? options.layer ?? {};

      const top = await c.getManifest(repository, version.tag, MANIFEST_ACCEPT, signal);
      let manifest = parseManifest(top.json, top.mediaType, where);
      let platformManifestDigest: string | undefined;
      for (let depth = 0; manifest.kind === 'index'; depth++) {
        if (depth >= MAX_INDEX_DEPTH) throw new RegistryError('bad-response', `${where}: image indexes nested deeper than ${MAX_INDEX_DEPTH}`);
        const entry = selectEntry(manifest.manifests, entrySel, where);
        const child = await c.getManifest(repository, entry.digest, MANIFEST_ACCEPT, signal);
        if (child.bytes.byteLength !== entry.size) throw new RegistryError('digest-mismatch', `${where}: manifest ${entry.digest} has ${child.bytes.byteLength} bytes, the index declares ${entry.size}`);
        manifest = parseManifest(child.json, child.mediaType, `${where} (${entry.digest})`);
        platformManifestDigest = child.digest;
      }
      const layer = selectLayer(manifest.layers, layerSel, where);
      const meta: OciArtifactMeta = {
        client: c,
        registry: c.registry,
        repository,
        manifestDigest: top.digest,
        ...(platformManifestDigest ? { platformManifestDigest } : {}),
        layerDigest: layer.digest,
      };
      const title = layer.annotations?.[TITLE];
      return {
        version: version.version,
        tag: version.tag,
        digest: top.digest,
        ...(title ? { name: title } : {}),
        mediaType: layer.mediaType,
        size: layer.size,
        // openBlob errors at the end unless the bytes match the layer digest.
        ...(layer.digest.startsWith('sha256:') ? { contentDigest: layer.digest } : {}),
        meta: { oci: meta },
        open: (openSignal?: AbortSignal) => c.openBlob(repository, layer.digest, { size: layer.size, ...(openSignal ? { signal: openSignal } : {}) }),
      };
    },
  };
}

/** A repository the registry does not have: the path is named so a wrong prefix shows. */
function missingRepository(registry: string, repository: string, message: string): FirmwareNotFound {
  const unknown = /name_unknown/.test(message);
  const detail = unknown
    ? `repository ${repository} does not exist on ${registry} (tags/list: 404 name_unknown)`
    : `${registry} answered 404 to the tag list of ${repository}`;
  return new FirmwareNotFound(detail, 'repository not found in the registry: check --repository-prefix');
}

/** The index/layer selectors a device's config `options` carries, checked. */
function deviceSelectors(device: DeviceRef): { layer?: LayerSelector; platform?: string | Partial<Platform>; annotations?: Record<string, string> } {
  const o = device.options ?? {};
  const picked = {
    ...(o.layer !== undefined ? { layer: o.layer as LayerSelector } : {}),
    ...(o.platform !== undefined ? { platform: o.platform as string | Partial<Platform> } : {}),
    ...(o.annotations !== undefined ? { annotations: o.annotations as Record<string, string> } : {}),
  };
  checkSelectors(picked, `options of device '${device.id}'`);
  return picked;
}

function checkSelectors(o: { layer?: unknown; platform?: unknown; annotations?: unknown }, where: string): void {
  if (o.layer !== undefined) {
    const l = o.layer as Record<string, unknown>;
    if (!l || typeof l !== 'object' || Object.keys(l).some((k) => k !== 'title' && k !== 'mediaType') || Object.values(l).some((v) => typeof v !== 'string')) {
      throw new TypeError(`${where}: layer must be { title?: string, mediaType?: string }`);
    }
  }
  if (o.platform !== undefined && typeof o.platform !== 'string' && (typeof o.platform !== 'object' || o.platform === null)) {
    throw new TypeError(`${where}: platform must be 'os/architecture[/variant]' or { os, architecture, variant }`);
  }
  if (o.annotations !== undefined && (typeof o.annotations !== 'object' || o.annotations === null || Object.values(o.annotations).some((v) => typeof v !== 'string'))) {
    throw new TypeError(`${where}: annotations must map names to strings`);
  }
}
