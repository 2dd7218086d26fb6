/**
 * Auto-detection through the real registry: `oras push repo:1.0 firmware.bin.gz` with no media type
 * labels the layer a plain OCI tar; a Docker-shaped push labels a zstd tarball "tar+gzip". Both are
 * served as the raw image, and /version describes exactly those bytes.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { pushArtifact, startRegistry, type TestRegistry } from '../support/registry.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/tmp.ts';
import { firmwareBytes, join, sh } from './helpers.ts';

let reg: TestRegistry;
let server: TestServer;
beforeAll(async () => {
  reg = await startRegistry();
  server = await startTestServer({ flags: { 'registry-url': reg.host, 'registry-insecure': true, 'repository-prefix': 'fw/', 'refresh-interval': 0 } });
});
afterAll(async () => {
  await server?.close();
  await reg?.close();
});

async function expectServed(device: string, version: string, fw: Uint8Array): Promise<void> {
  const v = await fetch(`${server.url}/version?device=${device}`);
  expect(await v.text()).toBe(`${version}\n${Bun.hash.crc32(fw) >>> 0}\n${fw.byteLength}`);
  const body = new Uint8Array(await (await fetch(`${server.url}/firmware?device=${device}`)).arrayBuffer());
  expect(Buffer.compare(Buffer.from(body), Buffer.from(fw))).toBe(0);
}

test('an untyped .gz layer (oras default media type) is gunzipped', async () => {
  const d = tempDir('otaflux-oci-gz-');
  const fw = firmwareBytes(700_000, 21);
  writeFileSync(join(d, 'firmware.bin'), fw);
  sh('gzip firmware.bin', d);
  await pushArtifact(reg, 'fw/gz-dev', '1.0.0', [{ name: 'firmware.bin.gz', data: readFileSync(join(d, 'firmware.bin.gz')) }]);
  await expectServed('gz-dev', '1.0.0', fw);
});

test('a .tar.zst labelled tar+gzip in a Docker manifest is unpacked by content, not by label', async () => {
  const d = tempDir('otaflux-oci-tzst-');
  const fw = firmwareBytes(900_000, 22);
  writeFileSync(join(d, 'firmware.bin'), fw);
  writeFileSync(join(d, 'CHANGELOG'), 'fixes\n');
  sh('tar --zstd -cf fw.tar.zst firmware.bin CHANGELOG', d);
  await pushArtifact(reg, 'fw/tzst-dev', '2.0.1', [{ name: 'fw.tar.zst', data: readFileSync(join(d, 'fw.tar.zst')) }], 'docker-v2');
  await expectServed('tzst-dev', '2.0.1', fw);
});
