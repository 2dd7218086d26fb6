/**
 * OpenAPI docs: the spec at `/docs/json` and a Swagger UI page at `/docs` (@elysiajs/openapi).
 * The page works offline (gateways, air-gapped sites): its script and stylesheet come from the
 * `swagger-ui-dist` package, embedded in the compiled binary by `with { type: 'file' }` and served
 * under `/docs/assets/`, instead of the public CDN the plugin uses by default.
 *
 * The assets are read into memory once, on first use, and every answer shares that copy (the device
 * listener writes them itself, like firmware, so a client that stops reading holds a reference to
 * the shared bytes, not a copy of 1.7 MB). Names are looked up in a Map: a request for
 * `/docs/assets/constructor` or `__proto__` is a 404 like any other unknown name.
 */
import { Elysia } from 'elysia';
import { openapi } from '@elysiajs/openapi';
import bundlePath from 'swagger-ui-dist/swagger-ui-bundle.js' with { type: 'file' };
import cssPath from 'swagger-ui-dist/swagger-ui.css' with { type: 'file' };
import pkg from '../../package.json' with { type: 'json' };

export const DOCS_ASSETS_PREFIX = '/docs/assets/';
const ASSETS = '/docs/assets';
const ASSET_FILES = new Map<string, { path: string; type: string }>([
  ['swagger-ui-bundle.js', { path: bundlePath, type: 'text/javascript; charset=utf-8' }],
  ['swagger-ui.css', { path: cssPath, type: 'text/css; charset=utf-8' }],
]);
const loaded = new Map<string, Promise<DocsAsset>>();

export interface DocsAsset {
  bytes: Buffer;
  headers: Record<string, string>;
}

/** The asset named `file` (read once, then shared), or undefined when there is no such asset. */
export function docsAsset(file: string): Promise<DocsAsset> | undefined {
  const entry = ASSET_FILES.get(file);
  if (!entry) return undefined;
  let asset = loaded.get(file);
  if (!asset) {
    asset = Bun.file(entry.path).bytes().then((b) => ({
      bytes: Buffer.from(b.buffer, b.byteOffset, b.byteLength),
      headers: { 'content-type': entry.type, 'cache-control': 'public, max-age=86400', 'content-length': String(b.byteLength) },
    }));
    // A failed read is not remembered: the next request tries again.
    asset.catch(() => loaded.delete(file));
    loaded.set(file, asset);
  }
  return asset;
}

export function apiDocs(version: string = pkg.version) {
  return new Elysia({ name: 'otaflux.docs' })
    .get(`${ASSETS}/:file`, async ({ params }) => {
      const asset = docsAsset(params.file);
      if (!asset) return new Response('Not Found', { status: 404 });
      const { bytes, headers } = await asset;
      return new Response(bytes, { headers });
    }, { detail: { hide: true } })
    .use(
      openapi({
        path: '/docs',
        specPath: '/docs/json',
        provider: 'swagger-ui',
        // validatorUrl 'none' keeps the page from calling the public spec validator.
        swagger: { cdn: `${ASSETS}/swagger-ui-bundle.js`, theme: `${ASSETS}/swagger-ui.css`, autoDarkMode: false, validatorUrl: 'none' },
        documentation: {
          info: {
            title: 'OtaFlux',
            version,
            description: 'Device API (`/version`, `/firmware`), probes (`/health`, `/ready`), webhooks, and the read-only operator API (`/api`, Bearer admin token).',
          },
          components: { securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: 'The admin token (--admin-token)' } } },
        },
      }),
    );
}
