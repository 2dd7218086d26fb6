/**
 * source.oci against a real registry in each auth/transport mode: plain HTTP, htpasswd Basic,
 * bearer tokens, TLS with a private CA, and blob redirects to another origin.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { pushArtifact, startRegistry, type RegistryOptions, type TestRegistry } from '../support/registry.ts';
import { FW_TYPE, device, ociFor, randomFirmware, readAll } from './helpers.ts';
import type { OciArtifactMeta } from '../../src/plugins/source/oci/index.ts';
import { RegistryClient } from '../../src/plugins/source/oci/client.ts';

const registries: TestRegistry[] = [];
afterAll(async () => { await Promise.all(registries.map((r) => r.close())); });

async function registry(o: RegistryOptions): Promise<TestRegistry> {
  const r = await startRegistry(o);
  registries.push(r);
  return r;
}

const modes: [string, RegistryOptions][] = [
  ['plain HTTP', {}],
  ['htpasswd Basic', { auth: 'htpasswd' }],
  ['bearer token', { auth: 'bearer' }],
  ['TLS with a private CA', { tls: true }],
  ['blob redirect with Basic auth', { redirect: true, auth: 'htpasswd' }],
  ['TLS + bearer + redirect', { tls: true, auth: 'bearer', redirect: true }],
];

describe('source.oci modes', () => {
  for (const [name, opts] of modes) {
    test(name, async () => {
      const reg = await registry(opts);
      const fw = randomFirmware(200_000);
      const digest = await pushArtifact(reg, 'fw/dev1', '1.2.3', [{ name: 'firmware.bin', data: fw, mediaType: FW_TYPE }]);
      await pushArtifact(reg, 'fw/dev1', 'latest', [{ name: 'firmware.bin', data: fw, mediaType: FW_TYPE }]);
      await pushArtifact(reg, 'fw/dev1', 'v1.3.0-rc.1', [{ name: 'firmware.bin', data: 'rc', mediaType: FW_TYPE }]);
      const src = await ociFor(reg);
      const versions = await src.versions(device('dev1'));
      expect(versions.sort((a, b) => a.tag.localeCompare(b.tag))).toEqual([
        { version: '1.2.3', tag: '1.2.3' },
        { version: '1.3.0-rc.1', tag: 'v1.3.0-rc.1' },
      ]);
      const artifact = await src.resolve(device('dev1'), { version: '1.2.3', tag: '1.2.3' });
      expect(artifact.digest).toBe(digest);
      expect(artifact.name).toBe('firmware.bin');
      expect(artifact.mediaType).toBe(FW_TYPE);
      expect(artifact.size).toBe(fw.byteLength);
      const meta = artifact.meta?.oci as OciArtifactMeta;
      expect(meta.registry).toBe(reg.host);
      expect(meta.repository).toBe('fw/dev1');
      expect(meta.manifestDigest).toBe(digest);
      expect(meta.client).toBeInstanceOf(RegistryClient);
      expect(await readAll(await artifact.open())).toEqual(fw);
      expect(await reg.blobGets({ digest: meta.layerDigest })).toBe(1);
      if (opts.redirect) {
        expect(reg.blobStore!.gets).toBe(1);
        expect(reg.blobStore!.authorizationSeen).toBe(false);
      }
      if (opts.auth === 'bearer') {
        // One token for the repository, reused for tags, manifest and blob.
        expect(meta.client.tokenRequests).toBe(1);
        await src.resolve(device('dev1'), { version: '1.2.3', tag: '1.2.3' });
        expect(meta.client.tokenRequests).toBe(1);
      }
      await src.close?.();
    }, 30_000);
  }

  test('wrong password: 401 named, with the flags to check, and marked source-unavailable (503), not bad content', async () => {
    const reg = await registry({ auth: 'htpasswd' });
    await pushArtifact(reg, 'fw/dev1', '1.0.0', [{ name: 'f', data: 'x' }]);
    const src = await ociFor(reg, { password: 'wrong' });
    const err = await src.versions(device('dev1')).catch((e) => e);
    expect(err.name).toBe('RegistryError');
    expect(err.message).toBe(`listing tags of ${reg.host}/fw/dev1: 401 unauthorized (credentials refused: check --registry-username and --registry-password)`);
    expect(err.message).not.toContain('wrong');
    expect(err.sourceUnavailable).toBe(true);
    expect(err.summary).toBe('the registry refused the credentials: check --registry-username and --registry-password');
    const anon = await ociFor(reg, { username: undefined, password: undefined });
    const anonErr = await anon.versions(device('dev1')).catch((e) => e);
    expect(anonErr.message).toContain('401 unauthorized (the registry wants a username and password: set --registry-username and --registry-password)');
    expect(anonErr.sourceUnavailable).toBe(true);
  }, 30_000);

  test('bearer: wrong password is refused by the token server; anonymous pull works when granted', async () => {
    const reg = await registry({ auth: 'bearer', anonymousPull: true });
    await pushArtifact(reg, 'fw/dev1', '1.0.0', [{ name: 'f', data: 'x' }]);
    const bad = await ociFor(reg, { password: 'wrong' });
    const err = await bad.versions(device('dev1')).catch((e) => e);
    expect(err.message).toMatch(new RegExp(`^fetching token from 127\\.0\\.0\\.1:\\d+ for ${reg.host} \\(repository:fw/dev1:pull\\): 401 unauthorized \\(the token server refused the credentials: check --registry-username and --registry-password\\)$`));
    expect(err.sourceUnavailable).toBe(true);
    const anon = await ociFor(reg, { username: undefined, password: undefined });
    expect(await anon.versions(device('dev1'))).toEqual([{ version: '1.0.0', tag: '1.0.0' }]);
  }, 30_000);

  test('bearer: an expired token is renewed', async () => {
    const reg = await registry({ auth: 'bearer', tokenTtlSeconds: 2 });
    await pushArtifact(reg, 'fw/dev1', '1.0.0', [{ name: 'f', data: 'x' }]);
    const src = await ociFor(reg);
    await src.versions(device('dev1'));
    const before = reg.tokenServer!.requests;
    await src.versions(device('dev1'));
    expect(reg.tokenServer!.requests).toBe(before);
    await Bun.sleep(2100);
    expect(await src.versions(device('dev1'))).toHaveLength(1);
    expect(reg.tokenServer!.requests).toBe(before + 1);
  }, 30_000);

  test('TLS without the CA: a clear certificate error, not retried as unavailable', async () => {
    const reg = await registry({ tls: true });
    const src = await ociFor(reg, { caFile: undefined });
    const err = await src.versions(device('dev1')).catch((e) => e);
    expect(err.name).toBe('RegistryError');
    expect(err.message).toContain(`TLS certificate of ${reg.host} not trusted`);
  }, 30_000);
});
