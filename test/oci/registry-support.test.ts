/** Checks the test registry fixture itself in every mode: push, read back, count. */
import { afterAll, describe, expect, test } from 'bun:test';
import { MEDIA, pushArtifact, pushIndex, sha256, startRegistry, startSilentServer, type RegistryOptions, type TestRegistry } from '../support/registry.ts';

const modes: [string, RegistryOptions][] = [
  ['plain', {}],
  ['htpasswd', { auth: 'htpasswd' }],
  ['bearer', { auth: 'bearer' }],
  ['tls', { tls: true }],
  ['redirect', { redirect: true }],
];

const started: TestRegistry[] = [];
afterAll(async () => {
  await Promise.all(started.map((r) => r.close()));
});

describe('test registry fixture', () => {
  for (const [name, opts] of modes) {
    test(`${name}: push, fetch manifest and blob, count blob GETs`, async () => {
      const reg = await startRegistry(opts);
      started.push(reg);
      const data = new TextEncoder().encode(`firmware for ${name}`);
      const digest = await pushArtifact(reg, 'fw/dev1', '1.0.0', [{ name: 'fw.bin', data }], 'oras-1.1');
      if (opts.auth) {
        const anon = await fetch(`${reg.url}/v2/fw/dev1/tags/list`, opts.tls ? ({ tls: { ca: reg.caPem } } as RequestInit) : {});
        expect(anon.status).toBe(401);
      }
      const m = await reg.fetch('/v2/fw/dev1/manifests/1.0.0', { headers: { accept: MEDIA.ociManifest } }, 'fw/dev1');
      const bytes = new Uint8Array(await m.arrayBuffer());
      expect(m.status).toBe(200);
      expect(sha256(bytes)).toBe(digest);
      const layer = JSON.parse(new TextDecoder().decode(bytes)).layers[0];
      expect(layer.annotations['org.opencontainers.image.title']).toBe('fw.bin');
      const blob = await reg.fetch(`/v2/fw/dev1/blobs/${layer.digest}`, { redirect: 'follow' }, 'fw/dev1');
      expect(new Uint8Array(await blob.arrayBuffer())).toEqual(data);
      expect(await reg.blobGets({ digest: layer.digest })).toBe(1);
      if (opts.redirect) expect(reg.blobStore?.gets).toBe(1);
      if (opts.auth === 'bearer') expect(reg.tokenServer!.requests).toBeGreaterThan(0);
    }, 30_000);
  }

  test('other shapes and an index push; stop and start keep the data', async () => {
    const reg = await startRegistry();
    started.push(reg);
    const d10 = await pushArtifact(reg, 'a', 'v1.0.0', [{ name: 'x.bin', data: 'x' }], 'oras-1.0');
    const dd = await pushArtifact(reg, 'a', '1.1.0', [{ name: 'x.bin', data: 'y' }], 'docker-v2');
    const idx = await pushIndex(reg, 'a', '2.0.0', [
      { files: [{ name: 'a.bin', data: 'a' }], platform: { os: 'none', architecture: 'xtensa' } },
      { files: [{ name: 'b.bin', data: 'b' }], annotations: { board: 'rev2' } },
    ]);
    expect(idx.children).toHaveLength(2);
    await reg.stop();
    expect(reg.running).toBe(false);
    await reg.start();
    const tags = await (await reg.fetch('/v2/a/tags/list')).json();
    expect((tags as { tags: string[] }).tags.sort()).toEqual(['1.1.0', '2.0.0', 'v1.0.0']);
    const m = await reg.fetch(`/v2/a/manifests/${dd}`, { headers: { accept: MEDIA.dockerManifest } });
    expect(m.headers.get('content-type')).toBe(MEDIA.dockerManifest);
    expect(d10).toMatch(/^sha256:/);
  }, 30_000);

  test('silent server accepts and never answers', async () => {
    const s = await startSilentServer();
    const err = await fetch(`http://${s.host}/v2/`, { signal: AbortSignal.timeout(200) }).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(s.connections).toBe(1);
    await s.close();
  });
});
