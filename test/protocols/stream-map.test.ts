/** The one parser of `protocols.<name>.streams` (DDI, Arduino, RAUC): matching order and config errors. */
import { expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveSettings } from '../../src/config/settings.ts';
import { streamFor, streamMap } from '../../src/protocols/stream-map.ts';
import { tempDir } from '../support/tmp.ts';

async function configError(protocols: string): Promise<string> {
  const dir = tempDir('otaflux-stream-map-');
  writeFileSync(join(dir, 'otaflux.config.ts'), `import { defineConfig, dir } from 'otaflux';\nexport default defineConfig({ defaults: { source: dir({ root: '.' }) }, protocols: ${protocols} });\n`);
  try {
    await resolveSettings({ config: join(dir, 'otaflux.config.ts') }, dir);
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
}

test('exact keys before patterns, patterns in the order written; keys folded as the protocol asks', () => {
  const map = streamMap({ '24:0a:c4:*': 'any', '24:0A:C4:12:34:56': 'one', '*': 'last' }, (k) => k.toUpperCase());
  expect(map.map(([k]) => k)).toEqual(['24:0A:C4:12:34:56', '24:0A:C4:*', '*']);
  expect(streamFor(map, '24:0A:C4:12:34:56')).toBe('one');
  expect(streamFor(map, '24:0A:C4:00:00:01')).toBe('any');
  expect(streamFor(map, '5C:CF:7F:00:00:01')).toBe('last');
  expect(streamFor(streamMap(undefined), 'x')).toBeUndefined();
});

test('a bad key names the file, the key path and what a key must be, for every protocol', async () => {
  const expectations: [string, RegExp][] = [
    ["{ ddi: { streams: { 'gw 7!': 'gateway' } } }", /otaflux\.config\.ts: protocols\.ddi\.streams\["gw 7!"\]: expected a controller id/],
    ["{ arduino: { streams: { 'not-a-mac': 'esp32-a' } } }", /otaflux\.config\.ts: protocols\.arduino\.streams(\.|\[")not-a-mac("\])?: expected a MAC address like 24:0A:C4:12:34:56, or a pattern with \*/],
    ["{ rauc: { streams: { '': 'foo-board' } } }", /otaflux\.config\.ts: protocols\.rauc\.streams\[""\]: expected a RAUC compatible string, or a pattern with \*/],
  ];
  for (const [protocols, message] of expectations) {
    const error = await configError(protocols);
    expect(error).toMatch(message);
    expect(error).not.toContain('Invalid key');
  }
  // A bad stream (the value) is named too.
  expect(await configError("{ rauc: { streams: { 'Foo *': 'Not A Stream' } } }")).toContain('protocols.rauc.streams["Foo *"]: expected a stream (device id), lowercase');
  expect(await configError("{ ddi: { streams: { 'gw-*': 'gateway' } }, arduino: { streams: { '24:0A:C4:*': 'esp32-a' } }, rauc: { streams: { 'Foo *': 'foo' } } }")).toBe('no error');
});
