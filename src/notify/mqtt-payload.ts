/**
 * What OtaFlux tells MQTT subscribers about a release. The Rust server sent
 * `{"version":"1.0.0","size":942320}`; those two keys stay first so parsers written for it keep
 * working, and CRC-32 and SHA-256 follow for devices that want to check the download.
 */
import type { Release } from '../core/release.ts';

/** The topic of a device's notifications: `{prefix}/{device}` (one trailing `/` of the prefix dropped). */
export function notificationTopic(prefix: string, device: string): string {
  const base = prefix.replace(/\/$/, '');
  return base === '' ? device : `${base}/${device}`;
}

/** The JSON body: version, size, crc32 (unsigned decimal), sha256 (lowercase hex), in that order. */
export function notificationPayload(r: Pick<Release, 'version' | 'size' | 'crc32' | 'sha256'>): string {
  return JSON.stringify({ version: r.version, size: r.size, crc32: r.crc32 >>> 0, sha256: r.sha256 });
}
