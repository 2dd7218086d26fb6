/**
 * End to end through the server, configured as the Rust server is (`--registry-url`,
 * `--repository-prefix`, `--cosign-pub-key-path`): each device's newest version that verifies is
 * served; hostile newer versions are skipped with their rejection logged once; a device with no
 * verifiable version gets 404 "No verified firmware" and never a firmware byte.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { pushArtifact, startRegistry, type TestRegistry } from '../support/registry.ts';
import { copyTag, cosignSign, generateKeyPair, sigTag, MEDIA, type CosignKeyPair } from '../support/cosign.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

let reg: TestRegistry;
let server: TestServer;
let operator: CosignKeyPair;
let stranger: CosignKeyPair;
let d110: string;
let d200: string;
const firmware = (v: string) => new TextEncoder().encode(`\xe9 firmware image ${v} `.repeat(40));
const push = (repo: string, v: string) => pushArtifact(reg, repo, v, [{ name: 'fw.bin', data: firmware(`${repo} ${v}`), mediaType: 'application/octet-stream' }]);

beforeAll(async () => {
  [reg, operator, stranger] = await Promise.all([startRegistry(), generateKeyPair(), generateKeyPair()]);

  // fleet: 1.0.0 legacy-signed, 1.1.0 bundle-signed, 1.2.0 stranger's key, 1.3.0 signature copied from 1.0.0, 2.0.0 unsigned.
  const d100 = await push('fw/fleet', '1.0.0');
  await cosignSign(reg, operator, 'fw/fleet', d100, 'legacy');
  d110 = await push('fw/fleet', '1.1.0');
  await cosignSign(reg, operator, 'fw/fleet', d110, 'bundle');
  const d120 = await push('fw/fleet', '1.2.0');
  await cosignSign(reg, stranger, 'fw/fleet', d120, 'legacy');
  const d130 = await push('fw/fleet', '1.3.0');
  await copyTag(reg, 'fw/fleet', sigTag(d100), sigTag(d130), MEDIA.ociManifest);
  d200 = await push('fw/fleet', '2.0.0');

  // nothing: an unsigned version and one signed by a stranger only.
  await push('fw/nothing', '1.0.0');
  await cosignSign(reg, stranger, 'fw/nothing', await push('fw/nothing', '1.1.0'), 'bundle');

  server = await startTestServer({ flags: { 'registry-url': reg.host, 'repository-prefix': 'fw', 'registry-insecure': true, 'cosign-pub-key-path': operator.pub, 'refresh-interval': 0 } });
});

afterAll(async () => {
  await server?.close();
  await reg?.close();
});

function rejections(): { version: string; reason: string }[] {
  return server.logs.map((l) => JSON.parse(l) as Record<string, string>).filter((l) => l.msg === 'version rejected by verifier' && l.device === 'fleet').map((l) => ({ version: l.version ?? '', reason: l.reason ?? '' }));
}

test('fleet gets 1.1.0: 2.0.0 unsigned, 1.3.0 copied signature, 1.2.0 wrong key are skipped', async () => {
  const res = await fetch(`${server.url}/version?device=fleet`);
  const body = await res.text();
  expect(res.status).toBe(200);
  expect(body.split('\n')[0]).toBe('1.1.0');
  const bin = new Uint8Array(await (await fetch(`${server.url}/firmware?device=fleet`)).arrayBuffer());
  expect(bin).toEqual(firmware('fw/fleet 1.1.0'));
  expect(body.split('\n')[2]).toBe(String(bin.byteLength));
  expect(rejections().sort((a, b) => a.version.localeCompare(b.version))).toEqual([
    { version: '1.2.0', reason: 'wrong-key' },
    { version: '1.3.0', reason: 'digest-mismatch' },
    { version: '2.0.0', reason: 'unsigned' },
  ]);
});

test('polling again re-uses acceptances; rejections are asked again at each refresh but logged once', async () => {
  const count = async (needle: string) => (await reg.blobGets(), reg.accessLog().filter((l) => l.includes(needle)).length);
  const accepted = d110.slice('sha256:'.length), unsigned = d200.slice('sha256:'.length);
  const before = { tags: await count('GET /v2/fw/fleet/tags/list'), accepted: await count(accepted), unsigned: await count(unsigned) };
  for (let i = 0; i < 3; i++) {
    expect((await (await fetch(`${server.url}/version?device=fleet`)).text()).split('\n')[0]).toBe('1.1.0');
    await Bun.sleep(5);
  }
  expect(await count('GET /v2/fw/fleet/tags/list')).toBeGreaterThan(before.tags); // refresh 0: the versions were listed again…
  expect(await count(accepted)).toBe(before.accepted); // …1.1.0's signature was not fetched again…
  expect(await count(unsigned)).toBeGreaterThan(before.unsigned); // …2.0.0 was looked at again: it may have been signed since
  expect(rejections().length).toBe(3);
});

test('a device with no verifiable version gets 404 and no firmware bytes', async () => {
  const version = await fetch(`${server.url}/version?device=nothing`);
  expect(version.status).toBe(404);
  expect(await version.text()).toBe("No verified firmware for device 'nothing'");
  const fw = await fetch(`${server.url}/firmware?device=nothing`);
  expect(fw.status).toBe(404);
  const bytes = new Uint8Array(await fw.arrayBuffer());
  expect(new TextDecoder().decode(bytes)).toBe("No verified firmware for device 'nothing'");
});

test('a version signed after its first poll (cosign sign after oras push) is served once signed', async () => {
  await cosignSign(reg, operator, 'fw/late', await push('fw/late', '1.0.0'), 'legacy');
  const d2 = await push('fw/late', '2.0.0');
  const version = async () => (await (await fetch(`${server.url}/version?device=late`)).text()).split('\n')[0];
  expect(await version()).toBe('1.0.0');
  await cosignSign(reg, operator, 'fw/late', d2, 'bundle');
  expect(await version()).toBe('2.0.0');
});
