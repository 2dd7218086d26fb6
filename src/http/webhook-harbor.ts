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
 * repositories; 400 for a malformed body; 401 for a missing or wrong secret; 405; 413.
 * The refresh runs after the answer; its failure is logged, never reported to Harbor.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
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
    let payload: HarborPayload;
    try {
      payload = JSON.parse(new TextDecoder().decode(body)) as HarborPayload;
      if (!payload || typeof payload !== 'object') throw new Error('not an object');
    } catch {
      return Response.json({ error: 'body is not a JSON object' }, { status: 400 });
    }
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

interface HarborRepository {
  name?: unknown;
  namespace?: unknown;
  repo_full_name?: unknown;
}

interface HarborPayload {
  type?: string;
  event_data?: { repository?: HarborRepository };
  data?: { repository?: HarborRepository };
}

/** The device a push was for; null when the repository is outside the prefix, undefined when the payload has none. */
export function deviceOf(payload: HarborPayload, prefix: string): string | null | undefined {
  const repo = payload.event_data?.repository ?? payload.data?.repository;
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
