import { PLUGIN_API_VERSION, type ExtractorPlugin } from '../../plugin.ts';
import { decompress } from './decompress.ts';
import { looksLikeZstd, ZSTD_MAGIC } from './detect.ts';

/**
 * `extractor.zstd` decompresses a zstd stream (concatenated frames too, checking frame checksums
 * when present). Detected by the frame magic `28 b5 2f fd`.
 */
export function zstd(): ExtractorPlugin {
  return {
    kind: 'extractor',
    id: 'extractor.zstd',
    apiVersion: PLUGIN_API_VERSION,
    detectPriority: 20,
    detect: (hints) => looksLikeZstd(hints.head),
    outputName: (name) => name.replace(/\.(tzst|tzstd)$/i, '.tar').replace(/\.(zst|zstd)$/i, ''),
    extract: (input, ctx) => decompress(input, { id: 'extractor.zstd', format: 'zstd', magic: ZSTD_MAGIC }, ctx),
  };
}
