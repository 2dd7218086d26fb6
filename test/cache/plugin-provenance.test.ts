// Provenance rules for third-party plugins, across restarts with the source down: a verifier
// without offline re-verification gets a cached release only when its identity is exactly the
// recorded one; a verifier with `verifyOffline` is handed the evidence its verdict returned; a
// changed extractor chain refuses the cached release. Refused: 503 with the documented body.
import { afterEach, expect, test } from 'bun:test';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { memorySource, type MemorySource } from '../support/test-plugins.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { Composer, type Composition } from '../../src/core/composition.ts';
import type { ExtractSpec } from '../../src/core/extract-chain.ts';
import { PLUGIN_API_VERSION, type VerifierPlugin } from '../../src/plugin.ts';
import { raw } from '../../src/plugins/extractor/raw.ts';

const servers: TestServer[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });

async function serve(source: MemorySource, cacheDir: string, verifier: VerifierPlugin, extract: ExtractSpec = 'auto'): Promise<TestServer> {
  const s = await startTestServer({
    flags: { 'firmware-dir': firmwareDir({ x: {} }).root, 'cache-dir': cacheDir, 'refresh-interval': 0 },
    edit(settings) {
      const comp: Composition = { source, verifier, extract, auth: 'none', allowPrerelease: false, options: {}, matchedBy: 'defaults' };
      settings.composer = new Composer([], comp);
    },
  });
  servers.push(s);
  return s;
}

/** A verifier trusting a named list; `offline` adds re-verification of the evidence it returns. */
function listVerifier(list: string, trusted: Set<string>, offline = false): VerifierPlugin & { offlineCalls: unknown[] } {
  const v: VerifierPlugin & { offlineCalls: unknown[] } = {
    kind: 'verifier', id: 'verifier.list-test', apiVersion: PLUGIN_API_VERSION, offlineCalls: [],
    identity: () => `verifier.list-test list=${list}`,
    async verify() {
      return trusted.has('signer-1') ? { ok: true, by: `list ${list}`, evidence: { signer: 'signer-1' } } : { ok: false, reason: 'unsigned' };
    },
  };
  if (offline) {
    v.verifyOffline = (_device, digest, evidence) => {
      v.offlineCalls.push({ digest, evidence });
      const signer = (evidence as { signer?: string } | null)?.signer;
      return signer && trusted.has(signer) ? { ok: true, by: `list ${list} (offline)` } : { ok: false, reason: 'wrong-key' };
    };
  }
  return v;
}

const version = async (s: TestServer) => {
  const r = await fetch(`${s.url}/version?device=dev`);
  return { status: r.status, text: await r.text() };
};
const UNAVAILABLE = { status: 503, text: "Firmware source unavailable for device 'dev', retry later" };

test('a verifier without offline re-verification: served only when its identity equals the recorded one', async () => {
  const src = memorySource({ '1.0.0': randomBytes(500) });
  const cacheDir = tempDir();
  const first = await serve(src, cacheDir, listVerifier('one', new Set(['signer-1'])));
  expect((await version(first)).status).toBe(200);
  await first.close();
  servers.pop();
  src.down = true;

  const same = await serve(src, cacheDir, listVerifier('one', new Set(['signer-1'])));
  expect((await version(same)).text.split('\n')[0]).toBe('1.0.0');
  await same.close();
  servers.pop();

  const other = await serve(src, cacheDir, listVerifier('two', new Set(['signer-1'])));
  expect(await version(other)).toEqual(UNAVAILABLE);
  expect(other.logs.some((l) => l.includes('no offline re-verification'))).toBe(true);
});

test('a verifier with verifyOffline gets the evidence its verdict returned, and decides', async () => {
  const img = randomBytes(500);
  const src = memorySource({ '1.0.0': img });
  const cacheDir = tempDir();
  const first = await serve(src, cacheDir, listVerifier('one', new Set(['signer-1']), true));
  expect((await version(first)).status).toBe(200);
  await first.close();
  servers.pop();
  src.down = true;

  const trusting = listVerifier('two', new Set(['signer-1']), true);
  const s = await serve(src, cacheDir, trusting);
  expect((await version(s)).text.split('\n')[0]).toBe('1.0.0');
  const digest = `sha256:${new Bun.CryptoHasher('sha256').update(img).digest('hex')}`;
  expect(trusting.offlineCalls).toEqual([{ digest, evidence: { signer: 'signer-1' } }]);
  expect(s.runtime.resolver.snapshot()[0]?.release?.verifiedBy).toBe('list two (offline)');
  await s.close();
  servers.pop();

  const refusing = listVerifier('three', new Set(['signer-2']), true);
  const r = await serve(src, cacheDir, refusing);
  expect(await version(r)).toEqual(UNAVAILABLE);
  expect(refusing.offlineCalls.length).toBe(1);
});

test('a changed extractor chain does not get a release extracted by another', async () => {
  const src = memorySource({ '1.0.0': randomBytes(500) });
  const cacheDir = tempDir();
  const verifier = listVerifier('one', new Set(['signer-1']));
  const first = await serve(src, cacheDir, verifier);
  expect((await version(first)).status).toBe(200);
  await first.close();
  servers.pop();
  src.down = true;
  const s = await serve(src, cacheDir, verifier, [raw()]);
  expect(await version(s)).toEqual(UNAVAILABLE);
  expect(s.logs.some((l) => l.includes('extracted with auto, configured chain is extractor.raw'))).toBe(true);
});

test('a record without provenance (written by an earlier OtaFlux) is not served from the cache', async () => {
  const src = memorySource({ '1.0.0': randomBytes(500) });
  const cacheDir = tempDir();
  const verifier = listVerifier('one', new Set(['signer-1']));
  const first = await serve(src, cacheDir, verifier);
  expect((await version(first)).status).toBe(200);
  await first.close();
  servers.pop();
  const path = join(cacheDir, 'devices', 'dev.json');
  const { release } = JSON.parse(readFileSync(path, 'utf8')) as { release: Record<string, unknown> };
  delete release.provenance;
  writeFileSync(path, JSON.stringify(release)); // the earlier format: a bare release
  src.down = true;
  const s = await serve(src, cacheDir, verifier);
  expect(await version(s)).toEqual(UNAVAILABLE);
  src.down = false;
  s.runtime.resolver.invalidate('dev');
  expect((await version(s)).status).toBe(200);
  expect((JSON.parse(readFileSync(path, 'utf8')) as { release: { provenance?: unknown } }).release.provenance).toBeDefined();
});
