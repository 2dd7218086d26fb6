import { PLUGIN_API_VERSION, type ExtractorPlugin } from '../../plugin.ts';
import { decompress } from './decompress.ts';
import { GZIP_MAGIC, looksLikeGzip } from './detect.ts';

/**
 * `extractor.gzip` decompresses a gzip stream (several concatenated members too, as `gzip -dc`
 * does), checking each member's CRC-32 and length. Detected by the magic bytes `1f 8b`.
 */
export function gzip(): ExtractorPlugin {
  return {
    kind: 'extractor',
    id: 'extractor.gzip',
    apiVersion: PLUGIN_API_VERSION,
    detectPriority: 20,
    detect: (hints) => looksLikeGzip(hints.head),
    outputName: (name) => name.replace(/\.tgz$/i, '.tar').replace(/\.gz$/i, ''),
    extract: (input, ctx) => decompress(input, { id: 'extractor.gzip', format: 'gzip', magic: GZIP_MAGIC }, ctx),
  };
}
