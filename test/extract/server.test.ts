/** Extraction through the running server: a .tar.zst release is served raw; a bomb keeps the previous release served. */
import { afterAll, expect, test } from 'bun:test';
import { firmwareDir } from '../support/firmware-dir.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareBytes, join, sh } from './helpers.ts';

const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

test('a .tar.zst in the firmware dir is served as its firmware.bin; a later bomb leaves it served', async () => {
  const fw = firmwareBytes(1_500_000, 5);
  const { root } = firmwareDir({ dev1: { 'firmware.bin': fw, 'README.md': new TextEncoder().encode('notes\n') } });
  const dev = join(root, 'dev1');
  sh('tar --zstd -cf 1.0.0.tar.zst firmware.bin README.md && rm firmware.bin README.md', dev);

  const s = await startTestServer({
    flags: { 'firmware-dir': root, 'refresh-interval': 0 },
    edit: (settings) => {
      settings.limits = { maxOutputBytes: 8 * 1024 * 1024, maxRatio: 200 };
    },
  });
  servers.push(s);
  const version = await fetch(`${s.url}/version?device=dev1`);
  expect(version.status).toBe(200);
  expect(await version.text()).toBe(`1.0.0\n${Bun.hash.crc32(fw) >>> 0}\n${fw.byteLength}`);
  const image = new Uint8Array(await (await fetch(`${s.url}/firmware?device=dev1`)).arrayBuffer());
  expect(Buffer.compare(Buffer.from(image), Buffer.from(fw))).toBe(0);

  sh('head -c 67108864 /dev/zero | gzip -1 > 1.1.0.bin.gz', dev);
  const after = await fetch(`${s.url}/version?device=dev1`);
  expect(await after.text()).toBe(`1.0.0\n${Bun.hash.crc32(fw) >>> 0}\n${fw.byteLength}`);
  expect(s.logs.some((l) => l.includes('refresh failed, serving last good release') && l.includes('extractor.gzip: output exceeds the limit of 8388608 bytes'))).toBe(true);
});
