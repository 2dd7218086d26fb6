/** The tar extractor on archives made by the Debian `tar` CLI: member selection and hostile archives. */
import { describe, expect, test } from 'bun:test';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tar } from '../../src/plugins/extractor/index.ts';
import type { ExtractorPlugin } from '../../src/plugin.ts';
import { tempDir } from '../support/tmp.ts';
import { collect, extractCtx, failureOf, fileStream, firmwareBytes, join, sameBytes, sh, silentLogger, streamOf } from './helpers.ts';

/** Makes a folder with `files` (name → bytes or `-> target` for a symlink), and runs `cmd` in it. */
function archive(files: Record<string, Uint8Array | string>, cmd: string): string {
  const d = tempDir('otaflux-tar-');
  for (const [name, content] of Object.entries(files)) {
    const path = join(d, 'tree', name);
    mkdirSync(join(path, '..'), { recursive: true });
    if (typeof content === 'string') symlinkSync(content.replace(/^-> /, ''), path);
    else writeFileSync(path, content);
  }
  mkdirSync(join(d, 'tree'), { recursive: true });
  sh(cmd, join(d, 'tree'));
  return join(d, 'out.tar');
}

async function extractFile(path: string, plugin: ExtractorPlugin = tar(), limits = {}): Promise<Uint8Array> {
  return collect(plugin.extract(fileStream(path), extractCtx(limits)));
}

async function errorOf(path: string, plugin: ExtractorPlugin = tar(), limits = {}): Promise<string> {
  return (await failureOf(plugin.extract(fileStream(path), extractCtx(limits)))).message;
}

const fw = firmwareBytes(1024 * 1024 + 3, 7);
const other = firmwareBytes(4000, 9);

describe('member selection', () => {
  test('the only regular file, whatever its name, beside directories', async () => {
    const t = archive({ 'out/app.img': fw }, 'tar -cf ../out.tar .');
    sameBytes(await extractFile(t), fw);
  });

  test('firmware.bin among several files', async () => {
    const t = archive({ 'README.md': other, 'firmware.bin': fw, 'app.elf': other }, 'tar -cf ../out.tar README.md firmware.bin app.elf');
    sameBytes(await extractFile(t), fw);
  });

  test('the only *.bin among several files', async () => {
    const t = archive({ 'notes.txt': other, 'build/esp32.bin': fw }, 'tar -cf ../out.tar notes.txt build');
    sameBytes(await extractFile(t), fw);
  });

  test('two *.bin and no config: an error listing the members', async () => {
    const t = archive({ 'a.bin': fw, 'b.bin': other }, 'tar -cf ../out.tar a.bin b.bin');
    const msg = await errorOf(t);
    expect(msg).toStartWith('extractor.tar: cannot tell which tar member is the firmware');
    expect(msg).toContain(`a.bin (file, ${fw.byteLength} bytes)`);
    expect(msg).toContain(`b.bin (file, ${other.byteLength} bytes)`);
    expect(msg).toContain("tar({ member: '…' })");
  });

  test('a configured exact name, streamed straight from the archive', async () => {
    const t = archive({ 'a.bin': other, 'sub/b.bin': fw, 'c.bin': other }, 'tar -cf ../out.tar a.bin sub c.bin');
    sameBytes(await extractFile(t, tar({ member: 'sub/b.bin' })), fw);
    sameBytes(await extractFile(t, tar({ member: './sub/b.bin' })), fw);
    expect(await errorOf(t, tar({ member: 'nope.bin' }))).toStartWith("extractor.tar: no regular file in the tar archive matches 'nope.bin'; members: a.bin");
  });

  test('a configured glob; several matches are an error', async () => {
    const t = archive({ 'a.txt': other, 'out/fw-1.2.3.bin': fw, 'x.elf': other }, 'tar -cf ../out.tar a.txt out x.elf');
    sameBytes(await extractFile(t, tar({ member: 'fw-*.bin' })), fw);
    sameBytes(await extractFile(t, tar({ member: 'out/*.bin' })), fw);
    expect(await errorOf(t, tar({ member: '*' }))).toStartWith("extractor.tar: several tar members match '*': a.txt, out/fw-1.2.3.bin, x.elf");
  });

  test('the member option is part of the cache key and checked at construction', () => {
    expect(tar({ member: '*.bin' }).variant).toBe('member=*.bin');
    expect(tar().variant).toBeUndefined();
    expect(() => tar({ member: ' ' })).toThrow('extractor.tar: tar({ member }) needs a non-empty member name or glob');
  });
});

