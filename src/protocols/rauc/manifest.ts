/**
 * The RAUC simple server's manifest endpoints, so the devices of such a server can move over without
 * a change (README "Device protocols"): `GET /api/v1/manifest.json` (the compatible in `?compatible=`
 * or `X-RAUC-Compatible`) and `GET /api/v1/manifest/{compatible}.json` answer
 * `{compatible, version, filename, size, sha256, released_at, bundle_url}` for the bundle offered to
 * the asking system: same auth, rollout decision and check-in as `/version`. `bundle_url` is this
 * server's `/firmware` for the stream, which RAUC streams (or downloads) as it is.
 */
import type { Release } from '../../core/release.ts';
import { DeviceError } from '../../core/errors.ts';
import { errorReply, requestFacts, type DeviceReply, type FrontDoorRequest } from '../../http/device-api.ts';
import type { ProtocolDeps } from '../protocol-deps.ts';
import { streamOfCompatible } from './config.ts';

/** Route templates, for metric labels. */
export const MANIFEST_ROUTES = ['/api/v1/manifest.json', '/api/v1/manifest/:compatible'];
const BY_PATH = /^\/api\/v1\/manifest\/([^/]{1,256})\.json$/;

/** Whether `path` is one of the manifest endpoints. */
export function isManifestPath(path: string): boolean {
  return path === '/api/v1/manifest.json' || BY_PATH.test(path);
}

/** The manifest answer; `scheme` is the listener's (`http`, `https`), for `bundle_url`. */
export async function raucManifest(req: FrontDoorRequest, path: string, scheme: string, deps: ProtocolDeps): Promise<DeviceReply> {
  const settings = deps.raucManifest;
  if (!settings) return notFound();
  let compatible: string | undefined;
  const m = BY_PATH.exec(path);
  try {
    compatible = m ? decodeURIComponent(m[1] as string) : (req.query.get('compatible') ?? req.headers['x-rauc-compatible']);
  } catch {
    compatible = undefined;
  }
  if (!compatible?.trim()) return json(400, { error: "missing compatible: use /api/v1/manifest/{compatible}.json, ?compatible= or X-RAUC-Compatible" });
  const stream = streamOfCompatible(settings, compatible.trim());
  let release: Release;
  try {
    release = await deps.devices.release(deps.devices.call(stream, requestFacts(req, path), { route: 'version', protocol: 'rauc-manifest' }));
  } catch (e) {
    // A compatible that names no stream (not even a valid id) has no bundles: 404 like an unknown stream.
    if (e instanceof DeviceError && e.code === 'invalid-device') return json(404, { error: 'no bundles for this compatible' });
    return { ...errorReply(e, req, deps.logger), protocol: 'rauc-manifest' };
  }
  const host = req.headers.host;
  const url = `/firmware?device=${encodeURIComponent(release.device)}`;
  const body = {
    compatible: compatible.trim(),
    version: release.version,
    filename: release.name ?? `${release.device.replaceAll('/', '-')}-${release.version}.raucb`,
    size: release.size,
    sha256: release.sha256,
    released_at: release.createdAt,
    bundle_url: host ? `${scheme}://${host}${url}` : url,
  };
  return { ...json(200, body, req.method === 'HEAD'), device: release.device, release };
}

function json(status: number, value: unknown, head = false): DeviceReply {
  const text = JSON.stringify(value);
  return { status, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) }, body: head ? null : text, protocol: 'rauc-manifest' };
}

function notFound(): DeviceReply {
  return { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': '9' }, body: 'Not Found' };
}
