/**
 * An example third-party source plugin, `source.url-list`: firmware published at fixed HTTP(S)
 * URLs (a CDN, a bucket, a release page), listed per device and pinned by SHA-256:
 *
 *     import { urlList } from './plugins/url-list-source.ts';
 *
 *     defaults: {
 *       source: urlList({
 *         devices: {
 *           'esp32-demo': {
 *             '1.2.0': { url: 'https://cdn.example.com/esp32-demo/1.2.0.bin', sha256: '9f86d0…' },
 *             'v1.3.0': { url: 'https://cdn.example.com/esp32-demo/1.3.0.bin.gz', sha256: '…' },
 *           },
 *         },
 *       }),
 *     }
 *
 * OtaFlux picks the highest version the device may get, downloads it once, checks the SHA-256,
 * extracts it and serves it from its cache. A URL that answers other bytes is never served.
 *
 * It imports only from 'otaflux', the public API, exactly as a plugin outside this repository
 * would: see plugins/README.md.
 */
import {
  PLUGIN_API_VERSION,
  UpstreamUnavailable,
  parseVersionTag,
  verifyDigestStream,
  type Artifact,
  type DeviceRef,
  type Logger,
  type PluginContext,
  type SourcePlugin,
  type SourceVersion,
} from 'otaflux';

/** Where one version's image is and what its bytes hash to. */
export interface UrlListEntry {
  /** `http://` or `https://` URL of the stored image (compressed or not). */
  url: string;
  /** Lowercase hex SHA-256 of the bytes at `url`, with or without a `sha256:` prefix. */
  sha256: string;
}

export interface UrlListOptions {
  /** Per device id, per version tag (`1.2.3` or `v1.2.3`): the image. */
  devices: Record<string, Record<string, UrlListEntry>>;
  /** Extra request headers, e.g. an `authorization` for a private bucket. Never logged. */
  headers?: Record<string, string>;
  /** Give up on a download that has not started answering after this long. Default 15 000 ms. */
  timeoutMs?: number;
}

const SHA256 = /^(sha256:)?[0-9a-f]{64}$/;

/** The factory: checks the options at once (a mistake shows when the config is loaded). */
export function urlList(options: UrlListOptions): SourcePlugin {
  if (!options || typeof options.devices !== 'object' || options.devices === null) {
    throw new TypeError("urlList(): pass the images per device, e.g. urlList({ devices: { 'esp32-demo': { '1.0.0': { url, sha256 } } } })");
  }
  const table = new Map<string, Map<string, { version: string; url: URL; digest: string }>>();
  for (const [device, versions] of Object.entries(options.devices)) {
    const byTag = new Map<string, { version: string; url: URL; digest: string }>();
    for (const [tag, entry] of Object.entries(versions)) {
      const where = `urlList(): devices[${JSON.stringify(device)}][${JSON.stringify(tag)}]`;
      const parsed = parseVersionTag(tag);
      if (!parsed) throw new TypeError(`${where}: expected a semver version such as 1.2.3 or v1.2.3 as the key`);
      let url: URL;
      try {
        url = new URL(entry?.url);
      } catch {
        throw new TypeError(`${where}.url: expected an http:// or https:// URL`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`${where}.url: expected an http:// or https:// URL, got ${url.protocol}`);
      const hex = typeof entry.sha256 === 'string' ? entry.sha256.toLowerCase() : '';
      if (!SHA256.test(hex)) throw new TypeError(`${where}.sha256: expected 64 hex digits (the SHA-256 of the bytes at the URL)`);
      byTag.set(tag, { version: parsed.version, url, digest: hex.startsWith('sha256:') ? hex : `sha256:${hex}` });
    }
    table.set(device, byTag);
  }
  const timeoutMs = options.timeoutMs ?? 15_000;
  let logger: Logger | undefined;
  let shutdown: AbortSignal | undefined;

  /** A URL fit for logs and errors: no credentials, no query string (it may hold a signature). */
  const shown = (u: URL) => `${u.protocol}//${u.host}${u.pathname}`;

  return {
    kind: 'source',
    id: 'source.url-list',
    apiVersion: PLUGIN_API_VERSION,

    setup(ctx: PluginContext) {
      logger = ctx.logger;
      shutdown = ctx.signal;
      const versions = [...table.values()].reduce((n, m) => n + m.size, 0);
      logger.info('url list loaded', { devices: table.size, versions });
    },

    validate() {
      if (table.size === 0) throw new Error('no devices listed: add at least one device with one version');
    },

    async versions(device: DeviceRef): Promise<SourceVersion[]> {
      const byTag = table.get(device.id);
      return byTag ? [...byTag].map(([tag, e]) => ({ version: e.version, tag })) : [];
    },

    async resolve(device: DeviceRef, v: SourceVersion): Promise<Artifact> {
      const e = table.get(device.id)?.get(v.tag);
      if (!e) throw new Error(`device ${device.id} has no version ${v.tag} in the url list`);
      const name = e.url.pathname.split('/').pop() || undefined;
      return {
        version: e.version,
        tag: v.tag,
        digest: e.digest,
        ...(name ? { name } : {}),
        meta: { url: shown(e.url) },
        async open(signal?: AbortSignal) {
          const signals = [AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : []), ...(shutdown ? [shutdown] : [])];
          let res: Response;
          try {
            res = await fetch(e.url, { headers: options.headers ?? {}, signal: AbortSignal.any(signals), redirect: 'follow' });
          } catch (err) {
            throw new UpstreamUnavailable(`fetching ${shown(e.url)}: ${err instanceof Error ? err.message : String(err)}`);
          }
          if (res.status >= 500) throw new UpstreamUnavailable(`fetching ${shown(e.url)}: ${res.status} ${res.statusText}`.trim());
          if (res.status !== 200 || !res.body) throw new Error(`fetching ${shown(e.url)}: ${res.status} ${res.statusText}`.trim());
          logger?.debug('downloading', { device: device.id, version: e.version, url: shown(e.url) });
          return verifyDigestStream(res.body, e.digest, shown(e.url));
        },
      };
    },
  };
}