describe('header formats', () => {
  const longName = `${'deep/'.repeat(30)}firmware.bin`;
  test.each(['pax', 'gnu', 'ustar'])('%s archives with long names', async (format) => {
    if (format === 'ustar') {
      // ustar splits long names into prefix + name (up to 255 characters).
      const name = `${'d'.repeat(90)}/${'e'.repeat(60)}/firmware.bin`;
      const t = archive({ [name]: fw, 'x.txt': other }, `tar --format=ustar -cf ../out.tar ${name.split('/')[0]} x.txt`);
      sameBytes(await extractFile(t), fw);
      return;
    }
    const t = archive({ [longName]: fw, 'x.txt': other }, `tar --format=${format} -cf ../out.tar deep x.txt`);
    sameBytes(await extractFile(t), fw);
    sameBytes(await extractFile(t, tar({ member: longName })), fw);
  });

  test('pax headers with a non-ASCII name and a file without end marker', async () => {
    const t = archive({ 'fïrmwäre.bin': fw }, 'tar --format=pax -cf ../out.tar fïrmwäre.bin');
    sameBytes(await extractFile(t, tar({ member: 'fïrmwäre.bin' })), fw);
    // Cut the two zero blocks (and the record padding) off: tar accepts it, so do we.
    const bytes = readFileSync(t);
    const dataEnd = findEndOfData(bytes);
    expect(dataEnd).toBeLessThan(bytes.byteLength);
    sameBytes(await collect(tar().extract(streamOf(bytes.subarray(0, dataEnd), 777), extractCtx())), fw);
  });
});

/** The offset just after the last non-zero 512-byte block. */
function findEndOfData(bytes: Uint8Array): number {
  let end = bytes.byteLength;
  while (end >= 512 && bytes.subarray(end - 512, end).every((b) => b === 0)) end -= 512;
  return end;
}

