/**
 * The whole body of a release for a protocol's answer: the shared in-memory bytes or the cached file,
 * or the documented 503 when the cached copy is unreadable (it is fetched again).
 */
import type { Release } from '../core/release.ts';
import type { DeviceApiDeps, DeviceReply, ReplyBody } from '../http/device-api.ts';

export async function releaseBody(release: Release, deps: DeviceApiDeps, head: boolean): Promise<{ body: ReplyBody } | { failed: DeviceReply }> {
  try {
    const b = await deps.bodies.body(release);
    if (head || release.size === 0) return { body: null };
    return { body: b.kind === 'buffer' ? b.buffer : { path: b.path, start: 0, end: release.size - 1 } };
  } catch (e) {
    deps.logger.error('cached firmware unreadable', { device: release.device, sha256: release.sha256, error: (e as Error).message });
    const body = `Firmware for device '${release.device}' is being re-fetched, retry later`;
    const headers = { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), 'retry-after': '5' };
    return { failed: { status: 503, headers, body: head ? null : body, device: release.device, release, errorCode: 'cache-corrupt' } };
  }
}
