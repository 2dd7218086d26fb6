/**
 * Walks the entries of a tar stream one by one, applying pax (`x`) and GNU long-name (`L`, `K`)
 * headers to the entry they describe, never buffering member data.
 */
import { ExtractError } from '../errors.ts';
import type { ByteReader } from './byte-reader.ts';
import { BLOCK, decodeHeader, gnuLongName, isZeroBlock, parsePax } from './header.ts';

export type EntryKind = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

export interface TarEntry {
  /** The name as stored (pax `path` or GNU long name applied), not yet checked for safety. */
  name: string;
  kind: EntryKind;
  /** The raw type flag, for messages. */
  typeFlag: string;
  size: number;
  linkName: string;
}

/** Metadata entries (pax, GNU long names) larger than this are refused as hostile. */
const MAX_META_BYTES = 1024 * 1024;

export class TarEntries {
  private remaining = 0;
  private padding = 0;
  private ended = false;
  private seenHeader = false;

  constructor(private readonly input: ByteReader, private readonly who: string) {}

  /** The next member, or undefined at the end of the archive. Skips what was not read of the previous one. */
  async next(): Promise<TarEntry | undefined> {
    if (this.ended) return undefined;
    await this.skipRest();
    let pax = new Map<string, string>();
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      const at = this.input.offset;
      const block = await this.input.exact(BLOCK);
      if (block.byteLength === 0 && this.seenHeader) return this.end(); // no end marker: accepted, as tar does
      if (block.byteLength < BLOCK) throw this.truncated(`a header at byte ${at}`);
      if (isZeroBlock(block)) return this.end(); // the end-of-archive marker (an empty archive starts with it)
      const header = decodeHeader(block);
      if (typeof header === 'string') {
        throw new ExtractError(
          at === 0 ? `${this.who}: input is not a tar archive (first header: ${header})` : `${this.who}: corrupt tar header at byte ${at}: ${header}`,
        );
      }
      this.seenHeader = true;
      if (header.type === 'x' || header.type === 'g' || header.type === 'L' || header.type === 'K') {
        const data = await this.meta(header.size, header.type, at);
        if (header.type === 'x') pax = parsePax(data);
        else if (header.type === 'L') longName = gnuLongName(data);
        else if (header.type === 'K') longLink = gnuLongName(data);
        continue; // a global pax header ('g') is skipped: it never names a member
      }
      const paxSize = pax.get('size');
      const size = paxSize !== undefined && /^\d+$/.test(paxSize) ? Number(paxSize) : header.size;
      const name = pax.get('path') ?? longName ?? header.name;
      this.remaining = size;
      this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
      return {
        name,
        kind: kindOf(header.type, name),
        typeFlag: header.type,
        size,
        linkName: pax.get('linkpath') ?? longLink ?? header.linkName,
      };
    }
  }

  /** The data of the member `next()` returned last, as it streams in. */
  async *data(): AsyncGenerator<Uint8Array> {
    while (this.remaining > 0) {
      let got = 0;
      for await (const part of this.input.span(this.remaining)) {
        got += part.byteLength;
        this.remaining -= part.byteLength;
        yield part;
      }
      if (got === 0 && this.remaining > 0) throw this.truncated(`member data (${this.remaining} bytes missing)`);
    }
  }

  private async skipRest(): Promise<void> {
    const want = this.remaining + this.padding;
    this.remaining = 0;
    this.padding = 0;
    if (want > 0 && (await this.input.skip(want)) < want) throw this.truncated('member data');
  }

  private async meta(size: number, type: string, at: number): Promise<Uint8Array> {
    if (size > MAX_META_BYTES) throw new ExtractError(`${this.who}: tar metadata entry '${type}' at byte ${at} is ${size} bytes; refusing over ${MAX_META_BYTES}`);
    const padded = size + ((BLOCK - (size % BLOCK)) % BLOCK);
    const data = await this.input.exact(padded);
    if (data.byteLength < padded) throw this.truncated(`a metadata entry at byte ${at}`);
    return data.subarray(0, size);
  }

  private end(): undefined {
    this.ended = true;
    return undefined;
  }

  private truncated(what: string): ExtractError {
    return new ExtractError(`${this.who}: truncated tar archive: the input ends inside ${what} (after ${this.input.offset} bytes)`);
  }
}

function kindOf(type: string, name: string): EntryKind {
  switch (type) {
    case '0':
    case '\0':
    case '7':
      return name.endsWith('/') ? 'directory' : 'file';
    case '1':
      return 'hardlink';
    case '2':
      return 'symlink';
    case '5':
      return 'directory';
    default:
      return 'other'; // devices, fifos, GNU sparse/volume/multi-volume entries
  }
}
