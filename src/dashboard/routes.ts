/**
 * The dashboard under `/ui` on the operator listener: sign-in with a token (the admin token or an
 * operator's own), a session cookie, CSRF protection on every change (the session's token in a
 * hidden field, and the request's `Origin`/`Referer` naming this host), and the pages. Every change
 * goes through FleetService, as the API and the CLI do, and is audited with the operator's name.
 *
 *   GET  /ui/login, POST /ui/login, POST /ui/logout
 *   GET  /ui/fleet, /ui/device?instance=, /ui/releases, /ui/rollouts, /ui/audit
 *   POST /ui/releases/upload | yank | pin, /ui/pins/delete, /ui/rollouts, /ui/rollouts/action
 *   GET  /ui/assets/style.css, /ui/assets/app.js
 */
import { Elysia } from 'elysia';
import type { Runtime } from '../runtime.ts';
import { OperatorCredentials } from '../http/admin-auth.ts';
import { dashboardDoc } from '../http/route-docs.ts';
import { FleetConflict, FleetNotFound, FleetUnavailable } from '../fleet/service.ts';
import { issuesLine, pinSpecSchema, rolloutSpecSchema } from '../fleet/spec.ts';
import { errorMessage } from '../core/errors.ts';
import { SCRIPT, STYLE } from './assets.ts';
import { BASE, page, refused, seeOther } from './layout.ts';
import { html } from './html.ts';
import { cookieValue, csrfMatches, sameOrigin, SESSION_COOKIE, sessionCookie, Sessions, SessionsUnavailable, type Session } from './sessions.ts';
import { MemorySessionRows } from './memory-session-rows.ts';
import { loginPage } from './pages/login.ts';
import { fleetPage } from './pages/fleet.ts';
import { devicePage } from './pages/device.ts';
import { releasesPage, sourceVersions } from './pages/releases.ts';
import { rolloutsPage } from './pages/rollouts.ts';
import { auditPage } from './pages/audit.ts';
import { saveUpload, UploadRefused } from './upload.ts';

/** The form a request carries (Bun's FormData; the DOM lib's type differs in its iterators). */
type Form = Awaited<ReturnType<Request['formData']>>;

