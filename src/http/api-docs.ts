/**
 * OpenAPI docs: the spec at `/docs/json` and a Swagger UI page at `/docs` (@elysiajs/openapi).
 * The page works offline (gateways, air-gapped sites): its script and stylesheet come from the
 * `swagger-ui-dist` package, embedded in the compiled binary by `with { type: 'file' }` and served
 * under `/docs/assets/`, instead of the public CDN the plugin uses by default.
 */
import { Elysia } from 'elysia';
import { openapi } from '@elysiajs/openapi';
import bundlePath from 'swagger-ui-dist/swagger-ui-bundle.js' with { type: 'file' };
import cssPath from 'swagger-ui-dist/swagger-ui.css' with { type: 'file' };
import pkg from '../../package.json' with { type: 'json' };

const ASSETS = '/docs/assets';
const ASSET_FILES: Record<string, { path: string; type: string }> = {
  'swagger-ui-bundle.js': { path: bundlePath, type: 'text/javascript; charset=utf-8' },
  'swagger-ui.css': { path: cssPath, type: 'text/css; charset=utf-8' },
};

export function apiDocs(version: string = pkg.version) {
  return new Elysia({ name: 'otaflux.docs' })
    .get(`${ASSETS}/:file`, ({ params }) => {
      const asset = ASSET_FILES[params.file];
      if (!asset) return new Response('Not Found', { status: 404 });
      return new Response(Bun.file(asset.path), { headers: { 'content-type': asset.type, 'cache-control': 'public, max-age=86400' } });
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
