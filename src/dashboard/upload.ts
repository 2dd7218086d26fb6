/**
 * An upload into a local folder source (`dir({ root })`): the device group is checked (a valid id whose
 * composition serves from a folder), the version is semver, the size within `server.uploadMaxBytes`,
 * and an existing version is never replaced. The file is written under a temporary name in the
 * device's folder, fsynced, then linked to its final name (link fails when that name exists, so two
 * uploads of one version cannot both win), the temporary name removed and the folder fsynced: a
 * crash leaves either no release or the whole one, never a partial file under a version's name.
 */
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import semver from 'semver';
import type { Settings } from '../config/settings.ts';
import { deviceRef } from '../core/composition.ts';
import { validateDeviceId } from '../core/device-id.ts';
import { errorMessage } from '../core/errors.ts';

export class UploadRefused extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export interface Uploaded {
  stream: string;
  version: string;
  path: string;
  size: number;
  sha256: string;
  crc32: number;
}

/** Extensions kept from the uploaded file's name (the folder source strips them to find the version). */
const KEPT_EXTENSION = /(\.(bin|img|hex|elf|fw|ota|swu|raucb|gz|zst|zstd|tar|tgz))+$/i;

/** The folder a stream's releases live in, when its composition serves from a local folder. */
export function folderOf(settings: Settings, stream: string): string {
  try {
    validateDeviceId(stream, settings.repositoryPrefix);
  } catch (e) {
    throw new UploadRefused(400, errorMessage(e));
  }
  const comp = settings.composer.for(stream);
  if (!comp) throw new UploadRefused(400, `no entry of the config serves '${stream}'`);
  const identity = comp.source.id === 'source.dir' ? comp.source.identity?.(deviceRef(stream, comp)) : undefined;
  if (!identity?.startsWith('source.dir ')) throw new UploadRefused(400, `'${stream}' is served by ${comp.source.id}, not a local folder: push to the registry instead (oras push, otaflux push)`);
  return identity.slice('source.dir '.length);
}

export async function saveUpload(settings: Settings, stream: string, versionGiven: string, file: File, /** Versions the source has for the stream (normalised, no `v`). */ existing: (stream: string) => Promise<string[]>): Promise<Uploaded> {
  const folder = folderOf(settings, stream);
  const version = versionGiven.trim().replace(/^v/i, '');
  if (semver.valid(version) === null) throw new UploadRefused(400, `version '${versionGiven}': expected semver such as 1.2.0 or 1.3.0-beta.2`);
  if (file.size === 0) throw new UploadRefused(400, 'the file is empty');
  if (file.size > settings.admin.uploadMaxBytes) throw new UploadRefused(413, `the file is ${file.size} bytes, over the upload limit of ${settings.admin.uploadMaxBytes} (server.uploadMaxBytes)`);
  if ((await existing(stream)).includes(version)) throw new UploadRefused(409, `${stream} ${version} exists already: a published version is never replaced; upload a new version`);
  const ext = KEPT_EXTENSION.exec(file.name)?.[0]?.toLowerCase() ?? '.bin';
  mkdirSync(folder, { recursive: true });
  const final = join(folder, `${version}${ext}`);
  const temp = join(folder, `.upload-${randomBytes(8).toString('hex')}.tmp`);
  const sha = new Bun.CryptoHasher('sha256');
  let crc = 0;
  const fd = openSync(temp, 'wx', 0o644);
  try {
    for await (const chunk of file.stream()) {
      sha.update(chunk);
      crc = Bun.hash.crc32(chunk, crc);
      for (let off = 0; off < chunk.byteLength; ) off += writeSync(fd, chunk, off);
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(temp);
    throw e;
  }
  closeSync(fd);
  try {
    linkSync(temp, final);
  } catch (e) {
    unlinkSync(temp);
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new UploadRefused(409, `${stream} ${version} exists already: a published version is never replaced`);
    throw e;
  }
  unlinkSync(temp);
  const dirFd = openSync(folder, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
  return { stream, version, path: final, size: file.size, sha256: sha.digest('hex'), crc32: crc >>> 0 };
}
