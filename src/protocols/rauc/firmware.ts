/**
 * RAUC HTTP streaming (`rauc install https://…`) and polling (RAUC ≥ 1.16, `[poll] source=…`)
 * against `/firmware` (README "Device protocols"). RAUC's first request is `GET` with
 * `Range: bytes=0-3` (plus `RAUC-*` headers when `send-headers` is set, and `If-None-Match` when
 * polling); later reads are Range requests on the same URL. Answers:
 *
 *   206 + `Content-Range: bytes 0-3/<total>`   the offered bundle (ETag: its SHA-256)
 *   304                                        polling: `If-None-Match` is the offered bundle's ETag
 *   204                                        nothing is offered to this system (no release, pinned away, yanked)
 *   401/403/…                                  the device API's short errors
 *
 * The first request is the check-in (a poll when `If-None-Match` names the offered bundle, else the
 * start of a download; instance from `RAUC-Serial`, else `RAUC-Machine-ID`; boot id
 * from `RAUC-Boot-ID`; version from `RAUC-System-Version`); later ranges of the same client and URL
 * read the same bundle (sessions.ts). The download counts as whole once every byte was read.
 */
import { DeviceError } from '../../core/errors.ts';
import { bootId } from '../../fleet/instance.ts';
import { releaseEtag, type Release } from '../../core/release.ts';
import { noneMatch } from '../../http/range.ts';
import { errorReply, firmwareReply, requestFacts, type DeviceReply, type FrontDoorRequest } from '../../http/device-api.ts';
import type { ProtocolDeps } from '../protocol-deps.ts';
import type { RaucSession } from './sessions.ts';

const RAUC_HEADERS = ['rauc-boot-id', 'rauc-machine-id', 'rauc-system-version', 'rauc-serial', 'rauc-variant', 'rauc-transaction-id', 'rauc-uptime'];

/** A request that opens a RAUC session: its first range, or its `RAUC-*` headers. */
export function raucFirstRequest(h: Readonly<Record<string, string | undefined>>): boolean {
  if (h.range?.replace(/\s+/g, '') === 'bytes=0-3') return true;
  for (const name of RAUC_HEADERS) if (h[name] !== undefined) return true;
  return false;
}

/**
 * Answers a RAUC request: `url` is the request target (path and query) that names the session.
 * Undefined when the request is neither a first request nor a later range of an open session.
 */
export function raucFirmware(req: FrontDoorRequest, url: string, deps: ProtocolDeps): Promise<DeviceReply> | undefined {
  const first = raucFirstRequest(req.headers);
  const open = first ? undefined : req.headers.range ? deps.rauc.get(req.remoteAddress, url) : undefined;
  if (!first && !open) return undefined;
  return (open ? admittedAgain(req, open, deps) : opened(req, url, deps)).then((s) => (isReply(s) ? s : answer(req, s, deps)));
}

/**
 * A later range is admitted as the first was: the session pins the bundle, not who may read it (the
 * session's key, address and URL, carries no credential when the device shows one in a header or a
 * client certificate).
 */
async function admittedAgain(req: FrontDoorRequest, s: RaucSession, deps: ProtocolDeps): Promise<RaucSession | DeviceReply> {
  try {
    await deps.devices.admit(deps.devices.call(req.query.get('device'), requestFacts(req, '/firmware'), { route: 'firmware', protocol: 'rauc' }));
  } catch (e) {
    return { ...errorReply(e, req, deps.logger), protocol: 'rauc' };
  }
  return s;
}

async function opened(req: FrontDoorRequest, url: string, deps: ProtocolDeps): Promise<RaucSession | DeviceReply> {
  let offered: { release: Release; instance: string };
  try {
    // Polling asks with the ETag it has: a poll (no download) unless the offered bundle is another one.
    const polling = req.headers['if-none-match'] !== undefined;
    const call = (route: 'version' | 'firmware') => deps.devices.call(req.query.get('device'), requestFacts(req, '/firmware'), { route, protocol: 'rauc', download: 'pieces' });
    offered = await deps.offer(call(polling ? 'version' : 'firmware'));
    if (polling && !noneMatch(req.headers['if-none-match'], releaseEtag(offered.release))) offered = await deps.offer(call('firmware'));
  } catch (e) {
    // Nothing for this system now: RAUC's "no bundle available" (polling keeps asking).
    if (e instanceof DeviceError && e.code === 'no-firmware') {
      return { status: 204, headers: {}, body: null, errorCode: 'no-firmware', protocol: 'rauc', ...(e.device ? { device: e.device } : {}) };
    }
    return { ...errorReply(e, req, deps.logger), protocol: 'rauc' };
  }
  const boot = bootId(req);
  return deps.rauc.open(req.remoteAddress, url, { release: offered.release, instance: offered.instance, stream: offered.release.device, ...(boot ? { bootId: boot } : {}) });
}

async function answer(req: FrontDoorRequest, s: RaucSession, deps: ProtocolDeps): Promise<DeviceReply> {
  // The firmware route's code (Range, If-Range, If-None-Match, 416, HEAD) for the session's bundle.
  const reply = await firmwareReply(s.release, { method: req.method, query: req.query, headers: req.headers, remoteAddress: req.remoteAddress }, deps);
  const range = /^bytes (\d+)-(\d+)\//.exec(reply.headers['content-range'] ?? '');
  const [start, end] = reply.status === 206 && range ? [Number(range[1]), Number(range[2])] : reply.status === 200 ? [0, s.release.size - 1] : [0, -1];
  // Never a download's end by itself: the session says when every byte was read.
  const out: DeviceReply = { ...reply, protocol: 'rauc', partial: true };
  if (req.method === 'GET' && end >= start && reply.body !== null) {
    out.onSent = (bytes, ok) => {
      if (ok && bytes === end - start + 1 && deps.rauc.readBytes(s, start, end)) {
        deps.downloadCompleted?.(s.instance, s.stream, s.release.version, s.bootId, req.remoteAddress, 'rauc');
      }
    };
  }
  return out;
}

function isReply(x: RaucSession | DeviceReply): x is DeviceReply {
  return 'status' in x;
}