describe('hostile archives', () => {
  test('symlinks are never followed or served, even when named firmware.bin', async () => {
    const t = archive({ 'firmware.bin': '-> /etc/passwd' }, 'tar -cf ../out.tar firmware.bin');
    const msg = await errorOf(t);
    expect(msg).toBe('extractor.tar: the tar archive has no regular file to serve; members: firmware.bin -> /etc/passwd (symlink, ignored)');
    const t2 = archive({ 'firmware.bin': '-> real.img', 'real.img': fw }, 'tar -cf ../out.tar firmware.bin real.img');
    sameBytes(await extractFile(t2), fw);
  });

  test('hard links and fifos are ignored', async () => {
    const t = archive({ 'fw.img': fw }, 'ln fw.img again.img && mkfifo pipe && tar -cf ../out.tar fw.img again.img pipe');
    sameBytes(await extractFile(t), fw);
  });

  test('members with ../ or absolute names are never selected', async () => {
    const d = tempDir('otaflux-tar-evil-');
    mkdirSync(join(d, 'a/b'), { recursive: true });
    mkdirSync(join(d, 'abs'));
    writeFileSync(join(d, 'a/firmware.bin'), other);
    writeFileSync(join(d, 'abs/firmware.bin'), firmwareBytes(5000, 3));
    writeFileSync(join(d, 'a/b/ok.img'), fw);
    sh(`tar -cPf ${d}/evil.tar ../firmware.bin ${d}/abs/firmware.bin ok.img`, join(d, 'a/b'));
    sameBytes(await extractFile(join(d, 'evil.tar')), fw);
    expect(await errorOf(join(d, 'evil.tar'), tar({ member: '../firmware.bin' }))).toContain('../firmware.bin (unsafe path, ignored)');
    expect(await errorOf(join(d, 'evil.tar'), tar({ member: '*.bin' }))).toContain(`${d}/abs/firmware.bin (unsafe path, ignored)`);
  });

  test('an empty archive is a clear error', async () => {
    const d = tempDir('otaflux-tar-empty-');
    sh('tar -cf empty.tar -T /dev/null', d);
    expect(await errorOf(join(d, 'empty.tar'))).toBe('extractor.tar: empty tar archive: it has no members');
  });

  test('a truncated archive is a clear error, in data or in a header', async () => {
    const t = archive({ 'firmware.bin': fw }, 'tar -cf ../out.tar firmware.bin');
    const bytes = readFileSync(t);
    const inData = await failureOf(tar().extract(streamOf(bytes.subarray(0, 600_000)), extractCtx()));
    expect(inData.message).toStartWith('extractor.tar: truncated tar archive: the input ends inside member data');
    const named = await failureOf(tar({ member: 'firmware.bin' }).extract(streamOf(bytes.subarray(0, 600_000)), extractCtx()));
    expect(named.message).toStartWith('extractor.tar: truncated tar archive');
    const inHeader = await failureOf(tar().extract(streamOf(bytes.subarray(0, 300)), extractCtx()));
    expect(inHeader.message).toBe('extractor.tar: truncated tar archive: the input ends inside a header at byte 0 (after 300 bytes)');
  });

  test('a corrupt header checksum is a clear error; other input is not a tar archive', async () => {
    const t = archive({ 'a.txt': other, 'firmware.bin': fw }, 'tar -cf ../out.tar a.txt firmware.bin');
    const bytes = new Uint8Array(readFileSync(t));
    const second = 512 + Math.ceil(other.byteLength / 512) * 512;
    bytes[second + 3]! ^= 0x20; // a byte of the second member's name
    const msg = await errorOf(writeTemp(bytes));
    expect(msg).toMatch(new RegExp(`^extractor\\.tar: corrupt tar header at byte ${second}: checksum mismatch \\(stored \\d+, computed \\d+\\)$`));
    expect(await errorOf(writeTemp(fw))).toStartWith('extractor.tar: input is not a tar archive (first header: ');
  });

  test('members to choose from over maxOutputBytes are refused; a named member still streams', async () => {
    const t = archive({ 'a.bin': fw, 'b.bin': fw }, 'tar -cf ../out.tar a.bin b.bin');
    expect(await errorOf(t, tar(), { maxOutputBytes: 1.5 * 1024 * 1024 })).toContain('exceed 1572864 bytes (limits.maxOutputBytes) at "b.bin"');
    sameBytes(await extractFile(t, tar({ member: 'b.bin' }), { maxOutputBytes: 1.5 * 1024 * 1024 }), fw);
  });
});

test('the spill file lives in the plugin state dir and is gone afterwards', async () => {
  const state = tempDir('otaflux-tar-state-');
  const plugin = tar();
  await plugin.setup!({ logger: silentLogger, configDir: state, stateDir: state, signal: new AbortController().signal });
  const t = archive({ 'a.txt': other, 'fw.bin': fw }, 'tar -cf ../out.tar a.txt fw.bin');
  const reader = plugin.extract(fileStream(t), extractCtx()).getReader();
  const first = await reader.read();
  expect(first.done).toBe(false);
  expect(readdirSync(state)).toEqual([]); // unlinked at once, held open
  await reader.cancel();
  sameBytes(await extractFile(t, plugin), fw);
  expect(readdirSync(state)).toEqual([]);
});

function writeTemp(bytes: Uint8Array): string {
  const p = join(tempDir('otaflux-tar-bytes-'), 'x.tar');
  writeFileSync(p, bytes);
  return p;
}
