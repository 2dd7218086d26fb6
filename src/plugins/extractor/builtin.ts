/** The extractors every OtaFlux build has, in auto-detection order. */
import type { ExtractorPlugin } from '../../plugin.ts';

export function builtinExtractors(): ExtractorPlugin[] {
  return [];
}
