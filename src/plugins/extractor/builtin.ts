/** The extractors every OtaFlux build has, in auto-detection order. */
import type { ExtractorPlugin } from '../../plugin.ts';
import { gzip } from './gzip.ts';
import { tar } from './tar.ts';
import { zstd } from './zstd.ts';

export function builtinExtractors(): ExtractorPlugin[] {
  return [gzip(), zstd(), tar()];
}
