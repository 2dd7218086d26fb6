/**
 * Small but real plugins for core tests: a source that serves versions from memory and can be
 * switched to fail like an unreachable registry, and a verifier that accepts an allow-list of
 * digests. They implement the public contract exactly as a third-party plugin would.
 */
import { PLUGIN_API_VERSION, UpstreamUnavailable, type SourcePlugin, type VerifierPlugin } from '../../src/public-api.ts';
import { sha256Digest } from '../../src/core/hashing.ts';

export interface MemorySource extends SourcePlugin {
  images: Map<string, Uint8Array>;
  down: boolean;
  /** Makes open() stream half the bytes and then fail. */
  breakDownloads: boolean;
  calls: { versions: number; resolve: number; open: number };
}

export function memorySource(images: Record<string, Uint8Array>): MemorySource {
  const src: MemorySource = {
    kind: 'source', id: 'source.memory-test', apiVersion: PLUGIN_API_VERSION,
    images: new Map(Object.entries(images)), down: false, breakDownloads: false,
    calls: { versions: 0, resolve: 0, open: 0 },
    async versions() {
      src.calls.versions++;
      await Bun.sleep(20);
      if (src.down) throw new UpstreamUnavailable('test registry is down');
      return [...src.images.keys()].map((tag) => ({ tag, version: tag.replace(/^v/, '') }));
    },
    async resolve(_device, v) {
      src.calls.resolve++;
      if (src.down) throw new UpstreamUnavailable('test registry is down');
      const bytes = src.images.get(v.tag) as Uint8Array;
      return {
        version: v.version, tag: v.tag, digest: sha256Digest(bytes), size: bytes.length,
        async open() {
          src.calls.open++;
          await Bun.sleep(20);
          const broken = src.breakDownloads;
          return new ReadableStream<Uint8Array>({
            start(ctl) {
              ctl.enqueue(bytes.subarray(0, bytes.length >> 1));
              if (broken) ctl.error(new Error('connection reset mid-download'));
              else { ctl.enqueue(bytes.subarray(bytes.length >> 1)); ctl.close(); }
            },
          });
        },
      };
    },
  };
  return src;
}

export function allowListVerifier(allowed: Set<string>): VerifierPlugin & { calls: number; callsFor: Map<string, number> } {
  const v = {
    kind: 'verifier' as const, id: 'verifier.allow-list-test', apiVersion: PLUGIN_API_VERSION, calls: 0, callsFor: new Map<string, number>(),
    async verify(_d: unknown, a: { digest: string }) {
      v.calls++;
      v.callsFor.set(a.digest, (v.callsFor.get(a.digest) ?? 0) + 1);
      return allowed.has(a.digest) ? { ok: true as const, by: 'allow-list' } : { ok: false as const, reason: 'unsigned' };
    },
  };
  return v;
}
