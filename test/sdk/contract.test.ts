// What the plugin contract promises, held against the running host: the cancellation signals
// (shutdown, the lookup timeout) reach versions, resolve, verify, open and extract; a source is
// handed what it resolved last time, so a source without digests of its own is not read again
// for an unchanged image; and each plugin instance gets a state folder of its own.
import { afterEach, expect, test } from 'bun:test';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/tmp.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { Composer, deviceRef, type Composition } from '../../src/core/composition.ts';
import { Resolver } from '../../src/core/resolver.ts';
import { PluginHost } from '../../src/core/plugin-host.ts';
import { SourceUnavailable } from '../../src/core/errors.ts';
import { fakeLogger } from '../../src/testing/index.ts';
import {
  PLUGIN_API_VERSION, sha256Digest, type Artifact, type ExtractorPlugin, type PluginContext, type ResolveOptions, type SourcePlugin, type VerifierPlugin,
} from '../../src/public-api.ts';
import { none } from '../../src/plugins/verifier/none.ts';

const servers: TestServer[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });

async function serve(comp: Partial<Composition> & { source: SourcePlugin }, refresh = 60): Promise<TestServer> {
  const s = await startTestServer({
    flags: { 'firmware-dir': firmwareDir({ x: {} }).root, 'cache-dir': tempDir(), 'refresh-interval': refresh },
    edit(settings) {
      settings.composer = new Composer([], { verifier: none(), extract: 'auto', auth: 'none', allowPrerelease: false, options: {}, matchedBy: 'defaults', ...comp });
    },
  });
  servers.push(s);
  return s;
}

/** A source that waits until its signal aborts, and says why it stopped. */
function hangingSource(): SourcePlugin & { seen: AbortSignal[] } {
  const seen: AbortSignal[] = [];
  return {
    kind: 'source', id: 'source.hang-test', apiVersion: PLUGIN_API_VERSION, seen,
    versions(_d, signal) {
      if (!signal) return Promise.reject(new Error('no signal handed to versions()'));
      seen.push(signal);
      return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
    },
    resolve: () => Promise.reject(new Error('unused')),
  };
}

test('versions, resolve, verify, open and extract each get the lookup signal', async () => {
  const bytes = new TextEncoder().encode('image');
  const got: Record<string, AbortSignal | undefined> = {};
  const source: SourcePlugin = {
    kind: 'source', id: 'source.signal-test', apiVersion: PLUGIN_API_VERSION,
    async versions(_d, signal) { got.versions = signal; return [{ version: '1.0.0', tag: '1.0.0' }]; },
    async resolve(_d, v, opts) {
      got.resolve = opts?.signal;
      return { version: v.version, tag: v.tag, digest: sha256Digest(bytes), name: 'fw.bin.x', open: async (signal) => { got.open = signal; return new Response(bytes).body as ReadableStream<Uint8Array>; } };
    },
  };
  const verifier: VerifierPlugin = { kind: 'verifier', id: 'verifier.signal-test', apiVersion: PLUGIN_API_VERSION, async verify(_d, _a, signal) { got.verify = signal; return { ok: true, by: 'test' }; } };
  const extractor: ExtractorPlugin = { kind: 'extractor', id: 'extractor.signal-test', apiVersion: PLUGIN_API_VERSION, extract(input, ctx) { got.extract = ctx.signal; return input; } };
  const s = await serve({ source, verifier, extract: [extractor] });
  expect((await fetch(`${s.url}/version?device=dev`)).status).toBe(200);
  for (const call of ['versions', 'resolve', 'verify', 'open', 'extract']) {
    expect(got[call], call).toBeInstanceOf(AbortSignal);
    expect(got[call]?.aborted, call).toBe(false);
  }
  expect(got.resolve).toBe(got.versions as AbortSignal); // one signal per lookup
});

test('shutting the server down aborts the signal of a plugin call in flight', async () => {
  const source = hangingSource();
  const s = await serve({ source });
  const poll = fetch(`${s.url}/version?device=dev`).catch(() => undefined);
  while (source.seen.length === 0) await Bun.sleep(5);
  expect(source.seen[0]?.aborted).toBe(false);
  await s.runtime.close();
  expect(source.seen[0]?.aborted).toBe(true);
  void poll;
});

