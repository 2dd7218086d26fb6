/**
 * The device API as plain functions from a request to a reply, shared by the device listener
 * (HTTP and HTTPS) and the Elysia app. Bytes on the wire follow the Rust server: `/version` is
 * `version\ncrc32\nsize` as text/plain, `/firmware` is application/octet-stream with an explicit
 * Content-Length. Errors map to the short bodies of src/core/errors.ts (`errorReply`); nothing else reaches a device.
 */
import type { Logger } from '../plugin.ts';
import type { DeviceService } from '../core/device-service.ts';
import type { CallPurpose, DeviceCall, RequestFacts } from '../core/device-request.ts';
import type { ReleaseBodies } from '../core/release-bodies.ts';
import type { CoreEventBus } from '../core/events.ts';
import { deviceFailure } from '../core/errors.ts';
import { releaseEtag, versionBody, type Release } from '../core/release.ts';
import { ifRangeAllows, noneMatch, parseRange } from './range.ts';
import { sharedHeaders } from './response-writer.ts';
import { queryParam, type QuerySource } from '../core/query-param.ts';

/**
 * A device's request as a listener hands it to a front door: the facts of the contract's
 * `DeviceRequest` before a protocol has found the device id in them, its query perhaps still raw
 * (query-param.ts). A listener that does not give the path gets `/version` or `/firmware`.
 */
export type FrontDoorRequest = Omit<RequestFacts, 'path'> & QuerySource & {
  path?: string;
  /** The client protocol recognised (`esp-idf`), recorded with the check-in; absent: the native API. */
  protocol?: string;
};

/** The facts of a front door's request, `path` when the listener gave none. */
export function requestFacts(req: FrontDoorRequest, path: string): RequestFacts {
  const f: RequestFacts = { method: req.method, path: req.path ?? path, headers: req.headers, query: req.query, remoteAddress: req.remoteAddress };
  if (req.peerCertificate) f.peerCertificate = req.peerCertificate;
  return f;
}

export type ReplyBody = string | Buffer | { path: string; start: number; end: number } | null;

export interface DeviceReply {
  status: number;
  headers: Record<string, string>;
  body: ReplyBody;
  /** Device id and release, for the request log line. */
  device?: string;
  release?: Release;
  errorCode?: string;
  /** The device protocol that answered, for metrics and the request log (absent: the native API). */
  protocol?: string;
  /** The body stops before the image's last byte (a Range that ends earlier): one piece of a download. */
  partial?: boolean;
  /** Told once the answer was written (`bytes` of body) or cut short (`ok` false). */
  onSent?(bytes: number, ok: boolean): void;
}

export interface DeviceApiDeps {
  devices: DeviceService;
  bodies: ReleaseBodies;
  events: CoreEventBus;
  logger: Logger;
}

const TEXT = 'text/plain; charset=utf-8';

/**
 * `/version`. Answers without a promise when the device service can (no credentials to wait for,
 * release remembered): the listener then writes the poll's answer in the same turn.
 */
export function versionRoute(req: FrontDoorRequest, deps: DeviceApiDeps): DeviceReply | Promise<DeviceReply> {
  let release: Release | Promise<Release>;
  try {
    release = deps.devices.release(nativeCall(req, 'version', deps.devices));
  } catch (e) {
    return errorReply(e, req, deps.logger);
  }
  if (release instanceof Promise) return release.then((r) => versionOk(r, req, deps), (e) => errorReply(e, req, deps.logger));
  return versionOk(release, req, deps);
}

export async function firmwareRoute(req: FrontDoorRequest, deps: DeviceApiDeps): Promise<DeviceReply> {
  let release: Release;
  try {
    release = await deps.devices.release(nativeCall(req, 'firmware', deps.devices));
  } catch (e) {
    return errorReply(e, req, deps.logger);
  }
  return firmwareReply(release, req, deps);
}

/**
 * `/firmware`'s answer for a release already chosen (Range, If-Range, If-None-Match, 416, HEAD): the
 * native route's, and a front door's that pinned the release itself (a DDI action, a RAUC session).
 */
