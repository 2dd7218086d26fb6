/**
 * The hawkBit DDI routes SWUpdate's suricatta, rauc-hawkbit-updater and Zephyr's hawkBit client use
 * (README "hawkBit DDI"). Every JSON answer has a Content-Length; POST and PUT are answered 200 with
 * an empty body (two of the three clients accept nothing else). Artifacts go through the firmware
 * route's code: HEAD, Range (206/416), ETag, Content-Length.
 */
import { Elysia } from 'elysia';
import type { Runtime } from '../../runtime.ts';
import { DeviceError, deviceFailure } from '../../core/errors.ts';
import type { Logger } from '../../plugin.ts';
import { firmwareReply, type FrontDoorRequest } from '../../http/device-api.ts';
import { toResponse, notFound } from '../../http/app.ts';
import { connectionOf, withDeviceReply } from '../../http/app-bridge.ts';
import { downloadEnd } from './download-end.ts';
import { pollSleep, type DdiSettings } from './config.ts';
import { DdiController, type ControllerRequest, type Offered } from './controller.ts';
import { releaseDigests } from '../image-digests.ts';
import { cancelVerdict, parseFeedback } from './feedback.ts';
import { DDI_BASE } from './routes.ts';

const BASE = DDI_BASE;

type Ctx = { request: Request; params: Record<string, string>; server?: { requestIP?(r: Request): { address: string } | null } | null };

