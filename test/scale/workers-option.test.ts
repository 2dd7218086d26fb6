// `--workers N|auto` as read from a flag, an env var or `server.workers`: the count, `auto` as one per
// core, and the errors for anything else (one line naming the flag or the config key).
import { expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { workerCount } from '../../src/cluster/workers-option.ts';
import { resolveSettings } from '../../src/config/settings.ts';
import { tempDir } from '../support/tmp.ts';

test('a whole number from 1 to 256, or auto (one per core); 1 when not given', () => {
  expect(workerCount(undefined)).toBe(1);
  expect(workerCount('3')).toBe(3);
  expect(workerCount(256)).toBe(256);
  expect(workerCount('auto', 4)).toBe(4);
  expect(workerCount('auto', 0)).toBe(1);
  for (const bad of ['0', '257', '-1', '1.5', 'two', 'AUTO ']) {
    expect(() => workerCount(bad)).toThrow(`--workers: expected a number from 1 to 256 or 'auto', got '${bad}'`);
  }
});

test('server.workers in the config file: a count or auto; anything else names the file and the key', async () => {
  const dir = tempDir('otaflux-workers-config-');
  const file = join(dir, 'otaflux.config.ts');
  const write = (v: string) => writeFileSync(file, `import { defineConfig, dir } from 'otaflux';\nexport default defineConfig({ server: { workers: ${v} }, defaults: { source: dir({ root: ${JSON.stringify(dir)} }) } });\n`);
  write('3');
  expect((await resolveSettings({ config: file }, dir)).workers).toBe(3);
  write("'auto'");
  expect((await resolveSettings({ config: file }, dir)).workers).toBeGreaterThanOrEqual(1);
  write('0');
  const err = await resolveSettings({ config: file }, dir).then(() => '', (e: Error) => e.message);
  expect(err).toContain(file);
  expect(err).toContain('server.workers');
  expect(err).toContain("expected a whole number from 1 to 256, or 'auto'");
});
