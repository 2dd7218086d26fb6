/**
 * Arduino HTTPUpdate (ESP32 `HTTPUpdate`, ESP8266 `ESP8266httpUpdate`) against `/firmware`, as those
 * libraries ask (README "Device protocols"): one HTTP/1.0 GET with `x-ESP32-*` / `x-ESP8266-*`
 * headers. The stream comes from the URL's `device` (else `protocols.arduino.streams` by STA MAC),
 * the instance from the STA MAC (src/fleet/instance.ts). Answers:
 *
 *   304                 the device runs the offered release (its `x-*-version`, sketch MD5 or SHA-256)
 *   200 + image         exact Content-Length, `x-MD5` (checked by the library after writing), `x-version`
 *   200, empty          `mode: version`: only `x-version` (and `x-MD5`) of the offered release
 *   304 (spiffs)        no filesystem image for the offered release: nothing to write
 *   401/403/404/…       the device API's short errors (the library maps 403 and 404 to its own)
 *
 * Never chunked, never redirected (ESP8266 does not follow redirects by default).
 */
import type { DeviceCall } from '../../core/device-request.ts';
import type { Release } from '../../core/release.ts';
import { errorReply, requestFacts, type DeviceReply, type FrontDoorRequest } from '../../http/device-api.ts';
import type { ProtocolDeps } from '../protocol-deps.ts';
import type { ImageDigests } from '../image-digests.ts';
import { releaseBody } from '../release-body.ts';
import { streamOfMac } from './config.ts';

export interface ArduinoClient {
  name: 'esp32' | 'esp8266';
  /** Lower-cased header prefix: `x-esp32-` or `x-esp8266-`. */
  prefix: string;
}

const ESP32: ArduinoClient = { name: 'esp32', prefix: 'x-esp32-' };
const ESP8266: ArduinoClient = { name: 'esp8266', prefix: 'x-esp8266-' };

/** The filesystem image of a release of stream S is the release of the same version in stream `S-fs`. */
export const FILESYSTEM_SUFFIX = '-fs';
const TEXT = 'text/plain; charset=utf-8';

/** Which HTTPUpdate library sent the request (by its fixed User-Agent), if any. */
export function arduinoClient(headers: Readonly<Record<string, string | undefined>>): ArduinoClient | undefined {
  const ua = headers['user-agent'];
  if (ua === 'ESP32-http-Update') return ESP32;
  if (ua === 'ESP8266-http-Update') return ESP8266;
  return undefined;
}

export async function arduinoFirmware(req: FrontDoorRequest, client: ArduinoClient, deps: ProtocolDeps): Promise<DeviceReply> {
  const h = req.headers;
  const mode = (h[`${client.prefix}mode`] ?? 'sketch').trim().toLowerCase();
  if (mode !== 'sketch' && mode !== 'spiffs' && mode !== 'version') return shortText(403, 'Unsupported update mode');
  const stream = req.query.get('device') || streamOfMac(deps.arduino, h[`${client.prefix}sta-mac`]) || null;
  const facts = { ...requestFacts(req, '/firmware'), headers: withKnownVersion(h, client, stream, deps) };

  // A poll first: the check-in, and the offer. Only an answer with the image is a download.
  let q: DeviceCall;
  let release: Release;
  let digests: ImageDigests;
  try {
    q = deps.devices.call(stream, facts, { route: 'version', protocol: 'arduino' });
    release = await deps.devices.release(q);
    digests = await deps.digests.of(release);
  } catch (e) {
    return errorReply(e, req, deps.logger);
  }
  const meta = { device: release.device, release, protocol: 'arduino' };
  const runs = runsRelease(h, client, release, digests);
  const about = { 'x-version': release.version, 'x-MD5': digests.md5 };
  if (runs) return { status: 304, headers: { 'x-version': release.version }, body: null, ...meta };
  if (mode === 'version') return { status: 200, headers: { ...about, 'content-length': '0' }, body: null, ...meta };
  if (mode === 'spiffs') return filesystemImage(req, release, deps);

  let served: Release;
  try {
    served = await deps.devices.release({ ...q, route: 'firmware' });
    if (served.sha256 !== release.sha256) digests = await deps.digests.of(served);
  } catch (e) {
    return errorReply(e, req, deps.logger);
  }
  const got = await releaseBody(served, deps, req.method === 'HEAD');
  if ('failed' in got) return { ...got.failed, protocol: 'arduino' };
  const headers = { 'content-type': 'application/octet-stream', 'content-length': String(served.size), 'x-MD5': digests.md5, 'x-version': served.version };
  return { status: 200, headers, body: got.body, device: served.device, release: served, protocol: 'arduino' };
}

/** `mode: spiffs`: the offered release's filesystem image when its stream `S-fs` has the same version, else 304. */
async function filesystemImage(req: FrontDoorRequest, release: Release, deps: ProtocolDeps): Promise<DeviceReply> {
  const fs = await deps.newest(`${release.device}${FILESYSTEM_SUFFIX}`).catch(() => undefined);
  const meta = { device: release.device, release, protocol: 'arduino' };
  if (!fs || fs.version !== release.version) return { status: 304, headers: { 'x-version': release.version }, body: null, ...meta };
  let digests: ImageDigests;
  try {
    digests = await deps.digests.of(fs);
  } catch (e) {
    return errorReply(e, req, deps.logger);
  }
  const got = await releaseBody(fs, deps, req.method === 'HEAD');
  if ('failed' in got) return { ...got.failed, protocol: 'arduino' };
  const headers = { 'content-type': 'application/octet-stream', 'content-length': String(fs.size), 'x-MD5': digests.md5, 'x-version': fs.version };
  // Reported under the filesystem stream: the fleet tracks downloads of the app image only.
  return { status: 200, headers, body: got.body, device: fs.device, protocol: 'arduino' };
}

/** Whether the device says it runs this release: its version, or the MD5 / SHA-256 of its sketch. */
function runsRelease(h: Readonly<Record<string, string | undefined>>, client: ArduinoClient, release: Release, d: ImageDigests): boolean {
  const version = h[`${client.prefix}version`]?.trim().replace(/^[vV]/, '');
  if (version && version === release.version) return true;
  const md5 = h[`${client.prefix}sketch-md5`]?.trim().toLowerCase();
  if (md5 && md5 === d.md5) return true;
  const sha = h[`${client.prefix}sketch-sha256`]?.trim().toLowerCase();
  return !!sha && (sha === release.sha256 || sha === d.appendedSha256);
}

/**
 * A sketch that sets no version still names its image by hash: when that hash is a release seen
 * before, the check-in reports that release's version (so outcomes can be verified).
 */
function withKnownVersion(h: Readonly<Record<string, string | undefined>>, client: ArduinoClient, stream: string | null, deps: ProtocolDeps): Readonly<Record<string, string | undefined>> {
  if (!stream || h[`${client.prefix}version`]) return h;
  const digest = h[`${client.prefix}sketch-md5`] ?? h[`${client.prefix}sketch-sha256`];
  const version = digest ? deps.digests.versionOf(stream, digest.trim()) : undefined;
  return version ? { ...h, [`${client.prefix}version`]: version } : h;
}

function shortText(status: number, body: string): DeviceReply {
  return { status, headers: { 'content-type': TEXT, 'content-length': String(Buffer.byteLength(body)) }, body, protocol: 'arduino' };
}
