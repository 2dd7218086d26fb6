/**
 * Digests of a release's served bytes that device protocols send or compare, beside the release's own
 * CRC-32 and SHA-256: MD5 (Arduino `x-*-sketch-md5` and the `x-MD5` it verifies after writing; DDI
 * `hashes.md5`), SHA-1 (DDI `hashes.sha1`, which SWUpdate checks) and, for an ESP32 app image with an
 * appended SHA-256, that appended digest (what `x-ESP32-sketch-sha256` reports: the partition's hash
 * is the image's own, not the file's). Computed in one pass, once per release, never per request, and
 * shared by every protocol of a running server (`releaseDigests`).
 */
import type { Release } from '../core/release.ts';
import type { ReleaseBodies } from '../core/release-bodies.ts';

export interface ImageDigests {
  md5: string;
  sha1: string;
  /** Lowercase hex of the SHA-256 an ESP32 app image carries in its last 32 bytes, when it has one. */
  appendedSha256?: string;
}

const REMEMBERED = 256;
/** ESP image header: magic 0xE9 at 0, "hash appended" flag at byte 23. */
const ESP_MAGIC = 0xe9;
const HASH_APPENDED_AT = 23;

export class ReleaseDigests {
  private readonly known = new Map<string, Promise<ImageDigests>>();
  /** `stream NUL digest` → version, for every digest computed: which release a device says it runs. */
  private readonly versions = new Map<string, string>();

  constructor(private readonly bodies: ReleaseBodies) {}

  /** The version of a stream's release with this digest (MD5, SHA-256 or appended SHA-256), if one was seen. */
  versionOf(stream: string, digest: string): string | undefined {
    return this.versions.get(`${stream}\0${digest.toLowerCase()}`);
  }

  of(release: Release): Promise<ImageDigests> {
    let p = this.known.get(release.sha256);
    if (!p) {
      p = this.compute(release);
      p.then((d) => {
        if (this.versions.size > REMEMBERED * 4) this.versions.clear();
        for (const digest of [d.md5, release.sha256, d.appendedSha256]) if (digest) this.versions.set(`${release.device}\0${digest}`, release.version);
      }, () => undefined);
      p.catch(() => this.known.delete(release.sha256));
      this.known.set(release.sha256, p);
      if (this.known.size > REMEMBERED) this.known.delete(this.known.keys().next().value as string);
    }
    return p;
  }

  private async compute(release: Release): Promise<ImageDigests> {
    const md5 = new Bun.CryptoHasher('md5');
    const sha1 = new Bun.CryptoHasher('sha1');
    const body = await this.bodies.body(release);
    let head: Uint8Array;
    let tail: Uint8Array;
    if (body.kind === 'buffer') {
      md5.update(body.buffer);
      sha1.update(body.buffer);
      head = body.buffer.subarray(0, 24);
      tail = body.buffer.subarray(Math.max(0, body.buffer.byteLength - 32));
    } else {
      for await (const chunk of Bun.file(body.path).stream()) {
        md5.update(chunk);
        sha1.update(chunk);
      }
      const file = Bun.file(body.path);
      head = await file.slice(0, 24).bytes();
      tail = await file.slice(Math.max(0, release.size - 32)).bytes();
    }
    const appended = head.length === 24 && head[0] === ESP_MAGIC && head[HASH_APPENDED_AT] === 1 && release.size > 56;
    return { md5: md5.digest('hex'), sha1: sha1.digest('hex'), ...(appended ? { appendedSha256: Buffer.from(tail).toString('hex') } : {}) };
  }
}

const shared = new WeakMap<ReleaseBodies, ReleaseDigests>();

/** The one ReleaseDigests of a server's release bodies: every protocol front door asks the same one. */
export function releaseDigests(bodies: ReleaseBodies): ReleaseDigests {
  let d = shared.get(bodies);
  if (!d) shared.set(bodies, (d = new ReleaseDigests(bodies)));
  return d;
}
