// `otaflux/testing` on the example plugin (plugins/url-list-source.ts): the harness runs the load
// checks, setup, validate, the kind's methods and close, against a real local HTTP server.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { PLUGIN_API_VERSION, type AuthenticatorPlugin, type ExtractorPlugin, type SourcePlugin, type VerifierPlugin } from 'otaflux';
import {
  checkPlugin, fakeArtifact, fakeContext, fakeDevice, fakeRequest, PluginCheckError, runAuthenticator, runExtractor, runSource, runVerifier,
} from 'otaflux/testing';
import { gzip } from 'otaflux';
import { urlList } from '../../plugins/url-list-source.ts';

const image = new Uint8Array(4096).map((_, i) => (i * 31) % 251);
const sha = (b: Uint8Array) => new Bun.CryptoHasher('sha256').update(b).digest('hex');
let server: ReturnType<typeof Bun.serve>;
let base: string;

beforeAll(() => {
  server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: (req) => (new URL(req.url).pathname === '/fw-1.2.0.bin' ? new Response(image) : new Response('gone', { status: 404 })),
  });
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(() => server.stop(true));

function plugin() {
  return urlList({
    devices: {
      'esp32-demo': {
        '1.1.0': { url: `${base}/missing.bin`, sha256: sha(new Uint8Array([1])) },
        'v1.2.0': { url: `${base}/fw-1.2.0.bin`, sha256: sha(image) },
        '2.0.0-rc.1': { url: `${base}/missing.bin`, sha256: sha(new Uint8Array([2])) },
      },
    },
  });
}

test('checkPlugin passes the example plugin and refuses a broken copy of it with the loader\'s lines', () => {
  expect(checkPlugin(plugin()).id).toBe('source.url-list');
  const { versions: _, ...broken } = plugin();
  const err = (() => { try { checkPlugin({ ...broken, apiVersion: 3 }); } catch (e) { return e; } })() as PluginCheckError;
  expect(err).toBeInstanceOf(PluginCheckError);
  expect(err.problems).toEqual([
    'plugin source.url-list targets plugin API 3, but this OtaFlux speaks plugin API 2 (and loads plugins written for 1, 2): update the plugin or OtaFlux',
    'plugin source.url-list: missing method versions()',
  ]);
  expect(() => checkPlugin({ ...plugin(), id: 'source.dir' })).toThrow('this id belongs to a built-in plugin');
});

test('runSource: the version OtaFlux would pick, its bytes, and the setup log line', async () => {
  const r = await runSource(plugin(), fakeDevice('esp32-demo'));
  expect(r.versions.map((v) => v.version).sort()).toEqual(['1.1.0', '1.2.0', '2.0.0-rc.1']);
  expect(r.chosen).toEqual({ version: '1.2.0', tag: 'v1.2.0' });
  expect(r.artifact?.digest).toBe(`sha256:${sha(image)}`);
  expect(Buffer.from(r.bytes!).equals(Buffer.from(image))).toBe(true);
  expect(r.logs).toContainEqual({ level: 'info', msg: 'url list loaded', fields: { plugin: 'source.url-list', devices: 1, versions: 3 } });
});

test('runSource: a prerelease only for a device that allows them; an unknown device has nothing', async () => {
  await expect(runSource(plugin(), fakeDevice('esp32-demo', { allowPrerelease: true }))).rejects.toThrow('404');
  const none = await runSource(plugin(), fakeDevice('other'));
  expect(none.versions).toEqual([]);
  expect(none.chosen).toBeUndefined();
});

test('runSource: bytes that do not match the pinned digest fail, and validate runs', async () => {
  const wrong = urlList({ devices: { d: { '1.0.0': { url: `${base}/fw-1.2.0.bin`, sha256: sha(new Uint8Array([9])) } } } });
  await expect(runSource(wrong, fakeDevice('d'))).rejects.toThrow('digest mismatch');
  await expect(runSource(urlList({ devices: {} }), fakeDevice('d'))).rejects.toThrow('no devices listed');
});