export async function firmwareReply(release: Release, req: FrontDoorRequest, deps: Omit<DeviceApiDeps, 'devices'>): Promise<DeviceReply> {
  deps.events.emit('device-seen', { device: release.device, route: 'firmware', release, remoteAddress: req.remoteAddress });
  const etag = releaseEtag(release);
  const base = { etag, 'accept-ranges': 'bytes', 'x-firmware-version': release.version, 'x-firmware-crc32': String(release.crc32) };
  const meta = { device: release.device, release };
  if (noneMatch(req.headers['if-none-match'], etag)) return { status: 304, headers: base, body: null, ...meta };

  const range = ifRangeAllows(req.headers['if-range'], etag) ? parseRange(req.headers.range, release.size) : { kind: 'full' as const };
  if (range.kind === 'unsatisfiable') {
    return { status: 416, headers: { ...base, 'content-range': `bytes */${release.size}`, 'content-length': '0' }, body: null, ...meta };
  }
  let bytes: Buffer | string;
  try {
    const b = await deps.bodies.body(release);
    bytes = b.kind === 'buffer' ? b.buffer : b.path;
  } catch (e) {
    deps.logger.error('cached firmware unreadable', { device: release.device, sha256: release.sha256, error: (e as Error).message });
    const body = `Firmware for device '${release.device}' is being re-fetched, retry later`;
    return { status: 503, headers: { 'content-type': TEXT, 'content-length': String(Buffer.byteLength(body)), 'retry-after': '5' }, body: req.method === 'HEAD' ? null : body, ...meta, errorCode: 'cache-corrupt' };
  }
  const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, release.size - 1];
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'content-length': String(end - start + 1), ...base };
  if (range.kind === 'partial') headers['content-range'] = `bytes ${start}-${end}/${release.size}`;
  const status = range.kind === 'partial' ? 206 : 200;
  if (req.method === 'HEAD' || release.size === 0) return { status, headers, body: null, ...meta };
  const body = typeof bytes === 'string' ? { path: bytes, start, end } : range.kind === 'partial' ? bytes.subarray(start, end + 1) : bytes;
  return { status, headers, body, ...meta, ...(end < release.size - 1 ? { partial: true } : {}) };
}

function versionOk(release: Release, req: FrontDoorRequest, deps: DeviceApiDeps): DeviceReply {
  deps.events.emit('device-seen', { device: release.device, route: 'version', release, remoteAddress: req.remoteAddress });
  const { body, headers } = versionReply(release);
  return { status: 200, headers, body: req.method === 'HEAD' ? null : body, device: release.device, release };
}

/**
 * The `/version` body and headers of a release, made once per release (it is asked for on every
 * poll). The headers are shared by every answer, so the listener writes their head built once a second.
 */
const versionReplies = new WeakMap<Release, { body: string; headers: Readonly<Record<string, string>> }>();
function versionReply(release: Release): { body: string; headers: Readonly<Record<string, string>> } {
  let r = versionReplies.get(release);
  if (!r) {
    const body = versionBody(release);
    versionReplies.set(release, (r = { body, headers: sharedHeaders({ 'content-type': TEXT, 'content-length': String(Buffer.byteLength(body)) }) }));
  }
  return r;
}

/** The purposes of the native routes, shared: a poll allocates none. */
const NATIVE: Record<'version' | 'firmware', CallPurpose> = { version: { route: 'version' }, firmware: { route: 'firmware' } };

/** The request of the native API: the device id is the `device` query parameter. */
function nativeCall(req: FrontDoorRequest, route: 'version' | 'firmware', devices: DeviceService): DeviceCall {
  return devices.call(queryParam(req, 'device'), req, req.protocol ? { route, protocol: req.protocol } : NATIVE[route]);
}

/**
 * Any failure as its short documented reply: a device error as it is, anything else 500
 * `Internal error`, logged (`deviceFailure`). `req` decides whether a body goes with it (not for HEAD).
 */
export function errorReply(e: unknown, req: Pick<FrontDoorRequest, 'method'> | undefined, logger: Logger): DeviceReply {
  const d = deviceFailure(e, logger);
  const body = d.body;
  return {
    status: d.status,
    headers: { 'content-type': TEXT, 'content-length': String(Buffer.byteLength(body)), ...d.headers },
    body: req?.method === 'HEAD' ? null : body,
    errorCode: d.code,
    ...(d.device ? { device: d.device } : {}),
  };
}
