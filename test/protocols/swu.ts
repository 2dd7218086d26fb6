/**
 * Builds a minimal valid SWUpdate image (.swu) for tests: a cpio "newc" archive with a CMS-signed
 * sw-description (Debian's swupdate is built for signed images and hardware compatibility) and one
 * `files` entry written into a temp folder, so no flash is touched.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { writeFileSync, readFileSync } from 'node:fs';
import { tempDir } from '../support/tmp.ts';

export const HW = 'otaflux-test:1.0';

/** A self-signed signer certificate (emailProtection, swupdate's default purpose) and its key. */
export function signer(): { cert: string; key: string } {
  const dir = tempDir('otaflux-swu-signer-');
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=otaflux-test-signer', '-addext', 'keyUsage=digitalSignature', '-addext', 'extendedKeyUsage=emailProtection']);
  return { cert, key };
}

/** A .swu that writes `payload` to `target` (a `files` entry; it fails when target's folder is missing). */
export function buildSwu(s: { cert: string; key: string }, version: string, target: string, payload: Uint8Array): Buffer {
  const sha = createHash('sha256').update(payload).digest('hex');
  const description = [
    'software = {',
    `  version = "${version}";`,
    '  description = "otaflux test image";',
    '  hardware-compatibility = [ "1.0" ];',
    '  files: (',
    `    { filename = "payload.bin"; path = "${target}"; sha256 = "${sha}"; }`,
    '  );',
    '};',
    '',
  ].join('\n');
  const dir = tempDir('otaflux-swu-build-');
  const descPath = join(dir, 'sw-description');
  writeFileSync(descPath, description);
  run(['openssl', 'cms', '-sign', '-in', descPath, '-out', `${descPath}.sig`, '-signer', s.cert, '-inkey', s.key, '-outform', 'DER', '-nosmimecap', '-binary']);
  return Buffer.concat([
    cpioEntry('sw-description', Buffer.from(description)),
    cpioEntry('sw-description.sig', readFileSync(`${descPath}.sig`)),
    cpioEntry('payload.bin', payload),
    cpioEntry('TRAILER!!!', new Uint8Array()),
  ]);
}

/** One cpio "newc" (070701) member: 110-byte ASCII header, name, data, each padded to 4 bytes. */
function cpioEntry(name: string, data: Uint8Array): Buffer {
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  const nameBytes = Buffer.from(`${name}\0`);
  // ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  const fields = [0, 0o100644, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBytes.length, 0];
  const head = Buffer.concat([Buffer.from(`070701${fields.map(hex).join('')}`), nameBytes]);
  const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  return Buffer.concat([head, pad(head.length), Buffer.from(data), pad(data.length)]);
}

function run(cmd: string[]): void {
  const p = Bun.spawnSync(cmd, { stdout: 'pipe', stderr: 'pipe' });
  if (p.exitCode !== 0) throw new Error(`${cmd[0]} failed: ${p.stderr.toString()}`);
}
