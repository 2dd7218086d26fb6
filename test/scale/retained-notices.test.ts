// Which releases a process that takes the lead announces, from the broker's retained notices: those
// the broker has no notice of or an older one of; never one the broker already holds, nor an older
// release than the broker's (this process has not seen the newer one yet).
import { expect, test } from 'bun:test';
import { missingNotices } from '../../src/cluster/retained-notices.ts';
import { notificationPayload } from '../../src/notify/mqtt-payload.ts';
import type { Release } from '../../src/core/release.ts';

const release = (device: string, version: string): Release =>
  ({ device, version, tag: version, size: 10, crc32: 1, sha256: `${device}-${version}`.padEnd(64, '0') }) as Release;

test('announces what the broker lacks or holds older; skips the same and the newer', () => {
  const serving = [
    { device: 'same', release: release('same', '1.0.0') },
    { device: 'absent', release: release('absent', '1.0.0') },
    { device: 'older', release: release('older', '1.1.0') },
    { device: 'newer', release: release('newer', '1.0.0') },
    { device: 'garbled', release: release('garbled', '1.0.0') },
    { device: 'no-release' },
  ];
  const retained = new Map([
    ['same', notificationPayload(release('same', '1.0.0'))],
    ['older', notificationPayload(release('older', '1.0.0'))],
    ['newer', notificationPayload(release('newer', '2.0.0'))],
    ['garbled', 'not json'],
  ]);
  expect(missingNotices(serving, retained).map((m) => m.device)).toEqual(['absent', 'older', 'garbled']);
});
