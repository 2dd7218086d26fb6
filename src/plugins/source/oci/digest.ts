/**
 * Content digests (`sha256:<hex>`, `sha512:<hex>`): checked before they go into a URL, and
 * recomputed over every manifest and blob the client hands out.
 */
import { RegistryError } from './errors.ts';

const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}

/** Throws unless `digest` is a sha256 or sha512 digest in canonical form. */
export function assertDigest(digest: string, what: string): void {
  if (!DIGEST.test(digest)) throw new RegistryError('bad-response', `${what}: '${digest.slice(0, 80)}' is not a sha256 or sha512 digest`);
}

type Algorithm = 'sha256' | 'sha512';

function algorithmOf(digest: string): Algorithm {
  return digest.startsWith('sha512:') ? 'sha512' : 'sha256';
}

/** The digest of `bytes` with the algorithm `like` uses (sha256 when omitted). */
export function digestOf(bytes: Uint8Array, like?: string): string {
  const alg = like ? algorithmOf(like) : 'sha256';
  return `${alg}:` + new Bun.CryptoHasher(alg).update(bytes).digest('hex');
}

/**
 * Passes bytes through, erroring the stream when more than `size` bytes arrive, or at the end when
 * fewer did or their digest is not `digest`: a consumer that commits only on a clean end never
 * keeps wrong bytes.
 */
export function verifyingStream(digest: string, size: number | undefined, what: string): TransformStream<Uint8Array, Uint8Array> {
  const hasher = new Bun.CryptoHasher(algorithmOf(digest));
  let seen = 0;
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, ctl) {
      seen += chunk.byteLength;
      if (size !== undefined && seen > size) {
        ctl.error(new RegistryError('digest-mismatch', `${what}: more than the ${size} bytes its descriptor declares`));
        return;
      }
      hasher.update(chunk);
      ctl.enqueue(chunk);
    },
    flush(ctl) {
      if (size !== undefined && seen !== size) {
        ctl.error(new RegistryError('digest-mismatch', `${what}: got ${seen} bytes, its descriptor declares ${size}`));
        return;
      }
      const got = `${algorithmOf(digest)}:` + hasher.digest('hex');
      if (got !== digest) ctl.error(new RegistryError('digest-mismatch', `${what}: digest mismatch, got ${got}`));
    },
  });
}
