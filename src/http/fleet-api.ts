/**
 * The fleet's operator API, behind the admin token (`--admin-token` / `server.adminToken`) or an
 * operator's own token (`server.operators`; a viewer only reads), beside the read-only status API.
 * Every change is made by FleetService (the same implementation as the config file's `fleet` section
 * and the `otaflux rollout` / `otaflux device` commands) and audited with who (the operator's name;
 * with the shared admin token the `X-Operator` header, else `api`), what, when and why (`reason`).
 *
 *   GET  /api/rollouts                          rollouts with outcome counts
 *   POST /api/rollouts                          create (body: a rollout spec, README "Fleet control")
 *   POST /api/rollouts/{id}/pause|resume|advance|abort
 *   GET  /api/pins                              pins
 *   POST /api/pins                              pin an instance, a list or a stream to a version
 *   DELETE /api/pins/{id}
 *   POST /api/releases/{stream}/{version}/yank  never offered again; who got it is offered the last good one
 *   POST /api/instances/{instance}/channels     subscribe an instance to channels ({ channels: ['beta'] })
 *   GET  /api/audit                             the audit log, newest first
 *   GET  /api/fleet                             store health, check-in buffer
 *   GET  /api/versions/history?days=&points=    instances per version and stream over time
 */
import { safeDecode } from './operator-helpers.ts';
import { fleetDoc } from './route-docs.ts';
import { forbiddenForViewer, OperatorCredentials, unauthorized, type OperatorIdentity } from './admin-auth.ts';
import { Elysia } from 'elysia';
import type { Runtime } from '../runtime.ts';
import { FleetConflict, FleetNotFound, FleetUnavailable, type FleetService } from '../fleet/service.ts';
import { issuesLine, pinSpecSchema, rolloutSpecSchema } from '../fleet/spec.ts';
import { validateDeviceId } from '../core/device-id.ts';
import { errorMessage } from '../core/errors.ts';
import type { Actor } from '../fleet/store.ts';
import { boundedInt, fleetVersionHistory, HISTORY_DAYS, HISTORY_MAX_DAYS, HISTORY_POINTS } from '../dashboard/version-history.ts';

const ACTIONS = ['pause', 'resume', 'advance', 'abort'] as const;

export function fleetApi(rt: Runtime) {
  const credentials = new OperatorCredentials(rt.settings.adminToken, rt.settings.admin.operators);
  const app = new Elysia({ name: 'otaflux.fleet', prefix: '/api' });
  const fleet = rt.fleet;
  if (!credentials.configured || !fleet) return app;
  const doc = (summary: string) => ({ detail: fleetDoc(summary) });
  const actorOf = (request: Request, body: Record<string, unknown>) => actorFor(credentials.fromRequest(request), request, body);
  return app
    .onBeforeHandle(({ request }) => {
      const who = credentials.fromRequest(request);
      if (!who) return unauthorized();
      if (request.method !== 'GET' && request.method !== 'HEAD' && who.role !== 'operator') return forbiddenForViewer(who.name);
      return undefined;
    })
    .get('/rollouts', () => handled(() => fleet.rollouts()), doc('Rollouts: release, selector, ramp, gates, state, step and outcome counts'))
    .post('/rollouts', ({ request }) => withBody(request, async (body) => {
      const spec = rolloutSpecSchema.safeParse(body);
      if (!spec.success) return json({ error: `invalid rollout: ${issuesLine(spec.error)}` }, 400);
      return json(await fleet.createRollout(spec.data, actorOf(request, body)), 201);
    }), { parse: 'none', ...doc('Create a rollout (starts running unless paused: true)') })
    .post('/rollouts/:id/:action', ({ request, params }) => withBody(request, async (body) => {
      const action = params.action as (typeof ACTIONS)[number];
      if (!ACTIONS.includes(action)) return json({ error: `unknown action '${params.action}': expected ${ACTIONS.join(', ')}` }, 404);
      return json(await fleet.rolloutAction(params.id, action, actorOf(request, body)));
    }), { parse: 'none', ...doc('Pause, resume, advance (next step; after the last: done) or abort a rollout') })
    .get('/pins', () => fleet.pins(), doc('Pins'))
    .post('/pins', ({ request }) => withBody(request, async (body) => {
      const spec = pinSpecSchema.safeParse(body);
      if (!spec.success) return json({ error: `invalid pin: ${issuesLine(spec.error)}` }, 400);
      return json(await fleet.addPin(spec.data, actorOf(request, body)), 201);
    }), { parse: 'none', ...doc('Pin instances (or a whole stream) to a version') })
    .delete('/pins/:id', ({ request, params }) => withBody(request, async (body) => {
      await fleet.deletePin(params.id, actorOf(request, body));
      return new Response(null, { status: 204 });
    }), { parse: 'none', ...doc('Remove a pin') })
    .post('/releases/*', ({ request, params }) => withBody(request, async (body) => {
      const m = /^(.+)\/([^/]+)\/yank$/.exec(safeDecode(params['*']));
      if (!m) return json({ error: 'expected POST /api/releases/{stream}/{version}/yank' }, 404);
      const [, stream, version] = m as unknown as [string, string, string];
      try {
        validateDeviceId(stream, rt.settings.repositoryPrefix);
      } catch (e) {
        return json({ error: errorMessage(e) }, 400);
      }
      await fleet.yank(stream, version.replace(/^v/i, ''), actorOf(request, body));
      return json({ stream, version: version.replace(/^v/i, ''), yanked: true }, 201);
    }), { parse: 'none', ...doc('Yank a release: never offered again; instances that got it are offered the last good version') })
    .post('/instances/*', ({ request, params }) => withBody(request, async (body) => {
      const m = /^(.+)\/channels$/.exec(safeDecode(params['*']));
      const channels = (body as { channels?: unknown }).channels;
      if (!m) return json({ error: 'expected POST /api/instances/{instance}/channels' }, 404);
      if (!Array.isArray(channels) || !channels.every((c) => typeof c === 'string' && /^[a-z][a-z0-9-]*$/.test(c))) return json({ error: 'expected { "channels": ["beta"] }' }, 400);
      await fleet.setChannels(m[1] as string, channels as string[], actorOf(request, body));
      return json({ instance: m[1], channels });
    }), { parse: 'none', ...doc('Subscribe an instance to channels (prereleases such as 1.3.0-beta.2 are on channel beta)') })
    .get('/audit', ({ query }) => handled(() => fleet.audit(Math.min(1000, Number(query.limit) || 200))), doc('Audit log: who did what, when and why (newest first)'))
    .get('/fleet', () => fleet.health(), doc('Fleet store health and check-in buffer'))
    .get('/versions/history', ({ query }) => {
      const days = boundedInt(query.days, 'days', 1, HISTORY_MAX_DAYS, HISTORY_DAYS);
      const points = boundedInt(query.points, 'points', 2, 500, HISTORY_POINTS);
      if (typeof days === 'string' || typeof points === 'string') return json({ error: typeof days === 'string' ? days : points }, 400);
      return fleetVersionHistory(fleet.store, days, points);
    }, {
      detail: {
        ...fleetDoc('Version distribution over time: per stream, how many instances ran each version at `points` moments of the last `days` days (from the check-in history)'),
        parameters: [
          { name: 'days', in: 'query', required: false, description: `How many days back, 1 to ${HISTORY_MAX_DAYS} (default ${HISTORY_DAYS}); another value is a 400 naming it`, schema: { type: 'integer', minimum: 1, maximum: HISTORY_MAX_DAYS, default: HISTORY_DAYS } },
          { name: 'points', in: 'query', required: false, description: `How many moments in that window, 2 to 500 (default ${HISTORY_POINTS})`, schema: { type: 'integer', minimum: 2, maximum: 500, default: HISTORY_POINTS } },
        ],
      },
    });
}

