/**
 * ReleaseStore remembers, on disk beside the blobs, which release an artifact became
 * (`releases/<key>.json`, keyed by source, source digest, verifier and extractor chain) and the
 * last good release of each device (`devices/<id>.json`), so a restart with the registry down
 * still serves what was served before.
 */
import { mkdirSync } from 'node:fs';
import { readFile, rename, writeFile, open } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Release } from './release.ts';

export class ReleaseStore {
  private readonly releaseDir: string;
  private readonly deviceDir: string;

  constructor(readonly root: string) {
    this.releaseDir = join(root, 'releases');
    this.deviceDir = join(root, 'devices');
    mkdirSync(this.releaseDir, { recursive: true });
    mkdirSync(this.deviceDir, { recursive: true });
  }

  /** The key of an artifact's release: the same bytes through the same verifier and chain give the same release. */
  static key(parts: { sourceId: string; sourceDigest: string; verifierId: string; chain: string; device: string }): string {
    return new Bun.CryptoHasher('sha256')
      .update(`${parts.sourceId}\0${parts.sourceDigest}\0${parts.verifierId}\0${parts.chain}\0${parts.device}`)
      .digest('hex');
  }

  async getRelease(key: string): Promise<Release | undefined> {
    return readJson<Release>(join(this.releaseDir, `${key}.json`));
  }

  async putRelease(key: string, r: Release): Promise<void> {
    await writeJsonAtomic(join(this.releaseDir, `${key}.json`), r);
  }

  async getLastGood(device: string): Promise<Release | undefined> {
    return readJson<Release>(this.devicePath(device));
  }

  async putLastGood(device: string, r: Release): Promise<void> {
    await writeJsonAtomic(this.devicePath(device), r);
  }

  private devicePath(device: string): string {
    return join(this.deviceDir, `${encodeURIComponent(device)}.json`);
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(tmp, JSON.stringify(value, null, 2));
  const fh = await open(tmp, 'r+');
  await fh.sync();
  await fh.close();
  await rename(tmp, path);
}
