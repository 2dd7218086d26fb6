// The cache never outranks the configuration, across restarts with a REAL registry stopped and
// started and REAL cosign keys: a release cached under no verifier is not served once a key is
// configured; a release cached under keys A+B (or A) is re-verified offline against the keys
// configured now (served with only B when B signed it, refused with only C); a release from one
// registry is never served as another's. /ready says the same before any device polls.
import { afterAll, afterEach, beforeAll, expect, test } from 'bun:test';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, pushArtifact, startRegistry, type TestRegistry } from '../support/registry.ts';
import { cosignSign, generateKeyPair, type CosignKeyPair } from '../support/cosign.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/tmp.ts';
import type { FlagValues } from '../../src/cli/flags.ts';

let reg: TestRegistry;
let A: CosignKeyPair, B: CosignKeyPair, C: CosignKeyPair;
let keysAB: string;
const servers: TestServer[] = [];

beforeAll(async () => {
  [reg, A, B, C] = await Promise.all([startRegistry(), generateKeyPair(), generateKeyPair(), generateKeyPair()]);
  keysAB = join(tempDir('otaflux-keys-'), 'a-and-b.pub');
  writeFileSync(keysAB, A.pubPem + B.pubPem);
}, 60_000);
afterAll(async () => { await reg?.close(); });
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  if (!reg.running) await reg.start();
});

const image = (name: string) => new TextEncoder().encode(`firmware ${name} `.repeat(200));
const push = (device: string, name = device) => pushArtifact(reg, `fw/${device}`, '1.0.0', [{ name: 'fw.bin', data: image(name), mediaType: 'application/octet-stream' }]);

async function serve(cacheDir: string, flags: FlagValues = {}): Promise<TestServer> {
  const s = await startTestServer({ flags: { 'registry-url': reg.host, 'repository-prefix': 'fw', 'registry-insecure': true, 'cache-dir': cacheDir, 'refresh-interval': 0, ...flags } });
  servers.push(s);
  return s;
}
async function restart(s: TestServer, cacheDir: string, flags: FlagValues = {}): Promise<TestServer> {
  await s.close();
  servers.splice(servers.indexOf(s), 1);
  return serve(cacheDir, flags);
}
async function get(s: TestServer, route: string, device: string): Promise<{ status: number; body: Buffer; text: string }> {
  const r = await fetch(`${s.url}/${route}?device=${device}`);
  const body = Buffer.from(await r.arrayBuffer());
  return { status: r.status, body, text: body.toString('utf8') };
}
const unavailable = (device: string) => ({ status: 503, text: `Firmware source unavailable for device '${device}', retry later` });
const ready = async (s: TestServer) => (await fetch(`${s.url}/ready`)).status;

test('an unsigned release cached without a verifier is not served once a key is configured (registry down: 503)', async () => {
  await push('plain');
  const cacheDir = tempDir();
  let s = await serve(cacheDir);
  expect((await get(s, 'firmware', 'plain')).status).toBe(200);

  await reg.stop();
  s = await restart(s, cacheDir, { 'cosign-pub-key-path': A.pub });
  for (const route of ['version', 'firmware']) expect(await get(s, route, 'plain')).toMatchObject(unavailable('plain'));
  expect(s.logs.some((l) => l.includes('cached release not served') && l.includes('verifier.none'))).toBe(true);
  expect(await ready(s)).toBe(503);

  await reg.start();
  expect(await get(s, 'version', 'plain')).toMatchObject({ status: 404, text: "No verified firmware for device 'plain'" });
}, 60_000);

test('the same restart without a key still serves the cached copy (the 503 above is the verifier, not a lost cache)', async () => {
  await push('plain2');
  const cacheDir = tempDir();
  let s = await serve(cacheDir);
  expect((await get(s, 'version', 'plain2')).status).toBe(200);
  await reg.stop();
  s = await restart(s, cacheDir);
  expect(await ready(s)).toBe(200); // before any poll
  const fw = await get(s, 'firmware', 'plain2');
  expect(fw.status).toBe(200);
  expect(Buffer.compare(fw.body, Buffer.from(image('plain2')))).toBe(0);
}, 60_000);

test('key rotation with the registry down: re-verified offline, served with a key that signed, refused with one that did not', async () => {
  // rot-b: signed with B only, cached while A and B were trusted.
  await cosignSign(reg, B, 'fw/rot-b', await push('rot-b'), 'legacy');
  // rot-ab: signed with A (legacy) and B (bundle), cached while only A was trusted.
  const dab = await push('rot-ab');
  await cosignSign(reg, A, 'fw/rot-ab', dab, 'legacy');
  await cosignSign(reg, B, 'fw/rot-ab', dab, 'bundle');
  const cacheDir = tempDir();
  let s = await serve(cacheDir, { 'cosign-pub-key-path': keysAB });
  expect((await get(s, 'firmware', 'rot-b')).status).toBe(200);
  s = await restart(s, cacheDir, { 'cosign-pub-key-path': A.pub });
  expect((await get(s, 'firmware', 'rot-ab')).status).toBe(200);

  await reg.stop();
  s = await restart(s, cacheDir, { 'cosign-pub-key-path': B.pub });
  expect(await ready(s)).toBe(200);
  for (const device of ['rot-b', 'rot-ab']) {
    const v = await get(s, 'version', device);
    expect(v.status).toBe(200);
    expect(v.text.split('\n')[0]).toBe('1.0.0');
    const fw = await get(s, 'firmware', device);
    expect(fw.status).toBe(200);
    expect(Buffer.compare(fw.body, Buffer.from(image(device)))).toBe(0);
  }
  expect(s.logs.some((l) => l.includes('serving last good release'))).toBe(true);

  s = await restart(s, cacheDir, { 'cosign-pub-key-path': C.pub });
  expect(await ready(s)).toBe(503);
  for (const device of ['rot-b', 'rot-ab']) {
    expect(await get(s, 'version', device)).toMatchObject(unavailable(device));
    expect(await get(s, 'firmware', device)).toMatchObject(unavailable(device));
  }
  expect(s.logs.some((l) => l.includes('cached release not served') && l.includes('refused offline'))).toBe(true);
}, 120_000);