/** The fleet's part of `GET /api/devices/{id}?instance=`: what decides for that instance, and why. */
export async function deviceFleetView(rt: Runtime, id: string, instance: string | undefined): Promise<Record<string, unknown>> {
  const fleet: FleetService | undefined = rt.fleet;
  if (!fleet) return {};
  const comp = rt.settings.composer.for(id);
  if (!comp) return { fleet: null };
  // The status API never makes the resolver fetch: only a release already resolved is explained.
  const newest = rt.resolver.snapshot().find((s) => s.device === id)?.release;
  if (!newest) return { fleet: { error: 'not resolved yet: no poll since start' } };
  try {
    return { fleet: await fleet.explain(id, comp, newest, instance || undefined) };
  } catch (e) {
    return { fleet: { error: errorMessage(e) } };
  }
}

async function withBody(request: Request, f: (body: Record<string, unknown>) => Promise<Response>): Promise<Response> {
  let body: Record<string, unknown> = {};
  const text = await request.text();
  if (text.trim() !== '') {
    try {
      const parsed = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return json({ error: 'expected a JSON object' }, 400);
      body = parsed;
    } catch {
      return json({ error: 'expected a JSON body' }, 400);
    }
  }
  return handled(() => f(body));
}

async function handled<T>(f: () => Promise<T>): Promise<T | Response> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof FleetNotFound) return json({ error: e.message }, 404);
    if (e instanceof FleetConflict) return json({ error: e.message }, 409);
    if (e instanceof FleetUnavailable) return json({ error: e.message }, 503, { 'retry-after': '5' });
    throw e;
  }
}

/**
 * Who acts: an operator's own name; with the shared admin token the `X-Operator` header (a name, not a
 * credential), else `api`. Why: `reason` in the body.
 */
function actorFor(operator: OperatorIdentity | undefined, request: Request, body: Record<string, unknown>): Actor {
  const named = operator && !operator.shared ? operator.name : undefined;
  const who = named ?? ((request.headers.get('x-operator') ?? '').slice(0, 100).trim() || 'api');
  const why = typeof body.reason === 'string' ? body.reason.slice(0, 500) : undefined;
  return { who, ...(why ? { why } : {}) };
}

function json(v: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(v), { status, headers: { 'content-type': 'application/json', ...headers } });
}


