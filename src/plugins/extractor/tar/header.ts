/** Decoding of tar header blocks (POSIX ustar, GNU and pax), as plain functions over 512-byte blocks. */

export const BLOCK = 512;

/** A header as stored, before pax or GNU long names are applied. */
export interface RawHeader {
  name: string;
  size: number;
  /** The type flag character: `0` file, `2` symlink, `5` directory, `x` pax, `L` GNU long name… */
  type: string;
  linkName: string;
}

const decoder = new TextDecoder('utf-8');

/** Whether the block is all zeros (the end-of-archive marker). */
export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** Decodes a header block, or returns why it is not one (`checksum mismatch`). */
export function decodeHeader(block: Uint8Array): RawHeader | string {
  const stored = readOctal(block, 148, 8);
  if (stored === undefined) return 'no checksum field';
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  if (stored !== unsigned && stored !== signed) return `checksum mismatch (stored ${stored}, computed ${unsigned})`;
  const size = readNumber(block, 124, 12);
  if (size === undefined) return 'unreadable size field';
  const type = String.fromCharCode(block[156] || 0x30);
  let name = readString(block, 0, 100);
  const isUstar = readString(block, 257, 5) === 'ustar';
  if (isUstar) {
    const prefix = readString(block, 345, 155);
    if (prefix) name = `${prefix}/${name}`;
  }
  return { name, size, type, linkName: readString(block, 157, 100) };
}

/** The records of a pax extended header (`path`, `size`, `linkpath`…). */
export function parsePax(data: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  while (at < data.byteLength) {
    const space = data.indexOf(0x20, at);
    if (space < 0) break;
    const length = Number(decoder.decode(data.subarray(at, space)));
    if (!Number.isInteger(length) || length <= 0 || at + length > data.byteLength) break;
    const record = decoder.decode(data.subarray(space + 1, at + length - 1)); // drop the trailing newline
    const eq = record.indexOf('=');
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    at += length;
  }
  return out;
}

/** A NUL-terminated name from a GNU long-name (`L`/`K`) entry's data. */
export function gnuLongName(data: Uint8Array): string {
  const nul = data.indexOf(0);
  return decoder.decode(nul < 0 ? data : data.subarray(0, nul));
}

function readString(block: Uint8Array, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const nul = field.indexOf(0);
  return decoder.decode(nul < 0 ? field : field.subarray(0, nul));
}

/** A numeric field: octal text, or GNU base-256 when the high bit of the first byte is set. */
function readNumber(block: Uint8Array, offset: number, length: number): number | undefined {
  if (block[offset]! & 0x80) {
    if (block[offset]! & 0x40) return undefined; // negative
    let n = block[offset]! & 0x3f;
    for (let i = 1; i < length; i++) n = n * 256 + block[offset + i]!;
    return Number.isSafeInteger(n) ? n : undefined;
  }
  return readOctal(block, offset, length);
}

function readOctal(block: Uint8Array, offset: number, length: number): number | undefined {
  const text = readString(block, offset, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) return undefined;
  return parseInt(text, 8);
}
