/**
 * The Elysia app: every route, with OpenAPI docs. The device listener (raw-listener.ts) answers the
 * hot device routes itself (the same functions) and hands everything else to `app.handle`. The
 * operator routes (operator API, API docs, dashboard) are in it only for the operator listener
 * (src/http/admin-listener.ts), or on the device port with `--admin-on-device-port`.
 */
import { Elysia } from 'elysia';
import type { Runtime } from '../runtime.ts';
import { firmwareRoute, versionRoute, type DeviceReply, type FrontDoorRequest } from './device-api.ts';
import { harborWebhook } from './webhook-harbor.ts';
import { adminApi, readinessRoute } from './admin-api.ts';
import { apiDocs } from './api-docs.ts';
import { fleetApi } from './fleet-api.ts';
import { ddiApi } from '../protocols/ddi/ddi-api.ts';
import { Readiness } from '../ops/readiness.ts';
import { deviceFailure } from '../core/errors.ts';
import { firmwareDoc, harborWebhookDoc, healthDoc, versionDoc } from './route-docs.ts';
import { dashboard } from '../dashboard/routes.ts';

export function createApp(rt: Runtime, opts: { operatorRoutes: boolean } = { operatorRoutes: true }) {
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
  const app = new Elysia({ name: 'otaflux' })
    // Unknown routes answer as the metrics listener does: 404, `Not Found`, plain text. A route that
    // throws gets the device API's one answer to the unexpected (500 `Internal error`, the stack in
    // the log), never Elysia's default of the exception's message as the body.
    .onError(({ code, error }) => {
      if (code === 'NOT_FOUND') return notFound();
      if (code !== 'UNKNOWN' && code !== 'INTERNAL_SERVER_ERROR') return undefined;
      const failure = deviceFailure(error, rt.logger);
      return new Response(failure.body, { status: failure.status, headers: { 'content-type': 'text/plain; charset=utf-8' } });
    })
    .get('/health', () => new Response(null, { status: 200 }), { detail: healthDoc })
    .get('/version', device(versionRoute), { detail: versionDoc })
    .get('/firmware', device(firmwareRoute), { detail: firmwareDoc })
    .post('/webhooks/harbor', ({ request }) => (harbor ? harbor(request) : notFound()), {
      parse: 'none',
      detail: harborWebhookDoc,
    })
    .use(readinessRoute(readiness))
    // hawkBit DDI (only with `protocols.ddi` in the config).
    .use(ddiApi(rt, rt.settings.ddi));
  if (!opts.operatorRoutes) return app;
  // Operations: the operator API (only with operator credentials), offline docs, the dashboard.
  return app.use(adminApi(rt, rt.tracker, readiness)).use(fleetApi(rt)).use(apiDocs()).use(dashboard(rt));
}

export type OtaFluxApp = ReturnType<typeof createApp>;

/** The one body of every 404 that is not a device's (`No firmware for device …`). */
export function notFound(): Response {
  return new Response('Not Found', { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' } });
}

function fromRequest(request: Request, remoteAddress: string): FrontDoorRequest {
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