test('a lookup that outlasts the call timeout is aborted, and the device gets 503 (source unavailable)', async () => {
  const s = await serve({ source: hangingSource() });
  const rt = s.runtime;
  const resolver = new Resolver({
    content: rt.content, releases: rt.releases, budget: rt.cache, events: rt.events, logger: fakeLogger(),
    extractors: [], limits: rt.settings.limits, refreshMs: 60_000, negativeMs: 1000, staleAfterMs: 2000, callTimeoutMs: 30,
  });
  const source = hangingSource();
  const comp: Composition = { source, verifier: none(), extract: 'auto', auth: 'none', allowPrerelease: false, options: {}, matchedBy: 'defaults' };
  const failure = await Promise.resolve(resolver.current(deviceRef('dev', comp), comp)).catch((e) => e);
  expect(source.seen[0]?.aborted).toBe(true);
  expect((source.seen[0]?.reason as Error).name).toBe('TimeoutError');
  expect(failure).toBeInstanceOf(SourceUnavailable);
  expect(failure.status).toBe(503);
});

test('a source is handed what it resolved last time, and an unchanged answer is not downloaded again', async () => {
  const bytes = new TextEncoder().encode('an image served without a digest of its own');
  let etag = 'W/"1"';
  const calls = { resolve: 0, open: 0 };
  const previousSeen: (ResolveOptions['previous'] | undefined)[] = [];
  // Like an HTTP server without digests: the bytes must be read to hash them, unless the ETag held.
  const source: SourcePlugin = {
    kind: 'source', id: 'source.etag-test', apiVersion: PLUGIN_API_VERSION,
    async versions() { return [{ version: '1.0.0', tag: '1.0.0' }]; },
    async resolve(_d, v, opts): Promise<Artifact> {
      calls.resolve++;
      previousSeen.push(opts?.previous);
      const open = async () => { calls.open++; return new Response(bytes).body as ReadableStream<Uint8Array>; };
      const prev = opts?.previous;
      if (prev && prev.meta?.etag === etag) return { ...prev, open };
      calls.open++; // reading it once to hash it
      return { version: v.version, tag: v.tag, digest: sha256Digest(bytes), size: bytes.length, meta: { etag }, open };
    },
  };
  const s = await serve({ source }, 0);
  const first = await fetch(`${s.url}/version?device=dev`);
  expect(first.status).toBe(200);
  expect(calls.open).toBe(2); // hashed, then downloaded into the cache
  expect(previousSeen[0]).toBeUndefined();
  await s.runtime.devices.refresh('dev');
  expect(calls.resolve).toBe(2);
  expect(previousSeen[1]).toMatchObject({ version: '1.0.0', tag: '1.0.0', digest: sha256Digest(bytes), meta: { etag: 'W/"1"' } });
  expect(previousSeen[1]).not.toHaveProperty('open');
  expect(calls.open).toBe(2); // same digest: served from the cache, not read again
  etag = 'W/"2"';
  await s.runtime.devices.refresh('dev');
  expect(calls.open).toBe(3); // a changed ETag: the source hashes it again (the cache still has the digest)
  expect((await fetch(`${s.url}/firmware?device=dev`)).status).toBe(200);
});

test('each plugin instance gets its own state folder, numbered in config order and kept across starts', async () => {
  const root = tempDir();
  const dirs: string[] = [];
  const instance = (): SourcePlugin => ({
    kind: 'source', id: 'source.state-test', apiVersion: PLUGIN_API_VERSION,
    setup(ctx: PluginContext) { dirs.push(ctx.stateDir); },
    versions: async () => [], resolve: () => Promise.reject(new Error('unused')),
  });
  const a = instance(), b = instance();
  const host = new PluginHost(fakeLogger(), root, root);
  await host.start([a, b, a]);
  expect(dirs).toEqual([join(root, 'source.state-test', '1'), join(root, 'source.state-test', '2')]);
  expect(readdirSync(join(root, 'source.state-test')).sort()).toEqual(['1', '2']);
  await host.close();
  dirs.length = 0;
  const again = new PluginHost(fakeLogger(), root, root);
  await again.start([instance(), instance()]);
  expect(dirs).toEqual([join(root, 'source.state-test', '1'), join(root, 'source.state-test', '2')]);
  expect(existsSync(join(root, 'source.state-test', '3'))).toBe(false);
  await again.close();
});