test('the fake context: state folder exists until cleanup, abort fires the signal, close is called', async () => {
  const ctx = fakeContext({ pluginId: 'source.probe' });
  let seen: { stateDir: string; aborted: boolean } | undefined;
  let closed = false;
  const probe: SourcePlugin = {
    kind: 'source', id: 'source.probe', apiVersion: PLUGIN_API_VERSION,
    setup: (c) => { seen = { stateDir: c.stateDir, aborted: c.signal.aborted }; },
    close: () => { closed = true; },
    versions: async () => [], resolve: async () => { throw new Error('unused'); },
  };
  await runSource(probe, fakeDevice('d'), { context: ctx });
  expect(seen).toEqual({ stateDir: ctx.stateDir, aborted: false });
  expect(closed).toBe(true);
  expect(ctx.signal.aborted).toBe(true);
  expect(existsSync(ctx.stateDir)).toBe(true);
  ctx.cleanup();
  expect(existsSync(ctx.stateDir)).toBe(false);
});

test('runVerifier, runExtractor and runAuthenticator on small plugins and built-ins', async () => {
  const picky: VerifierPlugin = { kind: 'verifier', id: 'verifier.acme.picky', apiVersion: PLUGIN_API_VERSION,
    verify: async (_d, a) => (a.size === 3 ? { ok: true, by: 'size' } : { ok: false, reason: 'wrong-size' }) };
  expect((await runVerifier(picky, fakeDevice('d'), fakeArtifact(new Uint8Array([1, 2, 3])))).verdict).toEqual({ ok: true, by: 'size' });
  expect((await runVerifier(picky, fakeDevice('d'), fakeArtifact(new Uint8Array([1])))).verdict).toEqual({ ok: false, reason: 'wrong-size' });
  const sloppy = { ...picky, verify: async () => ({ ok: 'yes' }) } as unknown as VerifierPlugin;
  await expect(runVerifier(sloppy, fakeDevice('d'), fakeArtifact(new Uint8Array([1])))).rejects.toThrow('expected { ok: true, by } or { ok: false, reason }');

  const x = await runExtractor(gzip(), gzipSync(image));
  expect(x.detected).toBe(true);
  expect(Buffer.from(x.output).equals(Buffer.from(image))).toBe(true);
  const upper: ExtractorPlugin = { kind: 'extractor', id: 'extractor.acme-upper', apiVersion: PLUGIN_API_VERSION,
    extract: (input) => input.pipeThrough(new TransformStream({ transform: (c: Uint8Array, ctl) => ctl.enqueue(c.map((b) => (b >= 97 && b <= 122 ? b - 32 : b))) })) };
  expect(new TextDecoder().decode((await runExtractor(upper, new TextEncoder().encode('abc1'))).output)).toBe('ABC1');

  const hdr: AuthenticatorPlugin = { kind: 'authenticator', id: 'auth.acme-header', apiVersion: PLUGIN_API_VERSION,
    authenticate: (req) => (req.headers['x-key'] === undefined ? { outcome: 'skip' } : req.headers['x-key'] === 'ok' ? { outcome: 'allow', identity: 'key:ok' } : { outcome: 'deny', status: 401, reason: 'bad key' }) };
  expect((await runAuthenticator(hdr, fakeRequest('d', { headers: { 'X-Key': 'ok' } }))).decision).toEqual({ outcome: 'allow', identity: 'key:ok' });
  expect((await runAuthenticator(hdr, fakeRequest('d'))).decision).toEqual({ outcome: 'skip' });
  expect((await runAuthenticator(hdr, fakeRequest('d', { headers: { 'x-key': 'no' } }))).decision).toEqual({ outcome: 'deny', status: 401, reason: 'bad key' });
  const vague = { ...hdr, authenticate: () => ({ outcome: 'allow' }) } as unknown as AuthenticatorPlugin;
  await expect(runAuthenticator(vague, fakeRequest('d'))).rejects.toThrow('expected allow with an identity');
});
