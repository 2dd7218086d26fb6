// The content store on a real folder: blobs named by their SHA-256, hashed once, written atomically.
import { expect, test } from 'bun:test';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ContentStore } from '../../src/core/content-store.ts';
import { verifyDigestStream } from '../../src/core/hashing.ts';
import { tempDir } from '../support/tmp.ts';

const hex = (b: Uint8Array) => new Bun.CryptoHasher('sha256').update(b).digest('hex');
const streamOf = (b: Uint8Array) => new Blob([b]).stream();

test('put hashes the bytes, or takes the SHA-256 a self-checking stream vouches for; CRC-32 and size either way', async () => {
  const store = new ContentStore(tempDir('otaflux-store-'));
  const bytes = randomBytes(300_000);
  const hashed = await store.put(streamOf(bytes));
  expect(hashed).toMatchObject({ sha256: hex(bytes), crc32: Bun.hash.crc32(bytes) >>> 0, size: bytes.byteLength });

  const other = randomBytes(1000);
  const checked = await store.put(verifyDigestStream(streamOf(other), `sha256:${hex(other)}`, 'test'), undefined, hex(other));
  expect(checked).toMatchObject({ sha256: hex(other), crc32: Bun.hash.crc32(other) >>> 0, size: 1000 });
  expect(hex(readFileSync(checked.path))).toBe(hex(other));
  await expect(store.put(streamOf(other), undefined, 'not-hex')).rejects.toThrow('not a sha256 hex digest');
});

test('a self-checking stream that finds other bytes keeps nothing, not even under the vouched name', async () => {
  const root = tempDir('otaflux-store-');
  const store = new ContentStore(root);
  const claimed = randomBytes(5000), sent = Buffer.from(claimed);
  sent[4999] = sent[4999]! ^ 1;
  const put = store.put(verifyDigestStream(streamOf(sent), `sha256:${hex(claimed)}`, 'layer'), undefined, hex(claimed));
  await expect(put).rejects.toThrow('layer: digest mismatch');
  expect(readdirSync(join(root, 'blobs', 'sha256'))).toEqual([]);
  expect(readdirSync(join(root, 'tmp'))).toEqual([]);
});
