/**
 * verifier.cosign and the registry: it checks the digest the source pinned (never the tag again),
 * finds bundles through the referrers API when the registry has it, turns registry refusals into
 * verdicts, and throws only when the registry is unreachable (so the core serves its last good copy).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { UpstreamUnavailable } from '../../src/core/errors.ts';
import type { Artifact } from '../../src/plugin.ts';
import { cosign } from '../../src/plugins/verifier/cosign/index.ts';
import { device, ociFor } from '../oci/helpers.ts';
import { pushArtifact, startRegistry, type TestRegistry } from '../support/registry.ts';
import { MEDIA, copyTag, cosignSign, generateKeyPair, pushLegacySignature, sigTag, type CosignKeyPair } from '../support/cosign.ts';
import { pushBlob, pushManifest } from '../support/registry.ts';

let reg: TestRegistry;
let operator: CosignKeyPair;

beforeAll(async () => {
  [reg, operator] = await Promise.all([startRegistry(), generateKeyPair()]);
});
afterAll(() => reg?.close());

async function resolveTag(id: string, tag: string, url?: string): Promise<Artifact> {
  const source = await ociFor(reg, url ? { url, insecure: true } : {});
  const version = (await source.versions(device(id))).find((v) => v.tag === tag);
  if (!version) throw new Error(`no ${tag}`);
  return source.resolve(device(id), version);
}

test('the pinned digest is verified, whatever the tag points to by then (no tag re-resolution)', async () => {
  const repo = 'fw/pinned';
  const signed = await pushArtifact(reg, repo, '1.0.0', [{ name: 'fw.bin', data: 'signed build' }]);
  await cosignSign(reg, operator, repo, signed, 'legacy');
  const before = await resolveTag('pinned', '1.0.0');
  // The tag moves to unsigned bytes after the source pinned the signed digest…
  const unsigned = await pushArtifact(reg, repo, '1.0.0', [{ name: 'fw.bin', data: 'unsigned swap' }]);
  const logStart = reg.accessLog().length;
  expect(await cosign({ keys: [operator.pub] }).verify(device('pinned'), before)).toMatchObject({ ok: true });
  // …and the other way round: pinned on unsigned bytes, the tag moved back to the signed ones.
  const pinnedUnsigned = await resolveTag('pinned', '1.0.0');
  expect(pinnedUnsigned.digest).toBe(unsigned);
  await pushArtifact(reg, repo, '1.0.0', [{ name: 'fw.bin', data: 'signed build' }]);
  expect(await cosign({ keys: [operator.pub] }).verify(device('pinned'), pinnedUnsigned)).toMatchObject({ ok: false, reason: 'unsigned' });
  await reg.blobGets();
  const tagReads = reg.accessLog().slice(logStart).filter((l) => l.includes('"GET /v2/fw/pinned/manifests/1.0.0 '));
  expect(tagReads.length).toBe(1); // only the source's second resolve, never the verifier
});

test('bundles are found through the referrers API when the registry offers it (fallback tag hidden)', async () => {
  const repo = 'fw/referrers';
  const d = await pushArtifact(reg, repo, '1.0.0', [{ name: 'fw.bin', data: 'referred' }]);
  await cosignSign(reg, operator, repo, d, 'bundle');
  const proxy = referrersProxy(reg);
  try {
    const artifact = await resolveTag('referrers', '1.0.0', proxy.host);
    expect(await cosign({ keys: [operator.pub], layouts: ['bundle'] }).verify(device('referrers'), artifact)).toMatchObject({ ok: true, by: expect.stringContaining('(bundle)') });
    expect(proxy.referrerCalls).toBe(1);
    expect(proxy.hiddenFallbackHits).toBe(0);
  } finally {
    proxy.stop();
  }
});

test('a signature payload corrupted in storage is a registry-error verdict, not a throw, not ok', async () => {
  const repo = 'fw/storage';
  const d = await pushArtifact(reg, repo, '1.0.0', [{ name: 'fw.bin', data: 'stored' }]);
  await cosignSign(reg, operator, repo, d, 'legacy');
  const sig = await (await reg.fetch(`/v2/${repo}/manifests/${sigTag(d)}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } }, repo)).json() as { layers: { digest: string }[] };
  const payloadDigest = sig.layers[0]?.digest ?? '';
  writeFileSync(reg.blobPath(payloadDigest), '{"critical":{"tampered":true}}');
  const verdict = await cosign({ keys: [operator.pub] }).verify(device('storage'), await resolveTag('storage', '1.0.0'));
  expect(verdict).toMatchObject({ ok: false, reason: 'registry-error' });
});

test('registry unreachable while verifying: UpstreamUnavailable is thrown (the core keeps its last good copy)', async () => {
  const other = await startRegistry();
  try {
    const repo = 'fw/outage';
    await pushArtifact(other, repo, '1.0.0', [{ name: 'fw.bin', data: 'x' }]);
    const source = await ociFor(other);
    const artifact = await source.resolve(device('outage'), (await source.versions(device('outage')))[0]!);
    await other.stop();
    const err = await cosign({ keys: [operator.pub] }).verify(device('outage'), artifact).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamUnavailable);
  } finally {
    await other.close();
  }
});

test('a payload declaring more than the bound is refused as too-large without being fetched', async () => {
  const repo = 'fw/bigpayload';
  const d = await pushArtifact(reg, repo, '1.0.0', [{ name: 'fw.bin', data: 'big' }]);
  const big = new Uint8Array(100 << 10).fill(0x20);
  const blob = await pushBlob(reg, repo, big);
  const cfg = await pushBlob(reg, repo, '{}');
  await pushManifest(reg, repo, sigTag(d), { schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { mediaType: MEDIA.ociConfig, size: 2, digest: cfg }, layers: [{ mediaType: MEDIA.simpleSigning, size: big.byteLength, digest: blob, annotations: { 'dev.cosignproject.cosign/signature': 'MEUCIQ==' } }] }, MEDIA.ociManifest);
  const verdict = await cosign({ keys: [operator.pub] }).verify(device('bigpayload'), await resolveTag('bigpayload', '1.0.0'));
  expect(verdict).toMatchObject({ ok: false, reason: 'too-large' });
  expect(await reg.blobGets({ digest: blob })).toBe(0);
});

test('both layouts present: a good bundle wins over a bad legacy signature; two bad ones report the most telling', async () => {
  const repo = 'fw/mixed';
  const signed = await pushArtifact(reg, repo, '1.0.0', [{ name: 'fw.bin', data: 'one' }]);
  const d = await pushArtifact(reg, repo, '2.0.0', [{ name: 'fw.bin', data: 'two' }]);
  await cosignSign(reg, operator, repo, signed, 'legacy');
  await copyTag(reg, repo, sigTag(signed), sigTag(d), MEDIA.ociManifest); // legacy: digest-mismatch
  const stranger = await generateKeyPair();
  await cosignSign(reg, stranger, repo, d, 'bundle'); // bundle: wrong-key
  const artifact = await resolveTag('mixed', '2.0.0');
  expect(await cosign({ keys: [operator.pub] }).verify(device('mixed'), artifact)).toMatchObject({ ok: false, reason: 'digest-mismatch' });
  await cosignSign(reg, operator, repo, d, 'bundle');
  expect(await cosign({ keys: [operator.pub] }).verify(device('mixed'), artifact)).toMatchObject({ ok: true, by: expect.stringContaining('(bundle)') });
  await pushLegacySignature(reg, repo, d, []); // an empty .sig manifest is no signature
  expect(await cosign({ keys: [operator.pub], layouts: ['legacy'] }).verify(device('mixed'), artifact)).toMatchObject({ ok: false, reason: 'unsigned' });
});

/**
 * An HTTP front for the registry that implements the referrers API (from the fallback index the
 * registry holds) and hides the fallback tag, so only the referrers path can find bundles.
 */
