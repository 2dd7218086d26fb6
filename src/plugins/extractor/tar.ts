/**
 * `extractor.tar` serves one member of a tar archive (see `tar/select.ts` for which). Links,
 * directories and devices are never served or followed, and nothing is ever written under a
 * member's name: a member is streamed, or parked in an unlinked temporary file while the rest of
 * the archive is read.
 */
import { tmpdir } from 'node:os';
import { PLUGIN_API_VERSION, type ExtractContext, type ExtractorPlugin } from '../../plugin.ts';
import { looksLikeTar } from './detect.ts';
import { ExtractError } from './errors.ts';
import { limitOutput } from './limits.ts';
import { InputCounter } from './stream-guard.ts';
import { ByteReader } from './tar/byte-reader.ts';
import { TarEntries, type TarEntry } from './tar/entries.ts';
import { isGlob, memberMatches, safeMemberName, selectMember } from './tar/select.ts';
import { Spill } from './tar/spill.ts';

const ID = 'extractor.tar';

export interface TarOptions {
  /** The member to serve: an exact name (`out/fw.bin`) or a glob (`*.bin`; without `/` it matches base names). */
  member?: string;
}

export function tar(options: TarOptions = {}): ExtractorPlugin {
  const { member } = options;
  if (member !== undefined && (typeof member !== 'string' || member.trim() === '')) {
    throw new Error(`${ID}: tar({ member }) needs a non-empty member name or glob, such as 'firmware.bin' or '*.bin'`);
  }
  let spillDir = tmpdir();
  return {
    kind: 'extractor',
    id: ID,
    apiVersion: PLUGIN_API_VERSION,
    ...(member !== undefined ? { variant: `member=${member}` } : {}),
    setup(ctx) {
      spillDir = ctx.stateDir;
    },
    detectPriority: 10,
    detect: (hints) => looksLikeTar(hints.head, hints.name),
    extract: (input, ctx) => {
      const counter = new InputCounter();
      const reader = new ByteReader(counter.wrap(input));
      const produce = member !== undefined && !isGlob(member) ? streamNamed(reader, member) : spillAndSelect(reader, ctx, spillDir, member);
      return limitOutput(fromGenerator(produce, reader), ctx.limits, () => counter.bytes, ID);
    },
  };
}

/** The configured exact name: streamed as soon as it is found, the rest of the archive unread. */
async function* streamNamed(reader: ByteReader, name: string): AsyncGenerator<Uint8Array> {
  const entries = new TarEntries(reader, ID);
  const seen: TarEntry[] = [];
  for (let e = await entries.next(); e; e = await entries.next()) {
    seen.push(e);
    const safe = safeMemberName(e.name);
    if (e.kind === 'file' && safe !== undefined && memberMatches(name, safe)) {
      yield* entries.data();
      return;
    }
  }
  // Same wording as the other rules, from the members seen.
  selectMember([], seen, ID, name);
}

/** Reads the whole archive, parking each selectable member in a spill file, then yields the chosen one. */
async function* spillAndSelect(reader: ByteReader, ctx: ExtractContext, dir: string, pattern?: string): AsyncGenerator<Uint8Array> {
  const entries = new TarEntries(reader, ID);
  const members: TarEntry[] = [];
  const candidates: { name: string; size: number; offset: number }[] = [];
  const spill = await Spill.create(dir);
  try {
    for (let e = await entries.next(); e; e = await entries.next()) {
      members.push(e);
      const safe = safeMemberName(e.name);
      if (e.kind !== 'file' || safe === undefined) continue;
      if (pattern !== undefined && !memberMatches(pattern, safe)) continue;
      if (spill.size + e.size > ctx.limits.maxOutputBytes) {
        throw new ExtractError(
          `${ID}: the tar members to choose from exceed ${ctx.limits.maxOutputBytes} bytes (limits.maxOutputBytes) at ${JSON.stringify(safe)}; ` +
            `name the firmware with tar({ member: '…' }) to stream it directly`,
        );
      }
      const offset = spill.size;
      for await (const chunk of entries.data()) await spill.write(chunk);
      candidates.push({ name: safe, size: e.size, offset });
    }
    const chosen = selectMember(candidates, members, ID, pattern);
    ctx.logger.debug('tar member selected', { member: chosen.name, size: chosen.size, members: members.length });
    yield* spill.read(chosen.offset, chosen.size);
  } finally {
    await spill.close();
  }
}

/** A lazy stream over an async generator; cancelling it stops the generator and the input. */
function fromGenerator(gen: AsyncGenerator<Uint8Array>, input: ByteReader): ReadableStream<Uint8Array> {
  let finished = false;
  const finish = async (reason?: unknown) => {
    if (finished) return;
    finished = true;
    await input.cancel(reason).catch(() => {});
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(ctl) {
        try {
          const step = await gen.next();
          if (step.done) {
            await finish();
            ctl.close();
          } else if (step.value.byteLength > 0) ctl.enqueue(step.value);
        } catch (err) {
          await finish(err);
          ctl.error(err);
        }
      },
      async cancel(reason) {
        await gen.return(undefined).catch(() => {});
        await finish(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
