/** `otaflux plugin init source`: the source plugin and its test. */
import { cap, type Body } from './body.ts';

export const sourceBody = (id: string, fn: string): Body => ({
  plugin: `/**
 * ${id}: images given in the options, per device and version (replace with your own store).
 * Each artifact is pinned to the SHA-256 of its bytes, and open() errors rather than yield others.
 */
import { PLUGIN_API_VERSION, parseVersionTag, verifyDigestStream, type Artifact, type DeviceRef, type SourcePlugin, type SourceVersion } from 'otaflux';

export interface ${cap(fn)}Options {
/** Per device id, per version tag (\`1.2.3\` or \`v1.2.3\`): the image bytes or text. */
devices: Record<string, Record<string, Uint8Array | string>>;
}

export function ${fn}(options: ${cap(fn)}Options): SourcePlugin {
if (!options || typeof options.devices !== 'object') throw new TypeError("${fn}(): pass devices: { 'esp32-demo': { '1.0.0': bytes } }");
for (const [device, versions] of Object.entries(options.devices)) {
  for (const tag of Object.keys(versions)) {
    if (!parseVersionTag(tag)) throw new TypeError(\`${fn}(): devices[\${JSON.stringify(device)}][\${JSON.stringify(tag)}]: expected a semver version as the key\`);
  }
}
const bytesOf = (device: string, tag: string): Uint8Array | undefined => {
  const v = options.devices[device]?.[tag];
  return typeof v === 'string' ? new TextEncoder().encode(v) : v;
};
return {
  kind: 'source',
  id: '${id}',
  apiVersion: PLUGIN_API_VERSION,
  async versions(device: DeviceRef): Promise<SourceVersion[]> {
    return Object.keys(options.devices[device.id] ?? {}).flatMap((tag) => parseVersionTag(tag) ?? []);
  },
  async resolve(device: DeviceRef, v: SourceVersion): Promise<Artifact> {
    const bytes = bytesOf(device.id, v.tag);
    if (!bytes) throw new Error(\`device \${device.id} has no version \${v.tag}\`);
    const digest = 'sha256:' + new Bun.CryptoHasher('sha256').update(bytes).digest('hex');
    return {
      version: v.version, tag: v.tag, digest, contentDigest: digest, size: bytes.length,
      open: async () => verifyDigestStream(new Response(bytes).body as ReadableStream<Uint8Array>, digest, \`\${device.id} \${v.tag}\`),
    };
  },
};
}
`,
  test: `import { expect, test } from 'bun:test';
import { checkPlugin, fakeDevice, runSource } from 'otaflux/testing';
import { ${fn} } from 'FILE';

const plugin = () => ${fn}({ devices: { 'esp32-demo': { '1.0.0': 'one', 'v1.1.0': 'one point one', '2.0.0-rc.1': 'two' } } });

test('passes the checks OtaFlux runs at load', () => {
expect(checkPlugin(plugin()).id).toBe('${id}');
});

test('serves the highest release, byte for byte', async () => {
const r = await runSource(plugin(), fakeDevice('esp32-demo'));
expect(r.chosen).toEqual({ version: '1.1.0', tag: 'v1.1.0' });
expect(new TextDecoder().decode(r.bytes)).toBe('one point one');
});

test('a prerelease only for a device that allows them; an unknown device has nothing', async () => {
expect((await runSource(plugin(), fakeDevice('esp32-demo', { allowPrerelease: true }))).chosen?.version).toBe('2.0.0-rc.1');
expect((await runSource(plugin(), fakeDevice('other'))).versions).toEqual([]);
});
`,
  use: `defaults: { source: ${fn}({ devices: { 'esp32-demo': { '1.0.0': 'firmware bytes' } } }), auth: 'none' },`,
});
