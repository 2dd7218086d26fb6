/**
 * What goes wrong with registries: pagination, corrupted storage, a tag moved mid-download, a
 * registry stopped, 5xx, timeouts. A real registry wherever it can show the fault; a tiny in-process
 * fake only for what distribution 2.8 cannot do (Link pagination, referrers) or a stalled body.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { pushArtifact, startRegistry, startSilentServer, type TestRegistry } from '../support/registry.ts';
import { FW_TYPE, device, ociFor, randomFirmware, readAll } from './helpers.ts';
import { RegistryClient } from '../../src/plugins/source/oci/client.ts';
import type { OciArtifactMeta } from '../../src/plugins/source/oci/index.ts';
import { UpstreamUnavailable } from '../../src/core/errors.ts';

let reg: TestRegistry;
beforeAll(async () => { reg = await startRegistry(); });
afterAll(async () => { await reg.close(); });

/** A one-fault fake registry: `handler` answers everything, requests are counted. */
function fake(handler: (req: Request, n: number) => Response | Promise<Response>) {
  let n = 0;
  const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: (req) => handler(req, ++n) });
  return { host: `127.0.0.1:${server.port}`, get requests() { return n; }, stop: () => server.stop(true) };
}

const client = (host: string, o: { timeoutMs?: number; retries?: number } = {}) =>
  new RegistryClient({ url: host, insecure: true, timeoutMs: o.timeoutMs ?? 2000, retries: o.retries ?? 1, backoffMs: 20 });

