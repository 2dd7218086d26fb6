// Resolver policies through the real HTTP front door: newest verified version wins, stale copy
// when the source is down (also after a restart), single flight, failed downloads keep the good copy.
import { afterEach, expect, test } from 'bun:test';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startTestServer, type TestServer } from '../support/server.ts';
import { memorySource, allowListVerifier, type MemorySource } from '../support/test-plugins.ts';
import { tempDir } from '../support/tmp.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { Composer, type Composition } from '../../src/core/composition.ts';
import { sha256Digest } from '../../src/core/hashing.ts';
import type { VerifierPlugin } from '../../src/plugin.ts';
import { none } from '../../src/plugins/verifier/none.ts';

const servers: TestServer[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });

async function serve(source: MemorySource, opts: { verifier?: VerifierPlugin; cacheDir?: string; refresh?: number } = {}) {
  const placeholder = firmwareDir({ x: {} }).root;
  const s = await startTestServer({
    flags: { 'firmware-dir': placeholder, 'cache-dir': opts.cacheDir ?? tempDir(), 'refresh-interval': opts.refresh ?? 60 },
    edit(settings) {
      const comp: Composition = { source, verifier: opts.verifier ?? none(), extract: 'auto', auth: 'none', allowPrerelease: false, options: {}, matchedBy: 'defaults' };
      settings.composer = new Composer([], comp);
    },
  });
  servers.push(s);
  return s;
}

const version = async (s: TestServer) => { const r = await fetch(`${s.url}/version?device=dev`); return { status: r.status, text: await r.text() }; };

test('the newest version the verifier accepts is served; rejections are logged once', async () => {
  const good = randomBytes(100), unsigned = randomBytes(100);
  const src = memorySource({ '1.0.0': good, '2.0.0': unsigned });
  const verifier = allowListVerifier(new Set([sha256Digest(good)]));
  const s = await serve(src, { verifier, refresh: 0 });
  for (let i = 0; i < 3; i++) expect((await version(s)).text.split('\n')[0]).toBe('1.0.0');
  const body = Buffer.from(await (await fetch(`${s.url}/firmware?device=dev`)).arrayBuffer());
  expect(Buffer.compare(body, good)).toBe(0);
  expect(s.logs.filter((l) => l.includes('version rejected by verifier')).length).toBe(1);
  expect(verifier.callsFor.get(sha256Digest(good))).toBe(1); // an accepted digest is not verified again
  expect(verifier.callsFor.get(sha256Digest(unsigned))).toBe(4); // refresh 0: a rejection is asked again at each lookup
});

test('a version signed after its first poll is served at the next refresh or push, not rejected for good', async () => {
  const good = randomBytes(100), later = randomBytes(100);
  const allowed = new Set([sha256Digest(good)]);
  const verifier = allowListVerifier(allowed);
  const s = await serve(memorySource({ '1.0.0': good, '2.0.0': later }), { verifier, refresh: 60 });
  expect((await version(s)).text.split('\n')[0]).toBe('1.0.0');
  allowed.add(sha256Digest(later)); // `cosign sign` after `oras push`
  expect((await version(s)).text.split('\n')[0]).toBe('1.0.0'); // the answer holds for the refresh interval
  await s.runtime.devices.refresh('dev'); // what the Harbor webhook does on the signature's push
  expect((await version(s)).text.split('\n')[0]).toBe('2.0.0');
  expect(verifier.callsFor.get(sha256Digest(later))).toBe(2);
});

test('no version verifies → 404 and no firmware bytes', async () => {
  const src = memorySource({ '1.0.0': randomBytes(10) });
  const s = await serve(src, { verifier: allowListVerifier(new Set()) });
  const v = await version(s);
  expect(v).toEqual({ status: 404, text: "No verified firmware for device 'dev'" });
  const f = await fetch(`${s.url}/firmware?device=dev`);
  expect(f.status).toBe(404);
  expect((await f.arrayBuffer()).byteLength).toBeLessThan(100);
});

test('source down: the last good release keeps being served, also after a restart', async () => {
  const img = randomBytes(5000);
  const src = memorySource({ '1.2.3': img });
  const cacheDir = tempDir();
  const s = await serve(src, { cacheDir, refresh: 0 });
  expect((await version(s)).status).toBe(200);
  src.down = true;
  expect((await version(s)).text.split('\n')[0]).toBe('1.2.3');
  await s.close();
  servers.pop();
  const again = await serve(src, { cacheDir, refresh: 0 });
  expect((await version(again)).text.split('\n')[0]).toBe('1.2.3');
  const body = Buffer.from(await (await fetch(`${again.url}/firmware?device=dev`)).arrayBuffer());
  expect(Buffer.compare(body, img)).toBe(0);
  expect(again.logs.some((l) => l.includes('serving last good release'))).toBe(true);
});

test('source down and nothing cached → 503 with Retry-After, and the source is not asked again at once', async () => {
  const src = memorySource({ '1.0.0': randomBytes(10) });
  src.down = true;
  const s = await serve(src);
  const r = await fetch(`${s.url}/version?device=dev`);
  expect(r.status).toBe(503);
  expect(r.headers.get('retry-after')).toBe('30');
  expect(await r.text()).toBe("Firmware source unavailable for device 'dev', retry later");
  const calls = src.calls.versions;
  expect((await version(s)).status).toBe(503);
  expect(src.calls.versions).toBe(calls);
});

test('a hundred concurrent first requests share one lookup and one download', async () => {
  const src = memorySource({ '3.0.0': randomBytes(200_000) });
  const s = await serve(src);
  const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => fetch(`${s.url}/${i % 2 ? 'version' : 'firmware'}?device=dev`).then((r) => r.status)));
  expect(answers.every((x) => x === 200)).toBe(true);
  expect(src.calls).toEqual({ versions: 1, resolve: 1, open: 1 });
});

test('a download that fails half-way never replaces the good copy nor leaves a partial blob', async () => {
  const v1 = randomBytes(4000), v2 = randomBytes(4000);
  const src = memorySource({ '1.0.0': v1 });
  const cacheDir = tempDir();
  const s = await serve(src, { cacheDir, refresh: 0 });
  expect((await version(s)).text.split('\n')[0]).toBe('1.0.0');
  src.images.set('2.0.0', v2);
  src.breakDownloads = true;
  expect((await version(s)).text.split('\n')[0]).toBe('1.0.0');
  const body = Buffer.from(await (await fetch(`${s.url}/firmware?device=dev`)).arrayBuffer());
  expect(Buffer.compare(body, v1)).toBe(0);
  expect(readdirSync(join(cacheDir, 'blobs', 'sha256'))).toEqual([new Bun.CryptoHasher('sha256').update(v1).digest('hex')]);
  expect(readdirSync(join(cacheDir, 'tmp'))).toEqual([]);
  src.breakDownloads = false;
  expect((await version(s)).text.split('\n')[0]).toBe('2.0.0');
});

test('the answer is reused for the refresh interval, then the source is asked again', async () => {
  const src = memorySource({ '1.0.0': randomBytes(10) });
  const s = await serve(src, { refresh: 60 });
  await version(s);
  src.images.set('1.1.0', randomBytes(10));
  for (let i = 0; i < 5; i++) expect((await version(s)).text.split('\n')[0]).toBe('1.0.0');
  expect(src.calls.versions).toBe(1);
  s.runtime.resolver.invalidate('dev');
  expect((await version(s)).text.split('\n')[0]).toBe('1.1.0');
});
