/**
 * The Elysia app: every route, with OpenAPI docs. The device listener (raw-listener.ts) answers the
 * hot device routes itself (the same functions) and hands everything else to `app.handle`.
 */
import { Elysia } from 'elysia';
import type { Runtime } from '../runtime.ts';
import { firmwareRoute, versionRoute, type DeviceReply, type DeviceRequest } from './device-api.ts';
import { harborWebhook } from './webhook-harbor.ts';
import { adminApi, readinessRoute } from './admin-api.ts';
import { apiDocs } from './api-docs.ts';
import { Readiness } from '../ops/readiness.ts';

export function createApp(rt: Runtime) {
  const deps = { devices: rt.devices, bodies: rt.bodies, events: rt.events, logger: rt.logger };
  const device = (route: typeof versionRoute) => async ({ request, server }: { request: Request; server: { requestIP?(r: Request): { address: string } | null } | null }) =>
    toResponse(await route(fromRequest(request, server?.requestIP?.(request)?.address ?? ''), deps));
  const { webhookSecret, repositoryPrefix } = rt.settings;
  const harbor = webhookSecret
    ? harborWebhook({
        secret: webhookSecret,
        prefix: repositoryPrefix,
        logger: rt.logger,
        refresh: (id) => rt.devices.refresh(id).catch((e) => rt.logger.warn('webhook refresh failed', { device: id, error: String(e) })),
      })
    : undefined;
  const readiness = new Readiness(rt);
  return new Elysia({ name: 'otaflux' })
    .get('/health', () => new Response(null, { status: 200 }), { detail: { summary: 'Liveness: 200 with an empty body' } })
    .get('/version', device(versionRoute), { detail: { summary: 'Latest version for a device: `version\\ncrc32\\nsize`' } })
    .get('/firmware', device(firmwareRoute), { detail: { summary: 'Firmware bytes for a device (Range, If-None-Match, If-Range)' } })
    .post('/webhooks/harbor', ({ request }) => (harbor ? harbor(request) : new Response('Not Found', { status: 404 })), {
      parse: 'none',
      detail: { summary: "Harbor PUSH_ARTIFACT webhook: refreshes the pushed device now (needs server.webhookSecret / --webhook-secret)" },
    })
    // Operations (issue 7): readiness, the operator API (only with an admin token), offline docs.
    .use(readinessRoute(readiness))
    .use(adminApi(rt, rt.tracker, readiness))
    .use(apiDocs());
}

export type OtaFluxApp = ReturnType<typeof createApp>;

function fromRequest(request: Request, remoteAddress: string): DeviceRequest {
  const url = new URL(request.url);
  // Names are the client's: no prototype to collide with (`constructor`, `__proto__`).
  const headers = Object.create(null) as Record<string, string>;
  request.headers.forEach((v, k) => (headers[k] = v));
  return { method: request.method, query: url.searchParams, headers, remoteAddress };
}

/** A DeviceReply as a web Response. */
export function toResponse(r: DeviceReply): Response {
  const body = r.body === null ? null : typeof r.body === 'string' || Buffer.isBuffer(r.body) ? r.body : Bun.file(r.body.path).slice(r.body.start, r.body.end + 1);
  return new Response(body, { status: r.status, headers: r.headers });
}