describe('registry faults', () => {
  test('tags/list pagination follows Link headers (relative and absolute)', async () => {
    const f = fake((req) => {
      const u = new URL(req.url);
      const last = u.searchParams.get('last');
      if (!last) return Response.json({ name: 'fw/d', tags: ['1.0.0', 'x'] }, { headers: { link: '</v2/fw/d/tags/list?n=2&last=x>; rel="next"' } });
      if (last === 'x') return Response.json({ name: 'fw/d', tags: ['1.1.0', 'y'] }, { headers: { link: `<http://${u.host}/v2/fw/d/tags/list?n=2&last=y>; rel="next"` } });
      return Response.json({ name: 'fw/d', tags: ['v2.0.0'] });
    });
    expect(await client(f.host).listTags('fw/d')).toEqual(['1.0.0', 'x', '1.1.0', 'y', 'v2.0.0']);
    expect(f.requests).toBe(3);
    f.stop();
  });

  test('pagination that leaves the registry or loops is refused', async () => {
    const away = fake(() => Response.json({ tags: ['1.0.0'] }, { headers: { link: '<http://127.0.0.2:1/v2/x/tags/list?last=a>; rel="next"' } }));
    expect((await client(away.host).listTags('fw/d').catch((e) => e)).message).toBe(`listing tags of ${away.host}/fw/d: pagination link leaves the registry`);
    const loop = fake(() => Response.json({ tags: ['1.0.0'] }, { headers: { link: '</v2/fw/d/tags/list?last=a>; rel="next"' } }));
    expect((await client(loop.host).listTags('fw/d').catch((e) => e)).message).toContain('pagination does not end');
    away.stop();
    loop.stop();
  });

  test('a corrupted blob (same size) errors the stream; a resized one is refused up front', async () => {
    const fw = randomFirmware(100_000);
    await pushArtifact(reg, 'fw/corrupt', '1.0.0', [{ name: 'fw.bin', data: fw, mediaType: FW_TYPE }]);
    const src = await ociFor(reg);
    const a = await src.resolve(device('corrupt'), { version: '1.0.0', tag: '1.0.0' });
    const path = reg.blobPath((a.meta?.oci as OciArtifactMeta).layerDigest);
    const bytes = readFileSync(path);
    bytes[5000] = bytes[5000]! ^ 0xff;
    writeFileSync(path, bytes);
    const err = await readAll(await a.open()).catch((e) => e);
    expect(err.name).toBe('RegistryError');
    expect(err.message).toMatch(/^fetching blob sha256:[0-9a-f]{64} from 127\.0\.0\.1:\d+\/fw\/corrupt: digest mismatch, got sha256:/);
    appendFileSync(path, 'more');
    expect((await a.open().catch((e) => e)).message).toContain(`the registry sends 100004 bytes, the descriptor declares 100000`);
  });

  test('a corrupted manifest is refused (Docker-Content-Digest and by-digest checks)', async () => {
    const digest = await pushArtifact(reg, 'fw/badmanifest', '1.0.0', [{ name: 'fw.bin', data: 'abc' }]);
    const path = reg.blobPath(digest);
    writeFileSync(path, readFileSync(path, 'utf8').replace('fw.bin', 'fx.bin'));
    const c = client(reg.host);
    const byTag = await c.getManifest('fw/badmanifest', '1.0.0').catch((e) => e);
    expect(byTag.message).toMatch(new RegExp(`^fetching manifest 1\\.0\\.0 from ${reg.host}/fw/badmanifest: digest mismatch, expected ${digest}, got sha256:`));
    const byDigest = await c.getManifest('fw/badmanifest', digest).catch((e) => e);
    expect(byDigest.code).toBe('digest-mismatch');
  });

  test('a tag moved mid-download never mixes content: the pinned digest is served', async () => {
    const first = randomFirmware(8 << 20);
    const second = randomFirmware(8 << 20);
    const d1 = await pushArtifact(reg, 'fw/moving', '1.0.0', [{ name: 'fw.bin', data: first }]);
    const src = await ociFor(reg);
    const a = await src.resolve(device('moving'), { version: '1.0.0', tag: '1.0.0' });
    const reader = (await a.open()).getReader();
    const head = await reader.read();
    expect(head.done).toBe(false);
    const d2 = await pushArtifact(reg, 'fw/moving', '1.0.0', [{ name: 'fw.bin', data: second }]);
    expect(d2).not.toBe(d1);
    const chunks: Uint8Array[] = [head.value!];
    for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(r.value);
    expect(Buffer.compare(Buffer.concat(chunks), first)).toBe(0);
    // Opening the same artifact again still yields the pinned bytes; a new resolve sees the move.
    expect(Buffer.compare(await readAll(await a.open()), first)).toBe(0);
    const b = await src.resolve(device('moving'), { version: '1.0.0', tag: '1.0.0' });
    expect(b.digest).toBe(d2);
    expect(Buffer.compare(await readAll(await b.open()), second)).toBe(0);
  }, 30_000);

  test('registry stopped: UpstreamUnavailable naming the registry; back again: works', async () => {
    const own = await startRegistry();
    await pushArtifact(own, 'fw/dev1', '1.0.0', [{ name: 'fw.bin', data: 'x' }]);
    const src = await ociFor(own);
    expect(await src.versions(device('dev1'))).toHaveLength(1);
    await own.stop();
    const t0 = performance.now();
    const err = await src.versions(device('dev1')).catch((e) => e);
    expect(err).toBeInstanceOf(UpstreamUnavailable);
    expect(err.message).toBe(`listing tags of ${own.host}/fw/dev1: ${own.host} unreachable (ECONNREFUSED) (2 attempts)`);
    expect(performance.now() - t0).toBeLessThan(2000);
    await own.start();
    expect(await src.versions(device('dev1'))).toHaveLength(1);
    await own.close();
  }, 30_000);

  test('401, 404 and unreachable read differently', async () => {
    const c = client(reg.host);
    const notFound = await c.getManifest('fw/nothing-here', '1.0.0').catch((e) => e);
    expect(notFound.message).toBe(`fetching manifest 1.0.0 from ${reg.host}/fw/nothing-here: 404 not found (manifest_unknown)`);
    expect(notFound.code).toBe('not-found');
    const f = fake(() => new Response('{"errors":[{"code":"UNAUTHORIZED"}]}', { status: 401 }));
    const unauth = await client(f.host).getManifest('fw/x', '1.0.0').catch((e) => e);
    expect(unauth.message).toBe(`fetching manifest 1.0.0 from ${f.host}/fw/x: 401 unauthorized (no challenge)`);
    f.stop();
    const gone = await client(f.host, { retries: 0 }).getManifest('fw/x', '1.0.0').catch((e) => e);
    expect(gone).toBeInstanceOf(UpstreamUnavailable);
    expect(gone.message).toBe(`fetching manifest 1.0.0 from ${f.host}/fw/x: ${f.host} unreachable (ECONNREFUSED)`);
  });

  test('5xx is retried with backoff, then UpstreamUnavailable; a passing 503 is absorbed', async () => {
    const down = fake(() => new Response('busy', { status: 503, statusText: 'Service Unavailable' }));
    const err = await client(down.host, { retries: 2 }).listTags('fw/d').catch((e) => e);
    expect(err).toBeInstanceOf(UpstreamUnavailable);
    expect(err.message).toBe(`listing tags of ${down.host}/fw/d: 503 Service Unavailable (3 attempts)`);
    expect(down.requests).toBe(3);
    down.stop();
    const flaky = fake((_req, n) => (n === 1 ? new Response('', { status: 502 }) : Response.json({ tags: ['1.0.0'] })));
    expect(await client(flaky.host).listTags('fw/d')).toEqual(['1.0.0']);
    expect(flaky.requests).toBe(2);
    flaky.stop();
  });

  test('a registry that accepts and never answers times out, bounded', async () => {
    const silent = await startSilentServer();
    const t0 = performance.now();
    const err = await client(silent.host, { timeoutMs: 300, retries: 1 }).listTags('fw/d').catch((e) => e);
    const took = performance.now() - t0;
    expect(err).toBeInstanceOf(UpstreamUnavailable);
    expect(err.message).toBe(`listing tags of ${silent.host}/fw/d: timed out after 300 ms (2 attempts)`);
    expect(took).toBeGreaterThan(550);
    expect(took).toBeLessThan(1500);
    expect(silent.connections).toBe(2);
    await silent.close();
  });

  test('a blob body that stalls errors the stream after the idle timeout', async () => {
    const digest = 'sha256:' + '0'.repeat(64);
    const f = fake(() => new Response(new ReadableStream({ start(c) { c.enqueue(new Uint8Array(10)); } }), { headers: { 'content-length': '100' } }));
    const stream = await client(f.host, { timeoutMs: 300 }).openBlob('fw/d', digest, { size: 100 });
    const err = await readAll(stream).catch((e) => e);
    expect(err).toBeInstanceOf(UpstreamUnavailable);
    expect(err.message).toBe(`fetching blob ${digest} from ${f.host}/fw/d: no data for 300 ms`);
    f.stop();
  });

  test('referrers: null when the registry lacks the API, descriptors when it has it', async () => {
    const digest = await pushArtifact(reg, 'fw/ref', '1.0.0', [{ name: 'a', data: 'a' }]);
    expect(await client(reg.host).referrers('fw/ref', digest)).toBeNull();
    const sig = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:' + 'a'.repeat(64), size: 10, artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json' };
    const other = { ...sig, digest: 'sha256:' + 'b'.repeat(64), artifactType: 'application/spdx+json' };
    const f = fake(() => Response.json({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [sig, other] }));
    const c = client(f.host);
    expect(await c.referrers('fw/ref', digest)).toEqual([sig, other]);
    expect(await c.referrers('fw/ref', digest, sig.artifactType)).toEqual([sig]);
    f.stop();
  });

  test('getBlob verifies and bounds small blobs', async () => {
    const digest = await pushArtifact(reg, 'fw/small', '1.0.0', [{ name: 'a', data: 'x'.repeat(5000) }]);
    const c = client(reg.host);
    const m = await c.getManifest('fw/small', digest);
    const layer = (m.json.layers as { digest: string }[])[0]!.digest;
    expect(new TextDecoder().decode(await c.getBlob('fw/small', layer))).toBe('x'.repeat(5000));
    expect((await c.getBlob('fw/small', layer, 1000).catch((e) => e)).code).toBe('too-large');
  });
});
