/**
 * ReleaseStore remembers, on disk beside the blobs, which release an artifact became
 * (`releases/<key>.json`, keyed by source identity, source digest, verifier identity, extractor chain
 * and device) and the last good release of each device (`devices/<id>.json`), so a restart with the
 * registry down still serves what was served before. Each record is `{ release, evidence? }`: the
 * release with its provenance, and the signature material its verifier returned, for offline
 * re-verification against the keys configured later.
 *
 * Every record names a blob. The cache budget is told of each record written (`recorded`): when the
 * blob was evicted meanwhile, the record is removed at once, so no record points to a removed blob.
 */
import { mkdirSync } from 'node:fs';
import { readFile, rename, writeFile, open, readdir, rm } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Release } from './release.ts';

export interface ReleaseRecord {
  release: Release;
  /** What the verifier returned as evidence when it accepted (see VerifierPlugin.verifyOffline). */
  evidence?: unknown;
}

/** Told of every record written; answers whether the record's blob is still kept. */
export interface RecordIndex {
  recorded(sha256: string, path: string): boolean;
}

export class ReleaseStore {
  private readonly releaseDir: string;
  private readonly deviceDir: string;
  index?: RecordIndex;

  constructor(readonly root: string) {
    this.releaseDir = join(root, 'releases');
    this.deviceDir = join(root, 'devices');
    mkdirSync(this.releaseDir, { recursive: true });
    mkdirSync(this.deviceDir, { recursive: true });
  }

  /** The key of an artifact's release: the same bytes, from the same place, through the same verifier and chain give the same release. */
  static key(parts: { source: string; sourceDigest: string; verifier: string; chain: string; device: string }): string {
    return new Bun.CryptoHasher('sha256')
      .update(`${parts.source}\0${parts.sourceDigest}\0${parts.verifier}\0${parts.chain}\0${parts.device}`)
      .digest('hex');
  }

  async getRelease(key: string): Promise<ReleaseRecord | undefined> {
    return readRecord(join(this.releaseDir, `${key}.json`));
  }

  async putRelease(key: string, r: ReleaseRecord): Promise<void> {
    await this.write(join(this.releaseDir, `${key}.json`), r);
  }

  async getLastGood(device: string): Promise<ReleaseRecord | undefined> {
    return readRecord(this.devicePath(device));
  }

  async putLastGood(device: string, r: ReleaseRecord): Promise<void> {
    await this.write(this.devicePath(device), r);
  }

  /** Devices with a last good release on disk. */
  async devices(): Promise<string[]> {
    const names = await readdir(this.deviceDir).catch(() => [] as string[]);
    return names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).map((n) => decodeURIComponent(n.slice(0, -5)));
  }

  /** Every record file with the blob it names (records of older formats too; unreadable ones as `sha256: ''`). */
  async all(): Promise<{ path: string; sha256: string }[]> {
    const out: { path: string; sha256: string }[] = [];
    for (const dir of [this.releaseDir, this.deviceDir]) {
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const n of names) {
        const path = join(dir, n);
        if (n.startsWith('.') && n.endsWith('.tmp')) {
          await rm(path, { force: true });
          continue;
        }
        if (!n.endsWith('.json')) continue;
        const json = await readJson<{ release?: { sha256?: unknown }; sha256?: unknown }>(path);
        const sha = json?.release?.sha256 ?? json?.sha256;
        out.push({ path, sha256: typeof sha === 'string' ? sha : '' });
      }
    }
    return out;
  }

  private async write(path: string, r: ReleaseRecord): Promise<void> {
    await writeJsonAtomic(path, r);
    if (this.index && !this.index.recorded(r.release.sha256, path)) await rm(path, { force: true });
  }

  private devicePath(device: string): string {
    return join(this.deviceDir, `${encodeURIComponent(device)}.json`);
  }
}

/** A record of the current format (a release with provenance); older or damaged ones read as absent. */
async function readRecord(path: string): Promise<ReleaseRecord | undefined> {
  const json = await readJson<Partial<ReleaseRecord>>(path);
  if (!json || typeof json.release !== 'object' || json.release === null || !json.release.provenance) return undefined;
  return json as ReleaseRecord;
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
