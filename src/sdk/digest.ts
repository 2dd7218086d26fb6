/** SHA-256 digests as `sha256:<hex>`, of bytes and of streams checked as they pass. */

/** SHA-256 of bytes as `sha256:<hex>`. */
export function sha256Digest(bytes: Uint8Array | string): string {
  return 'sha256:' + new Bun.CryptoHasher('sha256').update(bytes).digest('hex');
}

/**
 * Passes bytes through and errors the stream at its end when their SHA-256 is not `expected`
 * (`sha256:<hex>`), so a consumer that commits only on a clean end never keeps wrong bytes.
 * A source whose `open()` returns such a stream may set `Artifact.contentDigest` to `expected`.
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
