/**
 * Which tag, which manifest, which layer: artifacts as oras ≥1.1 and oras 1.0 push them, Docker v2
 * manifests, OCI image indexes (by platform or annotation), multi-layer selection and its errors.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { pushArtifact, pushIndex, startRegistry, type TestRegistry } from '../support/registry.ts';
import { FW_TYPE, device, ociFor, readAll } from './helpers.ts';
import { oci, type OciArtifactMeta } from '../../src/plugins/source/oci/index.ts';
import { FirmwareNotFound, NoFirmware, asDeviceFailure } from '../../src/core/errors.ts';

let reg: TestRegistry;
beforeAll(async () => { reg = await startRegistry(); });
afterAll(async () => { await reg.close(); });

const text = async (s: ReadableStream<Uint8Array>) => new TextDecoder().decode(await readAll(s));

describe('artifact shapes', () => {
  for (const shape of ['oras-1.1', 'oras-1.0', 'docker-v2'] as const) {
    test(`${shape}: single layer is served`, async () => {
      const repo = `fw/shape-${shape.replace('.', '')}`;
      const digest = await pushArtifact(reg, repo, 'v2.0.0', [{ name: 'app.bin', data: `payload ${shape}`, mediaType: FW_TYPE }], shape);
      const src = await ociFor(reg);
      const dev = device(repo.slice(3));
      expect(await src.versions(dev)).toEqual([{ version: '2.0.0', tag: 'v2.0.0' }]);
      const a = await src.resolve(dev, { version: '2.0.0', tag: 'v2.0.0' });
      expect(a.digest).toBe(digest);
      expect(a.version).toBe('2.0.0');
      expect(a.tag).toBe('v2.0.0');
      expect(a.mediaType).toBe(FW_TYPE);
      expect(a.name).toBe(shape === 'docker-v2' ? undefined : 'app.bin');
      expect(await text(await a.open())).toBe(`payload ${shape}`);
    });
  }

  test('several layers: chosen by title, by media type, else an error listing them', async () => {
    await pushArtifact(reg, 'fw/multi', '1.0.0', [
      { name: 'firmware.bin', data: 'the firmware', mediaType: FW_TYPE },
      { name: 'notes.txt', data: 'release notes', mediaType: 'text/plain' },
    ]);
    const plain = await ociFor(reg);
    const err = await plain.resolve(device('multi'), { version: '1.0.0', tag: '1.0.0' }).catch((e) => e);
    expect(err.message).toBe(`${reg.host}/fw/multi:1.0.0 has 2 layers ('firmware.bin' ${FW_TYPE} (12 bytes), 'notes.txt' text/plain (13 bytes)): choose one with layer.title or layer.mediaType`);

    const byTitle = await ociFor(reg, { layer: { title: 'notes.txt' } });
    expect(await text(await (await byTitle.resolve(device('multi'), { version: '1.0.0', tag: '1.0.0' })).open())).toBe('release notes');

    const byType = await ociFor(reg, { layer: { mediaType: FW_TYPE } });
    expect(await text(await (await byType.resolve(device('multi'), { version: '1.0.0', tag: '1.0.0' })).open())).toBe('the firmware');

    // A device's own options win over the plugin's.
    const perDevice = await byType.resolve(device('multi', { layer: { title: 'notes.txt' } }), { version: '1.0.0', tag: '1.0.0' });
    expect(perDevice.name).toBe('notes.txt');

    const none = await ociFor(reg, { layer: { title: 'missing.bin' } });
    const e2 = await none.resolve(device('multi'), { version: '1.0.0', tag: '1.0.0' }).catch((e) => e);
    expect(e2.message).toContain("has no layer with title 'missing.bin'; its layers: 'firmware.bin'");
  });

  test('image index: entry by platform, by annotation, else an error listing entries', async () => {
    const { digest, children } = await pushIndex(reg, 'fw/indexed', '3.1.0', [
      { files: [{ name: 'fw.bin', data: 'for esp32', mediaType: FW_TYPE }], platform: { os: 'none', architecture: 'xtensa', variant: 'esp32' }, annotations: { 'com.example.board': 'rev1' } },
      { files: [{ name: 'fw.bin', data: 'for esp32s3', mediaType: FW_TYPE }], platform: { os: 'none', architecture: 'xtensa', variant: 'esp32s3' }, annotations: { 'com.example.board': 'rev2' } },
      { files: [{ name: 'fw.bin', data: 'for rp2040' }], shape: 'docker-v2', platform: { os: 'none', architecture: 'arm', variant: 'v6m' } },
    ]);
    const v = { version: '3.1.0', tag: '3.1.0' };
    const anyEntry = await ociFor(reg);
    const err = await anyEntry.resolve(device('indexed'), v).catch((e) => e);
    expect(err.message).toStartWith(`${reg.host}/fw/indexed:3.1.0 is an index of 3 manifests (`);
    expect(err.message).toContain('none/xtensa/esp32s3 com.example.board=rev2');

    const s3 = await (await ociFor(reg, { platform: 'none/xtensa/esp32s3' })).resolve(device('indexed'), v);
    expect(s3.digest).toBe(digest);
    const meta = s3.meta?.oci as OciArtifactMeta;
    expect(meta.manifestDigest).toBe(digest);
    expect(meta.platformManifestDigest).toBe(children[1]!);
    expect(await text(await s3.open())).toBe('for esp32s3');

    const rev1 = await (await ociFor(reg)).resolve(device('indexed', { annotations: { 'com.example.board': 'rev1' } }), v);
    expect(await text(await rev1.open())).toBe('for esp32');

    const arm = await (await ociFor(reg, { platform: { architecture: 'arm' } })).resolve(device('indexed'), v);
    expect(await text(await arm.open())).toBe('for rp2040');

    const none = await (await ociFor(reg, { platform: 'linux/amd64' })).resolve(device('indexed'), v).catch((e) => e);
    expect(none.message).toContain('no index entry matches {"platform":{"os":"linux","architecture":"amd64"}}');
  });

  test('unknown repository: FirmwareNotFound naming the repository path, 404 for the device; non-semver tags ignored', async () => {
    await pushArtifact(reg, 'fw/mixed', 'latest', [{ name: 'a', data: 'a' }]);
    await pushArtifact(reg, 'fw/mixed', 'sha256-0123.sig', [{ name: 'a', data: 'a' }]);
    await pushArtifact(reg, 'fw/mixed', '1.0', [{ name: 'a', data: 'a' }]);
    await pushArtifact(reg, 'fw/mixed', '1.0.1', [{ name: 'a', data: 'a' }]);
    const src = await ociFor(reg);
    const missing = await src.versions(device('never-pushed')).catch((e) => e);
    expect(missing).toBeInstanceOf(FirmwareNotFound);
    const answer = asDeviceFailure('never-pushed', missing) as NoFirmware;
    expect(answer).toBeInstanceOf(NoFirmware);
    expect(answer.status).toBe(404);
    expect(answer.body).toBe("No firmware for device 'never-pushed'");
    expect(answer.detail).toBe(missing.detail);
    expect(missing.detail).toBe(`repository fw/never-pushed does not exist on ${reg.host} (tags/list: 404 name_unknown)`);
    expect(missing.summary).toBe('repository not found in the registry: check --repository-prefix');
    expect(await src.versions(device('mixed'))).toEqual([{ version: '1.0.1', tag: '1.0.1' }]);
  });

  test('registry urls and prefixes the Rust flags allow', async () => {
    await pushArtifact(reg, 'toplevel', '1.0.0', [{ name: 'a', data: 'top' }]);
    await pushArtifact(reg, 'deep/er/dev', '1.0.0', [{ name: 'a', data: 'deep' }]);
    const c = { timeoutMs: 2000 };
    expect(await oci({ url: reg.host, insecure: true, prefix: '', ...c }).versions(device('toplevel'))).toHaveLength(1);
    expect(await oci({ url: `http://${reg.host}`, prefix: 'deep/er/', ...c }).versions(device('dev'))).toHaveLength(1);
    expect(await oci({ url: `http://${reg.host}/`, prefix: 'deep/er', ...c }).versions(device('dev'))).toHaveLength(1);
    expect(() => oci({ url: `http://${reg.host}/v2`, prefix: 'x' })).toThrow('must be only a host');
    expect(() => oci({ url: 'ftp://x', prefix: 'x' })).toThrow('scheme must be http or https');
    expect(() => oci({ url: 'h', prefix: 'Bad Prefix' })).toThrow('is not a valid repository path');
    const long = oci({ url: reg.host, insecure: true, prefix: 'p'.repeat(250) });
    expect(await long.versions(device('abcdef')).catch((e) => e.message)).toContain('longer than 255 characters');
  });
});
