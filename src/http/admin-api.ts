/**
 * The operator API: read-only JSON under `/api`, behind `Authorization: Bearer <admin token>`
 * (`--admin-token` / `server.adminToken`) or an operator's own token (`server.operators`). Without
 * any configured, none of it exists (404).
 * Also `GET /ready` (public readiness: check names and results only; details are in `/api/ready`).
 *
 *   GET /api/status            uptime, devices seen, cache size
 *   GET /api/devices           every device polled or resolved: last poll, version, source digest
 *   GET /api/devices/{id}      composition, resolved release, activity, and why (chosen/refused)
 *   GET /api/releases          releases built into the cache
 *   GET /api/ready             readiness with details
 */
import { safeDecode } from './operator-helpers.ts';
import { OperatorCredentials, unauthorized } from './admin-auth.ts';
import { Elysia } from 'elysia';
import type { Runtime } from '../runtime.ts';
import type { DeviceTracker } from '../ops/device-tracker.ts';
import { Readiness } from '../ops/readiness.ts';
import { Status } from '../ops/status.ts';
import { adminDocs, readyDoc } from './route-docs.ts';
import { deviceFleetView } from './fleet-api.ts';

/** `GET /ready`, public: 200 when ready, 503 otherwise; body lists each check's name and result. */
export function readinessRoute(readiness: Readiness) {
  return new Elysia({ name: 'otaflux.ready' }).get(
    '/ready',
    async () => {
      const r = await readiness.check();
      return Response.json({ ready: r.ready, checks: r.checks.map(({ name, ok }) => ({ name, ok })) }, { status: r.ready ? 200 : 503 });
    },
    { detail: readyDoc },
  );
}

export function adminApi(rt: Runtime, tracker: DeviceTracker, readiness: Readiness) {
  const credentials = new OperatorCredentials(rt.settings.adminToken, rt.settings.admin.operators);
  const app = new Elysia({ name: 'otaflux.admin', prefix: '/api' });
  if (!credentials.configured) return app;
  const status = new Status(rt, tracker);
  return app
    .onBeforeHandle(({ request }) => (credentials.fromRequest(request) ? undefined : unauthorized()))
    .get('/status', () => status.summary(), { detail: adminDocs.status })
    .get('/devices', () => status.devices(), { detail: adminDocs.devices })
    .get(
      '/devices/*',
      async ({ params, query }) => {
        const id = safeDecode(params['*']);
        return { ...status.device(id), ...(await deviceFleetView(rt, id, typeof query.instance === 'string' ? query.instance : undefined)) };
      },
      { detail: adminDocs.device },
    )
    .get('/releases', () => status.releases(), { detail: adminDocs.releases })
    .get('/ready', async () => {
      const r = await readiness.check();
      return Response.json(r, { status: r.ready ? 200 : 503 });
    }, { detail: adminDocs.ready });
}


