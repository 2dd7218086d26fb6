/**
 * Blob uploads of the OCI distribution API. A blob the repository already has (HEAD 200, or 307 to a
 * storage backend) is not sent again. Small blobs go in one request (POST for a session, PUT with
 * the bytes and `?digest=`); larger ones in chunks (PATCH with `Content-Range`, then an empty PUT with
 * `?digest=`), so progress can be reported and no request body is larger than one chunk.
 */
import type { RegistrySession } from './session.ts';
import { PublishError } from './errors.ts';

/** Blobs up to this size are sent in one PUT; larger ones in chunks of this size. */
export const CHUNK_BYTES = 8 << 20;

export interface BlobSource {
  digest: string;
  size: number;
  /** The bytes from `start` to `end` (exclusive). */
  slice(start: number, end: number): Promise<Uint8Array>;
}

export type Progress = (sent: number, total: number) => void;

/** A blob held in memory. */
export function memoryBlob(bytes: Uint8Array): BlobSource {
  return { digest: sha256(bytes), size: bytes.byteLength, slice: async (a, b) => bytes.subarray(a, b) };
}

/** A file on disk, hashed once by streaming it. */
export async function fileBlob(path: string): Promise<BlobSource> {
  const file = Bun.file(path);
  const hasher = new Bun.CryptoHasher('sha256');
  let size = 0;
  for await (const chunk of file.stream()) {
    hasher.update(chunk);
    size += chunk.byteLength;
  }
  return { digest: `sha256:${hasher.digest('hex')}`, size, slice: async (a, b) => new Uint8Array(await file.slice(a, b).arrayBuffer()) };
}

export function sha256(bytes: Uint8Array | string): string {
  return `sha256:${new Bun.CryptoHasher('sha256').update(bytes).digest('hex')}`;
}

/** Uploads a blob unless the repository has it; returns whether bytes were sent. */
export async function uploadBlob(s: RegistrySession, repository: string, blob: BlobSource, label: string, progress?: Progress): Promise<boolean> {
  const where = `${s.host}/${repository}`;
  const head = await s.send('HEAD', `/v2/${repository}/blobs/${blob.digest}`, { what: `checking ${label} in ${where}`, repository });
  await head.body?.cancel().catch(() => {});
  if (head.status === 200 || head.status === 307) return false;
  const what = `uploading ${label} to ${where}`;
  const start = await s.send('POST', `/v2/${repository}/blobs/uploads/`, { what, repository, headers: { 'content-length': '0' } });
  await s.expect(start, [202], what);
  let location = nextLocation(start, s, what);
  await start.body?.cancel().catch(() => {});
  if (blob.size > CHUNK_BYTES) {
    for (let at = 0; at < blob.size; at += CHUNK_BYTES) {
      const end = Math.min(blob.size, at + CHUNK_BYTES);
      const chunk = await blob.slice(at, end);
      const res = await s.send('PATCH', location, {
        what, repository, body: chunk,
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${at}-${end - 1}`, 'content-length': String(chunk.byteLength) },
      });
      await s.expect(res, [202, 204], what);
      location = nextLocation(res, s, what);
      await res.body?.cancel().catch(() => {});
      progress?.(end, blob.size);
    }
    const done = await s.send('PUT', withDigest(location, s, blob.digest), { what, repository, headers: { 'content-length': '0' } });
    await s.expect(done, [201, 204], what);
    await done.body?.cancel().catch(() => {});
    return true;
  }
  const bytes = await blob.slice(0, blob.size);
  const put = await s.send('PUT', withDigest(location, s, blob.digest), { what, repository, body: bytes, headers: { 'content-type': 'application/octet-stream' } });
  await s.expect(put, [201, 204], what);
  await put.body?.cancel().catch(() => {});
  progress?.(blob.size, blob.size);
  return true;
}

function nextLocation(res: Response, s: RegistrySession, what: string): string {
  const location = res.headers.get('location');
  if (!location) throw new PublishError(`${what}: the registry gave no upload location (status ${res.status})`);
  return new URL(location, s.origin).href;
}

function withDigest(location: string, s: RegistrySession, digest: string): string {
  const u = new URL(location, s.origin);
  u.searchParams.set('digest', digest);
  return u.href;
}
