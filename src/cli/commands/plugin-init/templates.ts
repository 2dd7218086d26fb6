/**
 * The files `otaflux plugin init` writes: per kind a small working plugin and its test through
 * otaflux/testing, plus package.json, tsconfig.json and README.md.
 */
import type { PluginKind } from '../../../plugin.ts';

export interface Scaffold {
  kind: PluginKind;
  /** The plugin id, `<prefix>.<name>`. */
  id: string;
  name: string;
  otafluxVersion: string;
  typesBunVersion: string;
  typescriptVersion: string;
}

/** `http-index` → `httpIndex`, `acme.hsm` → `acmeHsm`: the factory's name. */
export function factoryName(name: string): string {
  return name.replace(/[.-]+([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** File name → contents. */
export function pluginFiles(s: Scaffold): Record<string, string> {
  const file = `${s.name}.ts`;
  const fn = factoryName(s.name);
  const body = BODIES[s.kind](s.id, fn);
  return {
    'package.json': packageJson(s, file),
    'tsconfig.json': JSON.stringify({
      compilerOptions: {
        target: 'ESNext', module: 'ESNext', moduleResolution: 'bundler', lib: ['ESNext'], types: ['bun'],
        strict: true, noUncheckedIndexedAccess: true, skipLibCheck: false, noEmit: true, allowImportingTsExtensions: true, verbatimModuleSyntax: true,
      },
      include: ['*.ts'],
    }, null, 2) + '\n',
    [file]: body.plugin,
    [`${s.name}.test.ts`]: body.test.replaceAll('FILE', `./${file}`),
    'README.md': readme(s, file, fn, body.use),
  };
}

function packageJson(s: Scaffold, file: string): string {
  return JSON.stringify({
    name: `otaflux-plugin-${s.id.replaceAll('.', '-')}`,
    version: '0.1.0',
    private: true,
    type: 'module',
    main: `./${file}`,
    scripts: { test: 'bun test', typecheck: 'tsc --noEmit' },
    devDependencies: { otaflux: `file:otaflux-sdk-${s.otafluxVersion}.tgz`, '@types/bun': s.typesBunVersion, typescript: s.typescriptVersion },
  }, null, 2) + '\n';
}

function readme(s: Scaffold, file: string, fn: string, use: string): string {
  return `# ${s.id}

An OtaFlux ${s.kind} plugin. The contract and the rules are in OtaFlux's plugins/README.md.

## Set up

Copy the SDK of the OtaFlux you deploy here (\`bun run build\` in OtaFlux writes
\`dist/otaflux-sdk-${s.otafluxVersion}.tgz\`), then:

\`\`\`sh
npm install        # otaflux (the SDK, from the .tgz), @types/bun, typescript
bun test           # ${s.name}.test.ts, through otaflux/testing: the checks OtaFlux runs at load, then the plugin
npx tsc --noEmit   # strict, without skipLibCheck
\`\`\`

## Use it

Put \`${file}\` beside \`otaflux.config.ts\` (e.g. in \`plugins/\`); the otaflux binary supplies \`'otaflux'\` at run time:

\`\`\`ts
import { defineConfig } from 'otaflux';
import { ${fn} } from './plugins/${file}';

export default defineConfig({
  ${use}
});
\`\`\`

\`otaflux check-config\` then lists it, or says in one line what to change.
`;
}

interface Body {
  plugin: string;
  test: string;
  /** A line of a config using it. */
  use: string;
}

const BODIES: Record<PluginKind, (id: string, fn: string) => Body> = {
  source: (id, fn) => ({
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
  }),
  verifier: (id, fn) => ({
    plugin: `/**
 * ${id}: allows only artifacts whose digest is listed (replace with your own check: an HSM, a
 * signing service). Answers a verdict; never throws for an artifact it refuses.
 */
import { PLUGIN_API_VERSION, type Artifact, type DeviceRef, type Verdict, type VerifierPlugin } from 'otaflux';

export function ${fn}(options: { digests: string[] }): VerifierPlugin {
  if (!options || !Array.isArray(options.digests)) throw new TypeError("${fn}(): pass digests: ['sha256:…']");
  const allowed = new Set(options.digests);
  return {
    kind: 'verifier',
    id: '${id}',
    apiVersion: PLUGIN_API_VERSION,
    async verify(_device: DeviceRef, artifact: Artifact): Promise<Verdict> {
      return allowed.has(artifact.digest) ? { ok: true, by: 'digest list' } : { ok: false, reason: 'not-listed', detail: artifact.digest };
    },
  };
}
`,
    test: `import { expect, test } from 'bun:test';
import { checkPlugin, fakeArtifact, fakeDevice, runVerifier } from 'otaflux/testing';
import { ${fn} } from 'FILE';

const good = fakeArtifact(new TextEncoder().encode('signed image'));

test('passes the checks OtaFlux runs at load', () => {
  expect(checkPlugin(${fn}({ digests: [] })).id).toBe('${id}');
});

test('allows a listed digest and refuses any other', async () => {
  expect((await runVerifier(${fn}({ digests: [good.digest] }), fakeDevice('d'), good)).verdict).toEqual({ ok: true, by: 'digest list' });
  const other = fakeArtifact(new TextEncoder().encode('other image'));
  expect((await runVerifier(${fn}({ digests: [good.digest] }), fakeDevice('d'), other)).verdict).toMatchObject({ ok: false, reason: 'not-listed' });
});
`,
    use: `defaults: { verifier: ${fn}({ digests: ['sha256:…'] }) },`,
  }),
  extractor: (id, fn) => ({
    plugin: `/**
 * ${id}: drops a fixed-size header from the stored bytes (replace with your own format).
 * Errors surface as an errored stream, so OtaFlux keeps the previous good release.
 */
import { PLUGIN_API_VERSION, type ExtractContext, type ExtractorPlugin } from 'otaflux';

export function ${fn}(options: { headerBytes: number }): ExtractorPlugin {
  if (!options || !Number.isInteger(options.headerBytes) || options.headerBytes < 0) throw new TypeError('${fn}(): headerBytes: expected a whole number of bytes');
  return {
    kind: 'extractor',
    id: '${id}',
    apiVersion: PLUGIN_API_VERSION,
    variant: String(options.headerBytes),
    extract(input: ReadableStream<Uint8Array>, ctx: ExtractContext): ReadableStream<Uint8Array> {
      let skip = options.headerBytes;
      let out = 0;
      return input.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, ctl) {
          const rest = chunk.subarray(Math.min(skip, chunk.length));
          skip -= chunk.length - rest.length;
          out += rest.length;
          if (out > ctx.limits.maxOutputBytes) ctl.error(new Error(\`${id}: output over \${ctx.limits.maxOutputBytes} bytes\`));
          else if (rest.length) ctl.enqueue(rest);
        },
        flush(ctl) {
          if (skip > 0) ctl.error(new Error(\`${id}: input shorter than its \${options.headerBytes}-byte header\`));
        },
      }));
    },
  };
}
`,
    test: `import { expect, test } from 'bun:test';
import { checkPlugin, runExtractor } from 'otaflux/testing';
import { ${fn} } from 'FILE';

test('passes the checks OtaFlux runs at load', () => {
  expect(checkPlugin(${fn}({ headerBytes: 4 })).id).toBe('${id}');
});

test('drops the header, and refuses an input shorter than it', async () => {
  const { output } = await runExtractor(${fn}({ headerBytes: 4 }), new TextEncoder().encode('HDR:image'));
  expect(new TextDecoder().decode(output)).toBe('image');
  await expect(runExtractor(${fn}({ headerBytes: 40 }), new TextEncoder().encode('short'))).rejects.toThrow('shorter than');
});
`,
    use: `defaults: { extract: [${fn}({ headerBytes: 4 })] },`,
  }),
  authenticator: (id, fn) => ({
    plugin: `/**
 * ${id}: a per-device key in a request header (replace with your own credentials). Skips a request
 * without the header, so other authenticators may decide; never logs the key.
 */
import { PLUGIN_API_VERSION, type AuthDecision, type AuthRequest, type AuthenticatorPlugin } from 'otaflux';

export function ${fn}(options: { header?: string; keys: Record<string, string> }): AuthenticatorPlugin {
  if (!options || typeof options.keys !== 'object') throw new TypeError("${fn}(): pass keys: { 'esp32-demo': '<key>' }");
  const header = (options.header ?? 'x-device-key').toLowerCase();
  return {
    kind: 'authenticator',
    id: '${id}',
    apiVersion: PLUGIN_API_VERSION,
    authenticate(req: AuthRequest): AuthDecision {
      const presented = req.headers[header];
      if (presented === undefined) return { outcome: 'skip' };
      if (options.keys[req.deviceId] === presented) return { outcome: 'allow', identity: \`key:\${req.deviceId}\` };
      const owner = Object.entries(options.keys).find(([, k]) => k === presented)?.[0];
      return owner ? { outcome: 'deny', status: 403, reason: 'key of another device' } : { outcome: 'deny', status: 401, reason: 'unknown key' };
    },
  };
}
`,
    test: `import { expect, test } from 'bun:test';
import { checkPlugin, fakeRequest, runAuthenticator } from 'otaflux/testing';
import { ${fn} } from 'FILE';

const plugin = () => ${fn}({ keys: { a: 'key-a', b: 'key-b' } });

test('passes the checks OtaFlux runs at load', () => {
  expect(checkPlugin(plugin()).id).toBe('${id}');
});

test('allows the device\\'s key, refuses others, skips a request without one', async () => {
  expect((await runAuthenticator(plugin(), fakeRequest('a', { headers: { 'X-Device-Key': 'key-a' } }))).decision).toEqual({ outcome: 'allow', identity: 'key:a' });
  expect((await runAuthenticator(plugin(), fakeRequest('a', { headers: { 'x-device-key': 'key-b' } }))).decision).toMatchObject({ outcome: 'deny', status: 403 });
  expect((await runAuthenticator(plugin(), fakeRequest('a', { headers: { 'x-device-key': 'nope' } }))).decision).toMatchObject({ outcome: 'deny', status: 401 });
  expect((await runAuthenticator(plugin(), fakeRequest('a'))).decision).toEqual({ outcome: 'skip' });
});
`,
    use: `defaults: { auth: ${fn}({ keys: { 'esp32-demo': process.env.ESP32_DEMO_KEY ?? '' } }) },`,
  }),
};

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
