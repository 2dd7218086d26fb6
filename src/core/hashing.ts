/**
 * CRC-32 (IEEE, as zlib) and SHA-256 computed in one pass over a stream of chunks. Given the SHA-256
 * (hex) that the stream is already checked against, it computes only the CRC-32 and the size.
 */
export class ContentHasher {
  private crc = 0;
  private readonly sha: Bun.CryptoHasher | undefined;
  size = 0;

  constructor(private readonly checkedSha256?: string) {
    this.sha = checkedSha256 === undefined ? new Bun.CryptoHasher('sha256') : undefined;
  }

  update(chunk: Uint8Array): void {
    this.crc = Bun.hash.crc32(chunk, this.crc);
    this.sha?.update(chunk);
    this.size += chunk.byteLength;
  }

  digest(): { crc32: number; sha256: string; size: number } {
    return { crc32: this.crc >>> 0, sha256: this.sha ? this.sha.digest('hex') : (this.checkedSha256 as string), size: this.size };
  }
}

// Digests of bytes and digest-checking streams are public SDK helpers (sources use them too).
export { sha256Digest, verifyDigestStream } from '../sdk/digest.ts';