function referrersProxy(upstream: TestRegistry): { host: string; referrerCalls: number; hiddenFallbackHits: number; stop(): void } {
  const state = { referrerCalls: 0, hiddenFallbackHits: 0 };
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const referrers = /^\/v2\/(.+)\/referrers\/(sha256):([a-f0-9]{64})$/.exec(url.pathname);
      if (referrers) {
        state.referrerCalls++;
        const res = await fetch(`${upstream.url}/v2/${referrers[1]}/manifests/${referrers[2]}-${referrers[3]}`, { headers: { accept: 'application/vnd.oci.image.index.v1+json' } });
        const body = res.ok ? await res.text() : JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] });
        return new Response(body, { headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' } });
      }
      if (/\/manifests\/sha256-[a-f0-9]{64}$/.test(url.pathname)) {
        state.hiddenFallbackHits++;
        return Response.json({ errors: [{ code: 'MANIFEST_UNKNOWN' }] }, { status: 404 });
      }
      const res = await fetch(upstream.url + url.pathname + url.search, { method: req.method, headers: req.headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : await req.arrayBuffer() });
      const headers = new Headers(res.headers);
      headers.delete('content-encoding');
      return new Response(await res.arrayBuffer(), { status: res.status, headers });
    },
  });
  return {
    host: `127.0.0.1:${server.port}`,
    get referrerCalls() { return state.referrerCalls; },
    get hiddenFallbackHits() { return state.hiddenFallbackHits; },
    stop: () => server.stop(true),
  };
}
