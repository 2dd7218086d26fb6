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

/** SHA-256 of bytes as `sha256:<hex>`. */
export function sha256Digest(bytes: Uint8Array | string): string {
  return 'sha256:' + new Bun.CryptoHasher('sha256').update(bytes).digest('hex');
}

/**
 * Passes bytes through and errors the stream at its end when their SHA-256 is not `expected`
 * (`sha256:<hex>`), so a consumer that commits only on a clean end never keeps wrong bytes.
 */
export function verifyDigestStream(input: ReadableStream<Uint8Array>, expected: string, what: string): ReadableStream<Uint8Array> {
  const sha = new Bun.CryptoHasher('sha256');
  return input.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, ctl) {
        sha.update(chunk);
        ctl.enqueue(chunk);
      },
      flush(ctl) {
        const got = 'sha256:' + sha.digest('hex');
        if (got !== expected) ctl.error(new Error(`${what}: digest mismatch, expected ${expected}, got ${got}`));
      },
    }),
  );
}
