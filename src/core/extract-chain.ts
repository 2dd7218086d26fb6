/**
 * Runs a device's extractor chain over an artifact's bytes.
 * (Minimal first version: raw pass-through. The extractor work replaces the body, keeping the signature.)
 */
import type { ExtractContext, ExtractorPlugin } from '../plugin.ts';

/** `'auto'` sniffs the content; a list pins the chain (`[raw()]` means "raw, do not sniff"). */
export type ExtractSpec = 'auto' | readonly ExtractorPlugin[];

export interface ExtractOutcome {
  stream: ReadableStream<Uint8Array>;
  /** Ids of the extractors applied, in order (empty for raw bytes). */
  applied: string[];
}

export async function extractChain(
  input: ReadableStream<Uint8Array>,
  spec: ExtractSpec,
  available: readonly ExtractorPlugin[],
  ctx: ExtractContext,
): Promise<ExtractOutcome> {
  if (spec === 'auto') return { stream: input, applied: [] };
  let stream = input;
  const applied: string[] = [];
  for (const x of spec) {
    stream = x.extract(stream, ctx);
    if (x.id !== 'extractor.raw') applied.push(x.id);
  }
  void available;
  return { stream, applied };
}
