import { PLUGIN_API_VERSION, type ExtractorPlugin } from '../../plugin.ts';

/** `extractor.raw` serves the stored bytes as they are. Putting it alone in a chain turns sniffing off. */
export function raw(): ExtractorPlugin {
  return { kind: 'extractor', id: 'extractor.raw', apiVersion: PLUGIN_API_VERSION, passThrough: true, extract: (input) => input };
}
