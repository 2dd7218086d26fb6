/** Content sniffing for the built-in formats. Names and media types are only hints; bytes decide. */
import { decodeHeader } from './tar/header.ts';

export const GZIP_MAGIC = Uint8Array.of(0x1f, 0x8b);
export const ZSTD_MAGIC = Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd);
/** Offset of the `ustar` magic in a tar header block. */
export const TAR_MAGIC_OFFSET = 257;
const USTAR = Uint8Array.of(0x75, 0x73, 0x74, 0x61, 0x72); // "ustar", both POSIX ("ustar\0") and GNU ("ustar ")

/** Whether `bytes` starts with `magic` at `offset`. */
export function hasMagic(bytes: Uint8Array, magic: Uint8Array, offset = 0): boolean {
  if (bytes.byteLength < offset + magic.byteLength) return false;
  for (let i = 0; i < magic.byteLength; i++) if (bytes[offset + i] !== magic[i]) return false;
  return true;
}

/** gzip: `1f 8b`, compression method 8 (deflate, the only one defined) and no reserved flag bits. */
export function looksLikeGzip(head: Uint8Array): boolean {
  return hasMagic(head, GZIP_MAGIC) && head[2] === 8 && (head[3]! & 0xe0) === 0;
}

export function looksLikeZstd(head: Uint8Array): boolean {
  return hasMagic(head, ZSTD_MAGIC);
}

/**
 * Whether `head` is a tar archive: the ustar magic at 257 in a header whose checksum holds, or (only when the file name says `.tar`)
 * the two zero blocks of an empty archive, so that an empty release tarball fails loudly instead of
 * being served as 10 KiB of zeros.
 */
export function looksLikeTar(head: Uint8Array, name?: string): boolean {
  if (hasMagic(head, USTAR, TAR_MAGIC_OFFSET)) return head.byteLength >= 512 && typeof decodeHeader(head.subarray(0, 512)) !== 'string';
  if (!name || !/\.tar$/i.test(name) || head.byteLength < 1024) return false;
  for (let i = 0; i < 1024; i++) if (head[i] !== 0) return false;
  return true;
}

/** The first bytes of `bytes` as hex, for error messages (`1f 8b 08 00`). */
export function hexHead(bytes: Uint8Array, n = 4): string {
  return Array.from(bytes.subarray(0, n), (b) => b.toString(16).padStart(2, '0')).join(' ') || 'nothing';
}
