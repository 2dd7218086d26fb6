/**
 * Runs a device's extractor chain over an artifact's bytes: either the pinned list as given, or
 * `'auto'`, which sniffs the content layer by layer (`.tar.zst` → zstd, then tar) with the
 * available extractors' `detect()`, asked in the order of their `detectPriority` (`detectionOrder`).
 * Media type and name are passed to `detect()` as hints only.
 * The whole chain's output is held to `ctx.limits` against the artifact's stored size, so stacked
 * layers cannot multiply their ratios past the limit.
 */
import type { ExtractContext, ExtractorPlugin, ExtractHints } from '../plugin.ts';
import { limitOutput } from '../plugins/extractor/limits.ts';
import { erroredStream, InputCounter, peekHead } from '../plugins/extractor/stream-guard.ts';

/** `'auto'` sniffs the content; a list pins the chain (`[raw()]` means "raw, do not sniff"). */
export type ExtractSpec = 'auto' | readonly ExtractorPlugin[];

export interface ExtractOutcome {
  stream: ReadableStream<Uint8Array>;
  /** Ids of the extractors applied, in order (empty for raw bytes). */
  applied: string[];
}

/** Bytes handed to `detect()` (a tar header is 512; its magic sits at 257). */
const SNIFF_BYTES = 512;
/** Layers `'auto'` peels at most, so a detector that always says yes cannot loop forever. */
const MAX_AUTO_LAYERS = 4;

export async function extractChain(
  input: ReadableStream<Uint8Array>,
  spec: ExtractSpec,
  available: readonly ExtractorPlugin[],
  ctx: ExtractContext,
): Promise<ExtractOutcome> {
  const candidates = spec === 'auto' ? detectionOrder(available) : [];
  const stored = new InputCounter();
  let stream = stored.wrap(input);
  const applied: string[] = [];
  let name = ctx.name;
  let mediaType = ctx.mediaType;
  const stepCtx = (): ExtractContext => {
    const { name: _n, mediaType: _m, ...rest } = ctx;
    return { ...rest, ...(name !== undefined ? { name } : {}), ...(mediaType !== undefined ? { mediaType } : {}) };
  };
  const apply = (x: ExtractorPlugin) => {
    stream = x.extract(stream, stepCtx());
    if (!x.passThrough) applied.push(x.id);
    name = nameAfter(name, x);
    mediaType = undefined; // the media type described the stored layer, not what is inside it
  };

  if (spec !== 'auto') {
    for (const x of spec) apply(x);
  } else {
    try {
      for (let layer = 0; layer < MAX_AUTO_LAYERS; layer++) {
        const peeked = await peekHead(stream, SNIFF_BYTES);
        stream = peeked.stream;
        const hints: ExtractHints = { head: peeked.head, ...(name !== undefined ? { name } : {}), ...(mediaType !== undefined ? { mediaType } : {}) };
        const found = candidates.find((x) => x.detect?.(hints) ?? false);
        if (!found) break;
        apply(found);
      }
    } catch (err) {
      await stream.cancel(err).catch(() => {});
      return { stream: erroredStream(err), applied };
    }
  }
  return { stream: limitOutput(stream, ctx.limits, () => stored.bytes, 'extracting'), applied };
}

/**
 * The extractors that take part in auto-detection, in the order they are asked: those with a
 * `detect`, highest `detectPriority` first (default 0), equal priorities in the order given.
 */
export function detectionOrder(available: readonly ExtractorPlugin[]): ExtractorPlugin[] {
  return available.filter((x) => typeof x.detect === 'function').sort((a, b) => (b.detectPriority ?? 0) - (a.detectPriority ?? 0));
}

/** The name hint for the next layer, as the extractor names its output (unknown when it does not say). */
function nameAfter(name: string | undefined, x: ExtractorPlugin): string | undefined {
  if (name === undefined) return undefined;
  if (x.passThrough) return name;
  return x.outputName?.(name);
}
