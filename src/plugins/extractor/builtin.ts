/** The extractors every OtaFlux build has; each one's `detectPriority` places it in auto-detection. */
import type { ExtractorPlugin } from '../../plugin.ts';
import { gzip } from './gzip.ts';
import { tar } from './tar.ts';
import { zstd } from './zstd.ts';

export function builtinExtractors(): ExtractorPlugin[] {
  return [gzip(), zstd(), tar()];
}
