/** `otaflux plugin init extractor`: the extractor plugin and its test. */
import type { Body } from './body.ts';

export const extractorBody = (id: string, fn: string): Body => ({
  plugin: `/**
 * ${id}: drops a fixed-size header from the stored bytes (replace with your own format).
 * Errors surface as an errored stream, so OtaFlux keeps the previous good release.
 */
import { PLUGIN_API_VERSION, type ExtractContext, type ExtractorPlugin } from 'otaflux';

export function ${fn}(options: { headerBytes: number }): ExtractorPlugin {
if (!options || !Number.isInteger(options.headerBytes) || options.headerBytes < 0) throw new TypeError('${fn}(): headerBytes: expected a whole number of bytes');
return {
  kind: 'extractor',
  id: '${id}',
  apiVersion: PLUGIN_API_VERSION,
  variant: String(options.headerBytes),
  extract(input: ReadableStream<Uint8Array>, ctx: ExtractContext): ReadableStream<Uint8Array> {
    let skip = options.headerBytes;
    let out = 0;
    return input.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, ctl) {
        const rest = chunk.subarray(Math.min(skip, chunk.length));
        skip -= chunk.length - rest.length;
        out += rest.length;
        if (out > ctx.limits.maxOutputBytes) ctl.error(new Error(\`${id}: output over \${ctx.limits.maxOutputBytes} bytes\`));
        else if (rest.length) ctl.enqueue(rest);
      },
      flush(ctl) {
        if (skip > 0) ctl.error(new Error(\`${id}: input shorter than its \${options.headerBytes}-byte header\`));
      },
    }));
  },
};
}
`,
  test: `import { expect, test } from 'bun:test';
import { checkPlugin, runExtractor } from 'otaflux/testing';
import { ${fn} } from 'FILE';

test('passes the checks OtaFlux runs at load', () => {
expect(checkPlugin(${fn}({ headerBytes: 4 })).id).toBe('${id}');
});

test('drops the header, and refuses an input shorter than it', async () => {
const { output } = await runExtractor(${fn}({ headerBytes: 4 }), new TextEncoder().encode('HDR:image'));
expect(new TextDecoder().decode(output)).toBe('image');
await expect(runExtractor(${fn}({ headerBytes: 40 }), new TextEncoder().encode('short'))).rejects.toThrow('shorter than');
});
`,
  use: `defaults: { extract: [${fn}({ headerBytes: 4 })] },`,
});
