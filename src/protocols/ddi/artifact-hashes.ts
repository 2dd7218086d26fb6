/**
 * SHA-1 and MD5 of a release's served bytes (DDI clients check them; the release has CRC-32 and
 * SHA-256). Computed once per release and remembered, never per request.
 */
import type { Release } from '../../core/release.ts';
import type { ReleaseBodies } from '../../core/release-bodies.ts';

export interface ExtraHashes {
  sha1: string;
  md5: string;
}

const REMEMBERED = 256;

export class ArtifactHashes {
  private readonly known = new Map<string, Promise<ExtraHashes>>();

  constructor(private readonly bodies: ReleaseBodies) {}

  of(release: Release): Promise<ExtraHashes> {
    let p = this.known.get(release.sha256);
    if (!p) {
      p = this.compute(release);
      p.catch(() => this.known.delete(release.sha256));
      this.known.set(release.sha256, p);
      if (this.known.size > REMEMBERED) this.known.delete(this.known.keys().next().value as string);
    }
    return p;
  }

  private async compute(release: Release): Promise<ExtraHashes> {
    const sha1 = new Bun.CryptoHasher('sha1');
    const md5 = new Bun.CryptoHasher('md5');
    const body = await this.bodies.body(release);
    if (body.kind === 'buffer') {
      sha1.update(body.buffer);
      md5.update(body.buffer);
    } else {
      for await (const chunk of Bun.file(body.path).stream()) {
        sha1.update(chunk);
        md5.update(chunk);
      }
    }
    return { sha1: sha1.digest('hex'), md5: md5.digest('hex') };
  }
}
