// source.dir on a real folder: layouts, version parsing, and that nothing outside the root is served.
import { expect, test } from 'bun:test';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dir } from './dir.ts';
import { tempDir } from '../../../test/support/tmp.ts';
import { fakeLogger } from '../../testing/index.ts';
import type { DeviceRef } from '../../plugin.ts';

const device = (id: string): DeviceRef => ({ id, allowPrerelease: false, options: {} });
const quiet = fakeLogger();

async function setUp(build: (root: string) => void) {
  const root = tempDir();
  build(root);
  const src = dir({ root });
  await src.setup?.({ logger: quiet, configDir: '/', stateDir: tempDir(), signal: new AbortController().signal });
  return src;
}

async function readAll(s: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(s).text();
}

test('both layouts: <version>.<ext> files and <version>/ folders with one file or firmware.bin', async () => {
  const src = await setUp((root) => {
    mkdirSync(join(root, 'dev', '2.0.0'), { recursive: true });
    writeFileSync(join(root, 'dev', '2.0.0', 'app.img'), 'two');
    mkdirSync(join(root, 'dev', 'v2.1.0'), { recursive: true });
    writeFileSync(join(root, 'dev', 'v2.1.0', 'firmware.bin'), 'two-one');
    writeFileSync(join(root, 'dev', 'v2.1.0', 'README'), 'notes');
    writeFileSync(join(root, 'dev', '1.0.0.bin.gz'), 'gz');
    writeFileSync(join(root, 'dev', '1.5.0-beta.2.bin'), 'beta');
    writeFileSync(join(root, 'dev', 'junk.bin'), 'x');
  });
  const versions = (await src.versions(device('dev'))).map((v) => `${v.version}=${v.tag}`).sort();
  expect(versions).toEqual(['1.0.0=1.0.0.bin.gz', '1.5.0-beta.2=1.5.0-beta.2.bin', '2.0.0=2.0.0', '2.1.0=v2.1.0']);
  const a = await src.resolve(device('dev'), { version: '2.1.0', tag: 'v2.1.0' });
  expect(a.name).toBe('firmware.bin');
  expect(a.digest).toBe('sha256:' + new Bun.CryptoHasher('sha256').update('two-one').digest('hex'));
  expect(await readAll(await a.open())).toBe('two-one');
  const b = await src.resolve(device('dev'), { version: '2.0.0', tag: '2.0.0' });
  expect(await readAll(await b.open())).toBe('two');
});

test('symlinks that leave the root are never served; links inside it are', async () => {
  const outside = tempDir();
  writeFileSync(join(outside, 'secret.bin'), 'secret');
  writeFileSync(join(outside, '3.0.0.bin'), 'outside');
  const src = await setUp((root) => {
    mkdirSync(join(root, 'dev'));
    writeFileSync(join(root, 'dev', '1.0.0.bin'), 'one');
    symlinkSync(join(outside, 'secret.bin'), join(root, 'dev', '9.9.9.bin'));
    symlinkSync(join(root, 'dev', '1.0.0.bin'), join(root, 'dev', '1.1.0.bin'));
    symlinkSync(outside, join(root, 'escape'));
  });
  await expect(src.resolve(device('dev'), { version: '9.9.9', tag: '9.9.9.bin' })).rejects.toThrow('not a regular file inside');
  const inside = await src.resolve(device('dev'), { version: '1.1.0', tag: '1.1.0.bin' });
  expect(await readAll(await inside.open())).toBe('one');
  // A device folder that is a link out of the root lists nothing servable.
  const listed = await src.versions(device('escape'));
  expect(listed.map((v) => v.version)).toEqual(['3.0.0']);
  for (const v of listed) await expect(src.resolve(device('escape'), v)).rejects.toThrow();
});

test('a file changed after resolve is refused rather than served under the old digest', async () => {
  let path = '';
  const src = await setUp((root) => {
    mkdirSync(join(root, 'dev'));
    path = join(root, 'dev', '1.0.0.bin');
    writeFileSync(path, 'original');
  });
  const a = await src.resolve(device('dev'), { version: '1.0.0', tag: '1.0.0.bin' });
  writeFileSync(path, 'tampered');
  await expect(readAll(await a.open())).rejects.toThrow('digest mismatch');
});

test('a missing root stops setup with a clear message', async () => {
  const src = dir({ root: '/definitely/not/here' });
  await expect(src.setup?.({ logger: quiet, configDir: '/', stateDir: tempDir(), signal: new AbortController().signal }) as Promise<void>).rejects.toThrow(
    'firmware folder /definitely/not/here does not exist or is not a folder',
  );
  expect(() => dir({} as never)).toThrow("dir(): pass the firmware folder, e.g. dir({ root: './firmware' })");
});