export function ddiApi(rt: Runtime, settings: DdiSettings | undefined) {
  const app = new Elysia({ name: 'otaflux-ddi' });
  if (!settings) return app;
  const ddi = new DdiController(rt, settings);
  const hashes = releaseDigests(rt.bodies);
  const sleep = pollSleep(settings.pollSleepSeconds);

  /** Runs a handler when the tenant matches (case-insensitively), else 404. */
  const forTenant = (h: (c: ControllerRequest, ctx: Ctx, base: string) => Promise<Response> | Response) => (ctx: Ctx) => {
    // A segment that is not valid percent-encoding (`%zz`, `%E0%A4%A`) reaches here as null: no match.
    const tenant = ctx.params.tenant ?? '';
    const controllerId = ctx.params.controllerId ?? '';
    if (tenant.toLowerCase() !== settings.tenant.toLowerCase() || !/^[A-Za-z0-9._:-]{1,128}$/.test(controllerId)) return notFound();
    const headers: Record<string, string> = {};
    ctx.request.headers.forEach((v, k) => (headers[k] = v));
    const origin = settings.publicUrl ?? `http://${headers.host ?? 'localhost'}`;
    // The device listener hands over the peer address and client certificate with the request.
    const conn = connectionOf(ctx.request);
    const c: ControllerRequest = { controllerId, method: ctx.request.method, path: new URL(ctx.request.url).pathname, headers, remoteAddress: conn?.remoteAddress ?? ctx.server?.requestIP?.(ctx.request)?.address ?? '' };
    if (conn?.peerCertificate) c.peerCertificate = conn.peerCertificate;
    return h(c, ctx, `${origin}/${encodeURIComponent(settings.tenant)}/controller/v1/${encodeURIComponent(controllerId)}`);
  };

  /**
   * Runs a write (feedback, configData) only for a controller the device service admits, as a poll
   * is: otherwise its short answer (401 / 403 / 429 / 503, or 404 for a stream nothing serves).
   */
  const admitted = (h: (c: ControllerRequest, ctx: Ctx, base: string) => Promise<Response> | Response) => async (c: ControllerRequest, ctx: Ctx, base: string) => {
    try {
      await rt.devices.admit(ddi.query(c, 'version'));
    } catch (e) {
      return textError(e, rt.logger);
    }
    return h(c, ctx, base);
  };

  const poll = async (c: ControllerRequest, _ctx: Ctx, base: string) => {
    const links: Record<string, { href: string }> = {};
    let o: Offered | undefined;
    try {
      o = await ddi.offered(c, 'version');
    } catch (e) {
      // Nothing to install (or the source is down): the poll still answers 200 so clients keep polling.
      const denied = deviceDenial(e);
      if (denied) return denied;
    }
    if (ddi.wantsConfig(c.controllerId)) links.configData = { href: `${base}/configData` };
    if (o && ddi.open(o)) links.deploymentBase = { href: `${base}/deploymentBase/${o.actionId}` };
    const who = o ?? ddi.who(c);
    const cancel = ddi.cancellable(who.instance, who.stream);
    if (cancel !== undefined) {
      delete links.deploymentBase;
      links.cancelAction = { href: `${base}/cancelAction/${cancel}` };
    }
    return json({ config: { polling: { sleep } }, _links: links });
  };

  const deployment = async (c: ControllerRequest, ctx: Ctx, base: string) => {
    let o: Offered;
    try {
      o = await ddi.offered(c, 'version');
    } catch (e) {
      return deviceDenial(e) ?? textError(e, rt.logger);
    }
    if (String(o.actionId) !== ctx.params.actionId) return shortText(404, 'No such deployment for this controller');
    const h = await hashes.of(o.release).catch(() => undefined);
    if (!h) return shortText(503, 'Firmware is being re-fetched, retry later', { 'retry-after': '5' });
    const name = o.stream.replaceAll('/', '-');
    const filename = `${name}-${o.release.version}.swu`;
    const href = `${base}/softwaremodules/${o.actionId}/artifacts/${encodeURIComponent(filename)}`;
    return json({
      id: String(o.actionId),
      deployment: {
        download: 'forced',
        update: 'forced',
        chunks: [
          {
            part: 'bApp',
            version: o.release.version,
            name,
            artifacts: [{ filename, hashes: { sha1: h.sha1, md5: h.md5, sha256: o.release.sha256 }, size: o.release.size, _links: { download: { href }, 'download-http': { href } } }],
          },
        ],
      },
    });
  };

  const feedback = async (c: ControllerRequest, ctx: Ctx) => {
    const f = parseFeedback(await ctx.request.text().catch(() => ''));
    const id = Number(ctx.params.actionId);
    if (f.result && Number.isSafeInteger(id)) {
      const d = await ddi.deploymentOf(c, id);
      if (d) ddi.report(d, f.result);
      else rt.logger.warn('ddi: feedback for an unknown action', { controller: c.controllerId, action: ctx.params.actionId });
    }
    return empty();
  };

  const artifact = async (c: ControllerRequest, ctx: Ctx) => {
    let o: Offered;
    try {
      o = await ddi.offered(c, 'firmware');
    } catch (e) {
      return deviceDenial(e) ?? textError(e, rt.logger);
    }
    if (String(o.actionId) !== ctx.params.moduleId) return shortText(404, 'No such artifact for this controller');
    // The firmware route's code, for the release this controller was just offered.
    // HEAD is answered from the GET reply (its body a lazy file slice or a buffer view, never read):
    // Elysia drops the body of a HEAD answer but keeps its Content-Length only when there is one.
    const req: FrontDoorRequest = { method: c.method === 'HEAD' ? 'GET' : c.method, query: new URLSearchParams({ device: o.stream }), headers: c.headers, remoteAddress: c.remoteAddress };
    if (c.peerCertificate) req.peerCertificate = c.peerCertificate;
    const reply = await firmwareReply(o.release, req, rt);
    // The device listener writes the reply itself, as it writes /firmware's (an image from the file,
    // never read into memory), and reports it with the device: the download ends there, for the
    // fleet (a GET's last byte) and for the downloads-in-flight gauge (every answer, HEAD too).
    if (c.method === 'HEAD') return withDeviceReply(ctx.request, toResponse(reply), { ...reply, body: null, protocol: 'ddi' });
    if (c.method !== 'GET' || reply.body === null || typeof reply.body === 'string') return withDeviceReply(ctx.request, toResponse(reply), { ...reply, protocol: 'ddi' });
    return withDeviceReply(ctx.request, toResponse(reply), { ...reply, protocol: 'ddi', onSent: downloadEnd(reply, o, c, rt.fleet) });
  };

  return app
    .get(BASE, forTenant(poll))
    .get(`${BASE}/deploymentBase/:actionId`, forTenant(deployment))
    .post(`${BASE}/deploymentBase/:actionId/feedback`, forTenant(admitted(feedback)), { parse: 'none' })
    .put(`${BASE}/configData`, forTenant(admitted((c) => (ddi.configReceived(c.controllerId), empty()))), { parse: 'none' })
    .get(`${BASE}/cancelAction/:actionId`, forTenant((_c, ctx) => json({ id: ctx.params.actionId, cancelAction: { stopId: ctx.params.actionId } })))
    .post(`${BASE}/cancelAction/:actionId/feedback`, forTenant(admitted(async (c, ctx) => {
      const verdict = cancelVerdict(parseFeedback(await ctx.request.text().catch(() => '')));
      const id = Number(ctx.params.actionId);
      if (verdict && Number.isSafeInteger(id)) ddi.cancelAnswered(ddi.who(c).instance, id, verdict === 'confirmed');
      return empty();
    })), { parse: 'none' })
    .get(`${BASE}/softwaremodules/:moduleId/artifacts/:filename`, forTenant(artifact))
    .head(`${BASE}/softwaremodules/:moduleId/artifacts/:filename`, forTenant(artifact));
}

function json(body: unknown, status = 200): Response {
  const text = JSON.stringify(body);
  return new Response(text, { status, headers: { 'content-type': 'application/json;charset=UTF-8', 'content-length': String(Buffer.byteLength(text)) } });
}

function empty(): Response {
  return new Response('', { status: 200, headers: { 'content-length': '0' } });
}

function shortText(status: number, body: string, extra: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), ...extra } });
}

/** 401 / 403 / 429 from the authenticators, with their short body; undefined for other errors. */
function deviceDenial(e: unknown): Response | undefined {
  if (e instanceof DeviceError && (e.status === 401 || e.status === 403 || e.status === 429)) return shortText(e.status, e.body, e.headers);
  return undefined;
}

/** Any failure as its short documented text (`deviceFailure`: anything unexpected is logged and answered 500). */
function textError(e: unknown, logger: Logger): Response {
  const d = deviceFailure(e, logger);
  return shortText(d.status, d.body, d.headers);
}
