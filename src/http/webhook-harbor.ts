/**
 * `POST /webhooks/harbor`: Harbor's PUSH_ARTIFACT notification refreshes that device at once, so a
 * new release reaches devices (and MQTT) without waiting for the refresh interval.
 *
 * Mount it with the secret configured in Harbor's webhook policy as "Auth Header":
 *
 *     const harbor = harborWebhook({ secret, prefix, refresh: (device) => resolver.refresh(...) });
 *     // in the HTTP layer:  POST /webhooks/harbor  →  harbor(request)
 *
 * Harbor sends that value verbatim in `Authorization`; `Bearer <secret>` is accepted too. The
 * comparison takes constant time. The device is the pushed repository minus the prefix
 * (`event_data.repository.repo_full_name`, or `namespace/name`; for prefix `firmware`, repository
 * `firmware/esp32-a` is device `esp32-a`); repositories outside the prefix are ignored.
 * The Default payload and the CloudEvents one (`harbor.artifact.pushed`) are both understood.
 *
 * Answers: 202 `{"refreshing":["<device>"]}`; 200 `{"ignored":"<why>"}` for other events or
 * repositories; 400 `{"error":"…"}` for a body that is not JSON or not shaped like Harbor's payload
 * (checked with a zod schema: a `type` that is an object is a 400 naming `type`, not a crash);
 * 401 for a missing or wrong secret; 405; 413.
 * The refresh runs after the answer; its failure is logged, never reported to Harbor.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Logger } from '../plugin.ts';
import { validateDeviceId } from '../core/device-id.ts';

export interface HarborWebhookOptions {
  /** The shared secret (Harbor's "Auth Header" value). */
  secret: string;
  /** Repository prefix, as for the registry source (one trailing `/` dropped). */
  prefix: string;
  /** Asks the core to look at this device now. */
  refresh(device: string): unknown;
  logger?: Logger;
  /** Largest body read (default 256 KiB). */
  maxBodyBytes?: number;
}

const PUSH_TYPES = new Set(['PUSH_ARTIFACT', 'harbor.artifact.pushed']);

export function harborWebhook(o: HarborWebhookOptions): (req: Request) => Promise<Response> {
  if (typeof o.secret !== 'string' || o.secret.length < 8) throw new TypeError('harborWebhook(): pass a secret of at least 8 characters');
  const prefix = o.prefix.endsWith('/') ? o.prefix.slice(0, -1) : o.prefix;
  const secretHash = hash(o.secret);
  const bearerHash = hash(`Bearer ${o.secret}`);
  const maxBody = o.maxBodyBytes ?? 256 << 10;

  return async (req: Request): Promise<Response> => {
    if (req.method !== 'POST') return new Response('Method Not Allowed', { status: 405, headers: { allow: 'POST' } });
    if (!authorized(req.headers.get('authorization'), secretHash, bearerHash)) {
      o.logger?.warn('harbor webhook refused: missing or wrong secret');
      return new Response('Unauthorized', { status: 401 });
    }
    const declared = Number(req.headers.get('content-length') ?? 0);
    if (declared > maxBody) return new Response('Payload Too Large', { status: 413 });
    const body = new Uint8Array(await req.arrayBuffer());
    if (body.byteLength > maxBody) return new Response('Payload Too Large', { status: 413 });
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(body));
    } catch {
      return Response.json({ error: 'body is not JSON' }, { status: 400 });
    }
    const parsed = harborPayload.safeParse(json);
    if (!parsed.success) return Response.json({ error: `not a Harbor webhook payload: ${describeIssue(parsed.error)}` }, { status: 400 });
    const payload = parsed.data;
    const type = payload.type ?? req.headers.get('ce-type') ?? '';
    if (!PUSH_TYPES.has(type)) return Response.json({ ignored: `event type '${String(type).slice(0, 64)}'` });
    const device = deviceOf(payload, prefix);
    if (device === undefined) return Response.json({ error: 'event_data.repository.name missing' }, { status: 400 });
    if (device === null) return Response.json({ ignored: 'repository outside the prefix' });
    try {
      validateDeviceId(device, prefix);
    } catch {
      return Response.json({ ignored: 'repository is not a valid device id' });
    }
    o.logger?.info('harbor webhook: refreshing device', { device });
    Promise.resolve()
      .then(() => o.refresh(device))
      .catch((e: unknown) => o.logger?.warn('refresh after harbor webhook failed', { device, error: e instanceof Error ? e.message : String(e) }));
    return Response.json({ refreshing: [device] }, { status: 202 });
  };
}

/** What this webhook reads of Harbor's payload (Default and CloudEvents formats); other fields are ignored. */
const harborRepository = z.object({
  name: z.string().nullish(),
  namespace: z.string().nullish(),
  repo_full_name: z.string().nullish(),
});
const harborPayload = z.object({
  type: z.string().max(256).nullish(),
  event_data: z.object({ repository: harborRepository.nullish() }).nullish(),
  data: z.object({ repository: harborRepository.nullish() }).nullish(),
});

type HarborPayload = z.infer<typeof harborPayload>;
type HarborRepository = z.infer<typeof harborRepository>;

/** The first problem, as `path: what was expected` (never the value sent). */
function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const path = issue.path.map(String).join('.');
  return `${path || '(top level)'}: ${issue.message}`;
}

/** The device a push was for; null when the repository is outside the prefix, undefined when the payload has none. */
export function deviceOf(payload: HarborPayload, prefix: string): string | null | undefined {
  const repo: HarborRepository | null | undefined = payload.event_data?.repository ?? payload.data?.repository;
  if (!repo || typeof repo.name !== 'string' || repo.name === '') return undefined;
  const name = repo.name;
  const full = typeof repo.repo_full_name === 'string' && repo.repo_full_name
    ? repo.repo_full_name
    : typeof repo.namespace === 'string' && repo.namespace ? `${repo.namespace}/${name}` : name;
  if (prefix === '') return full;
  for (const candidate of [full, name]) {
    if (candidate.startsWith(`${prefix}/`)) return candidate.slice(prefix.length + 1);
  }
  return null;
}

function hash(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Constant-time comparison (of fixed-length hashes, so the secret's length does not leak either). */
function authorized(header: string | null, secretHash: Buffer, bearerHash: Buffer): boolean {
  if (!header) return false;
  const got = hash(header.trim());
  const a = timingSafeEqual(got, secretHash);
  const b = timingSafeEqual(got, bearerHash);
  return a || b;
}