const hidden = { detail: { hide: true } };
const asset = (body: string, type: string) => () => new Response(body, { headers: { 'content-type': type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' } });

export function dashboard(rt: Runtime) {
  const credentials = new OperatorCredentials(rt.settings.adminToken, rt.settings.admin.operators);
  const app = new Elysia({ name: 'otaflux.dashboard' });
  if (!credentials.configured) return app;
  const fleet = rt.fleet;
  // In the fleet store when there is one: sessions then outlive a restart and work on every replica.
  const sessions = new Sessions(fleet ? fleet.store.sessions : new MemorySessionRows(), credentials);
  sessions.purge().catch((e: unknown) => rt.logger.warn('expired dashboard sessions not purged', { error: errorMessage(e) }));
  const secure = (request: Request) => new URL(request.url).protocol === 'https:';
  /** A handler whose session store may fail: the operator gets a short 503 page, never a stack trace. */
  const guarded = <C extends { request: Request }>(handle: (ctx: C) => Promise<Response>) => async (ctx: C): Promise<Response> => {
    try {
      return await handle(ctx);
    } catch (e) {
      if (!(e instanceof SessionsUnavailable)) throw e;
      rt.logger.warn('dashboard session store unavailable', { error: e.message });
      return refused(503, 'The fleet store, where sessions are kept, does not answer: try again in a moment.');
    }
  };
  const sessionOf = (request: Request) => sessions.get(cookieValue(request.headers.get('cookie'), SESSION_COOKIE));
  const noFleet = (session: Session) => page('Fleet control is off', '', session, html`<h1>Fleet control is off</h1><p>Set <code>fleet.enabled</code> (the default) to see instances, rollouts and the audit log.</p>`);

  /** A GET page: signed in, or off to the sign-in page. */
  const view = (render: (s: Session, request: Request) => Promise<Response> | Response) => guarded(async ({ request }: { request: Request }) => {
    const s = await sessionOf(request);
    return s ? render(s, request) : seeOther(`${BASE}/login`);
  });

  /**
   * A change: a session, a form from this origin carrying the session's CSRF token, the operator role.
   * The result is a flash message on the page it returns to.
   */
  const change = (back: string, act: (form: Form, s: Session) => Promise<string>) => guarded(async ({ request }: { request: Request }) => {
    const s = await sessionOf(request);
    if (!s) return refused(401, 'Not signed in, or the session expired: sign in again.');
    if (!sameOrigin(request)) return refused(403, 'Refused: the form was not sent from this site (Origin check).');
    let form: Form;
    try {
      form = await request.formData();
    } catch {
      return refused(400, 'Expected a form.');
    }
    if (!csrfMatches(s, form.get('_csrf'))) return refused(403, 'Refused: the form has no valid CSRF token; reload the page and try again.');
    if (s.operator.role !== 'operator') return refused(403, `Refused: ${s.operator.name} is a viewer; changes need the operator role.`);
    try {
      await sessions.flash(s, { kind: 'ok', text: await act(form, s) });
    } catch (e) {
      if (!(e instanceof UploadRefused || e instanceof FleetConflict || e instanceof FleetNotFound || e instanceof FleetUnavailable || e instanceof FormError)) throw e;
      await sessions.flash(s, { kind: 'error', text: errorMessage(e) });
    }
    return seeOther(`${BASE}/${back}`);
  });
  const actor = (s: Session, form: Form) => {
    const why = field(form, 'reason');
    return { who: s.operator.name, ...(why ? { why } : {}) };
  };
  const needFleet = () => {
    if (!fleet) throw new FormError('fleet control is off (fleet.enabled)');
    return fleet;
  };

  return app
    .get('/', () => seeOther(`${BASE}/fleet`), hidden)
    .get(BASE, () => seeOther(`${BASE}/fleet`), hidden)
    .get(`${BASE}/assets/style.css`, asset(STYLE, 'text/css; charset=utf-8'), hidden)
    .get(`${BASE}/assets/app.js`, asset(SCRIPT, 'text/javascript; charset=utf-8'), hidden)
    .get(`${BASE}/login`, guarded(async ({ request }) => ((await sessionOf(request)) ? seeOther(`${BASE}/fleet`) : loginPage())), { detail: dashboardDoc('Sign-in page', 'page') })
    .post(`${BASE}/login`, guarded(async ({ request }) => {
      if (!sameOrigin(request)) return refused(403, 'Refused: the sign-in form was not sent from this site (Origin check).');
      const form = await request.formData().catch(() => undefined);
      const token = form ? field(form, 'token') : '';
      const who = token ? credentials.identify(token) : undefined;
      if (!who) {
        rt.logger.warn('dashboard sign-in refused', { remote: request.headers.get('x-forwarded-for') ?? undefined });
        return loginPage('That token is not an operator token here.', 401);
      }
      const s = await sessions.open(who);
      rt.logger.info('dashboard sign-in', { operator: who.name, role: who.role });
      return seeOther(`${BASE}/fleet`, { 'set-cookie': sessionCookie(s, secure(request)) });
    }), { parse: 'none', detail: dashboardDoc('Sign in with a token (form field `token`); sets the session cookie', 'change') })
    .post(`${BASE}/logout`, guarded(async ({ request }) => {
      const s = await sessionOf(request);
      if (s) {
        const form = await request.formData().catch(() => undefined);
        if (!sameOrigin(request) || !form || !csrfMatches(s, form.get('_csrf'))) return refused(403, 'Refused: the sign-out form was not sent from this site.');
        await sessions.close(s.id);
      }
      return seeOther(`${BASE}/login`, { 'set-cookie': sessionCookie(undefined, secure(request)) });
    }), { parse: 'none', detail: dashboardDoc('Sign out (ends the session)', 'change') })
    .get(`${BASE}/fleet`, view((s, request) => (fleet ? fleetPage(fleet, s, new URL(request.url).searchParams) : noFleet(s))), { detail: dashboardDoc('Fleet: instances with search (`q`), filters (`stream`, `version`, `outcome`) and paging (`page`)', 'page') })
    .get(`${BASE}/device`, view((s, request) => (fleet ? devicePage(rt, fleet, s, new URL(request.url).searchParams) : noFleet(s))), { detail: dashboardDoc('One instance (`instance`): check-ins, outcomes, what it is offered and why', 'page') })
    .get(`${BASE}/releases`, view((s) => releasesPage(rt, fleet, s)), { detail: dashboardDoc('Releases per stream: versions, verification, hashes, size, channel; pins', 'page') })
    .get(`${BASE}/rollouts`, view((s, request) => (fleet ? rolloutsPage(fleet, s, new URL(request.url).searchParams) : noFleet(s))), { detail: dashboardDoc('Rollouts: ramp, outcomes, version distribution now and over time (`days`: 1 to 30, default 7)', 'page') })
    .get(`${BASE}/audit`, view((s) => (fleet ? auditPage(fleet, s) : noFleet(s))), { detail: dashboardDoc('Audit log', 'page') })
    .post(`${BASE}/releases/upload`, change('releases', async (form, s) => {
      const file = form.get('file');
      if (!(file instanceof File)) throw new FormError('choose a firmware file');
      const stream = field(form, 'stream');
      const up = await saveUpload(rt.settings, stream, field(form, 'version'), file, (id) => sourceVersions(rt, id));
      rt.resolver.invalidate(stream);
      await fleet?.store.record(actor(s, form), 'release.upload', `${up.stream}@${up.version}`, { size: up.size, sha256: up.sha256, crc32: up.crc32, file: file.name });
      rt.logger.info('release uploaded', { operator: s.operator.name, stream: up.stream, version: up.version, size: up.size, sha256: up.sha256 });
      return `Uploaded ${up.stream} ${up.version}: ${up.size} bytes, SHA-256 ${up.sha256}, CRC-32 ${up.crc32}`;
    }), { parse: 'none', detail: dashboardDoc('Upload a release into a local folder source (multipart: `stream`, `version`, `file`)', 'change') })
    .post(`${BASE}/releases/yank`, change('releases', async (form, s) => {
      const stream = field(form, 'stream');
      const version = field(form, 'version').replace(/^v/i, '');
      await needFleet().yank(stream, version, actor(s, form));
      return `Yanked ${stream} ${version}: never offered again`;
    }), { parse: 'none', detail: dashboardDoc('Yank a release (`stream`, `version`)', 'change') })
    .post(`${BASE}/releases/pin`, change('releases', async (form, s) => {
      const instances = list(field(form, 'instances'));
      const spec = pinSpecSchema.safeParse({ stream: field(form, 'stream'), version: field(form, 'version'), ...(instances.length ? { instances } : {}) });
      if (!spec.success) throw new FormError(`invalid pin: ${issuesLine(spec.error)}`);
      const p = await needFleet().addPin(spec.data, actor(s, form));
      return `Pinned ${p.stream} to ${p.version} (${p.instances.length ? p.instances.join(', ') : 'the whole stream'}) as ${p.id}`;
    }), { parse: 'none', detail: dashboardDoc('Pin a stream or instances to a version (`stream`, `version`, `instances`)', 'change') })
    .post(`${BASE}/pins/delete`, change('releases', async (form, s) => {
      await needFleet().deletePin(field(form, 'id'), actor(s, form));
      return `Removed pin ${field(form, 'id')}`;
    }), { parse: 'none', detail: dashboardDoc('Remove a pin (`id`)', 'change') })
    .post(`${BASE}/rollouts`, change('rollouts', async (form, s) => {
      const soak = Number(field(form, 'soak') || '0');
      const canary = list(field(form, 'canary'));
      const spec = rolloutSpecSchema.safeParse({
        streams: list(field(form, 'streams')),
        version: field(form, 'version'),
        steps: list(field(form, 'steps')).map((p) => ({ percent: Number(p), ...(soak > 0 ? { soak } : {}) })),
        ...(canary.length ? { canary } : {}),
        ...(field(form, 'reason') ? { reason: field(form, 'reason') } : {}),
      });
      if (!spec.success) throw new FormError(`invalid rollout: ${issuesLine(spec.error)}`);
      const r = await needFleet().createRollout(spec.data, actor(s, form));
      return `Started rollout ${r.id}: ${r.version} to ${r.selector.streams.join(', ')}`;
    }), { parse: 'none', detail: dashboardDoc('Start a rollout (`streams`, `version`, `steps`, `soak`, `canary`, `reason`)', 'change') })
    .post(`${BASE}/rollouts/action`, change('rollouts', async (form, s) => {
      const action = field(form, 'action');
      if (action !== 'pause' && action !== 'resume' && action !== 'advance' && action !== 'abort') throw new FormError(`unknown action '${action}'`);
      const r = await needFleet().rolloutAction(field(form, 'id'), action, actor(s, form));
      return `Rollout ${r.id}: ${action} done, now ${r.state}`;
    }), { parse: 'none', detail: dashboardDoc('Pause, resume, advance or abort a rollout (`id`, `action`)', 'change') });
}

/** A form mistake, shown to the operator as the flash message. */
class FormError extends Error {}

function field(form: Form, name: string): string {
  const v = form.get(name);
  return typeof v === 'string' ? v.trim().slice(0, 2000) : '';
}

function list(s: string): string[] {
  return s.split(',').map((x) => x.trim()).filter(Boolean);
}