test("another registry's firmware is never served: a switched registry and prefix get 503, the original one the cached copy", async () => {
  await push('sw');
  const cacheDir = tempDir();
  let s = await serve(cacheDir);
  expect((await get(s, 'firmware', 'sw')).status).toBe(200);
  await reg.stop();

  const elsewhere = `127.0.0.1:${await freePort()}`; // registry B: nothing listens there
  s = await restart(s, cacheDir, { 'registry-url': elsewhere, 'repository-prefix': 'other' });
  expect(await ready(s)).toBe(503);
  expect(await get(s, 'version', 'sw')).toMatchObject(unavailable('sw'));
  expect(await get(s, 'firmware', 'sw')).toMatchObject(unavailable('sw'));
  expect(s.logs.some((l) => l.includes('cached release not served') && l.includes(`fetched from source.oci http://${reg.host}/fw/sw`))).toBe(true);

  s = await restart(s, cacheDir, { 'repository-prefix': 'other' }); // same registry, another repository
  expect(await get(s, 'version', 'sw')).toMatchObject({ status: 503 });

  s = await restart(s, cacheDir); // back to registry A (still down): its copy is served
  expect(await ready(s)).toBe(200);
  const fw = await get(s, 'firmware', 'sw');
  expect(fw.status).toBe(200);
  expect(Buffer.compare(fw.body, Buffer.from(image('sw')))).toBe(0);
}, 60_000);

test('/ready after a warm restart with the registry down: 200 before any device polls; 503 while a known device has nothing servable', async () => {
  await push('warm-1');
  await push('warm-2');
  const cacheDir = tempDir();
  let s = await serve(cacheDir);
  for (const d of ['warm-1', 'warm-2']) expect((await get(s, 'version', d)).status).toBe(200);
  await reg.stop();
  s = await restart(s, cacheDir);
  const r = await fetch(`${s.url}/ready`);
  expect(r.status).toBe(200);
  expect(((await r.json()) as { ready: boolean }).ready).toBe(true);
  expect(s.runtime.resolver.snapshot()).toEqual([]); // nothing polled: the answer came from the cache folder

  // A known device whose cached release is gone: the instance cannot serve it, so it is not ready.
  for (const n of readdirSync(join(cacheDir, 'blobs', 'sha256'))) rmSync(join(cacheDir, 'blobs', 'sha256', n));
  s = await restart(s, cacheDir);
  expect(await ready(s)).toBe(503);
}, 60_000);

test('the bound across a restart with the registry down: the most recent release stays, the evicted ones come back when it is up', async () => {
  for (const d of ['lru-1', 'lru-2', 'lru-3']) await push(d);
  const cacheDir = tempDir();
  let s = await serve(cacheDir);
  for (const d of ['lru-1', 'lru-2', 'lru-3']) {
    expect((await get(s, 'firmware', d)).status).toBe(200);
    await Bun.sleep(20); // distinct last-use times on disk
  }
  await reg.stop();
  s = await restart(s, cacheDir, { 'cache-size': 1 });
  expect(await ready(s)).toBe(200); // only lru-3 is still known from the cache folder, and it is servable
  const kept = await get(s, 'firmware', 'lru-3');
  expect(Buffer.compare(kept.body, Buffer.from(image('lru-3')))).toBe(0);
  expect(await get(s, 'version', 'lru-1')).toMatchObject(unavailable('lru-1'));

  await reg.start();
  s.runtime.resolver.invalidate('lru-1');
  const back = await get(s, 'firmware', 'lru-1');
  expect(back.status).toBe(200);
  expect(Buffer.compare(back.body, Buffer.from(image('lru-1')))).toBe(0);
  expect(s.runtime.cache.kept().length).toBe(1);
}, 60_000);

test('stored signatures are checked, not trusted: evidence altered on disk is refused offline', async () => {
  await cosignSign(reg, B, 'fw/tamper', await push('tamper'), 'legacy');
  const cacheDir = tempDir();
  let s = await serve(cacheDir, { 'cosign-pub-key-path': keysAB });
  expect((await get(s, 'version', 'tamper')).status).toBe(200);
  await reg.stop();
  await s.close();
  servers.splice(servers.indexOf(s), 1);

  const path = join(cacheDir, 'devices', 'tamper.json');
  const record = JSON.parse(readFileSync(path, 'utf8')) as { evidence: { legacy: { payload: string }[] } };
  const payload = Buffer.from(record.evidence.legacy[0]!.payload, 'base64').toString('utf8');
  record.evidence.legacy[0]!.payload = Buffer.from(payload.replace('"critical"', '"critical" ')).toString('base64');
  writeFileSync(path, JSON.stringify(record));

  s = await serve(cacheDir, { 'cosign-pub-key-path': B.pub });
  expect(await get(s, 'version', 'tamper')).toMatchObject(unavailable('tamper'));
  expect(s.logs.some((l) => l.includes('refused offline') && l.includes('wrong-key'))).toBe(true);
}, 60_000);
