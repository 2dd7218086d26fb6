/**
 * `source.dir` serves firmware from a local directory:
 *
 *     <root>/<device>/<version>.<ext>        e.g. examples/firmware/esp32-demo/1.2.3.bin
 *     <root>/<device>/<version>/<file>       the only file in the folder, or firmware.bin
 *
 * `<version>` is semver with an optional `v`; known firmware extensions (.bin .img .hex .gz .zst
 * .tar .tgz …) are stripped to find it. Paths never leave the root: device ids are validated
 * before they get here, and every file's real path (symlinks resolved) must stay inside it.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import { join, resolve, sep, basename } from 'node:path';
import { PLUGIN_API_VERSION, type Artifact, type DeviceRef, type PluginContext, type SourcePlugin, type SourceVersion } from '../../plugin.ts';
import { parseVersionTag, verifyDigestStream } from '../../sdk/index.ts';

export interface DirOptions {
  /** The folder holding one sub-folder per device (relative paths: to the config file). */
  root: string;
}

/** Trailing firmware and archive extensions, stripped to find the version in a file name. */
const FIRMWARE_EXTENSIONS = /(\.(bin|img|hex|elf|fw|ota|swu|raucb|gz|zst|zstd|tar|tgz))+$/i;

export function dir(options: DirOptions): SourcePlugin {
  if (!options || typeof options.root !== 'string' || options.root === '') {
    throw new TypeError("dir(): pass the firmware folder, e.g. dir({ root: './firmware' })");
  }
  let root = options.root;
  let realRoot = '';
  const digests = new Map<string, { stamp: string; digest: string }>();

  /** Real path of an entry if it is a regular file inside the root, else null. */
  async function safeFile(path: string): Promise<string | null> {
    const real = await realpath(path).catch(() => null);
    if (!real || !(real + sep).startsWith(realRoot + sep) || real === realRoot) return null;
    const s = await stat(real).catch(() => null);
    return s?.isFile() ? real : null;
  }

  async function fileOf(device: DeviceRef, tag: string): Promise<string | null> {
    const entry = join(realRoot, device.id, tag);
    const s = await stat(entry).catch(() => null);
    if (s?.isFile()) return safeFile(entry);
    if (!s?.isDirectory()) return null;
    const inner = await readdir(entry, { withFileTypes: true }).catch(() => []);
    const files = inner.filter((d) => d.isFile() || d.isSymbolicLink()).map((d) => d.name).filter((n) => !n.startsWith('.'));
    const pick = files.length === 1 ? files[0] : files.includes('firmware.bin') ? 'firmware.bin' : undefined;
    if (!pick) throw new Error(`${entry}: expected one file or firmware.bin, found ${files.length ? files.join(', ') : 'none'}`);
    return safeFile(join(entry, pick));
  }

  async function sha256Of(path: string): Promise<string> {
    const s = await stat(path);
    const stamp = `${s.ino}:${s.size}:${s.mtimeMs}`;
    const known = digests.get(path);
    if (known?.stamp === stamp) return known.digest;
    const h = new Bun.CryptoHasher('sha256');
    for await (const chunk of Bun.file(path).stream()) h.update(chunk);
    const digest = 'sha256:' + h.digest('hex');
    digests.set(path, { stamp, digest });
    return digest;
  }

  return {
    kind: 'source',
    id: 'source.dir',
    apiVersion: PLUGIN_API_VERSION,

    async setup(ctx: PluginContext) {
      root = resolve(ctx.configDir, options.root);
      const s = await stat(root).catch(() => null);
      if (!s?.isDirectory()) throw new Error(`firmware folder ${root} does not exist or is not a folder`);
      realRoot = await realpath(root);
    },

    identity(device: DeviceRef): string {
      return `source.dir ${join(realRoot || resolve(root), device.id)}`;
    },

    async versions(device: DeviceRef): Promise<SourceVersion[]> {
      const entries = await readdir(join(realRoot, device.id), { withFileTypes: true }).catch(() => []);
      const out: SourceVersion[] = [];
      for (const e of entries) {
        const tag = e.isDirectory() ? e.name : e.name.replace(FIRMWARE_EXTENSIONS, '');
        const parsed = parseVersionTag(tag);
        if (parsed) out.push({ version: parsed.version, tag: e.name });
      }
      return out;
    },

    async resolve(device: DeviceRef, v: SourceVersion): Promise<Artifact> {
      const path = await fileOf(device, v.tag);
      if (!path) throw new Error(`${join(root, device.id, v.tag)}: not a regular file inside ${root}`);
      const digest = await sha256Of(path);
      const size = (await stat(path)).size;
      return {
        version: v.version,
        tag: v.tag,
        digest,
        contentDigest: digest, // open() checks the bytes against it
        name: basename(path),
        size,
        async open() {
          return verifyDigestStream(Bun.file(path).stream(), digest, path);
        },
      };
    },
  };
}
