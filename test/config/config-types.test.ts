// defineConfig's types catch a config mistake in the editor: each mistake of
// test/config/fixtures/wrong-keys.config.ts is a type error on its marked line (tsc, as a plugin
// or config author runs it), none elsewhere, and the same keys spelt right type-check.
import { expect, test } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.ts';

const ROOT = join(import.meta.dir, '../..');
const FIXTURE = join(import.meta.dir, 'fixtures', 'wrong-keys.config.ts');
const MARKER = /^\s*\/\/ @ts-expect-error /;

test('every marked mistake in a config file is a type error on its line, and nothing else is', () => {
  const text = readFileSync(FIXTURE, 'utf8');
  const lines = text.split('\n');
  // Without the markers: the line after each marker, numbered in the stripped file.
  const expected: number[] = [];
  const stripped: string[] = [];
  for (const line of lines) {
    if (MARKER.test(line)) expected.push(stripped.length + 1);
    else stripped.push(line);
  }
  expect(expected.length).toBe(8);

  const project = tempDir('otaflux-config-types-');
  writeFileSync(join(project, 'marked.config.ts'), text);
  writeFileSync(join(project, 'unmarked.config.ts'), stripped.join('\n'));
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    extends: join(ROOT, 'tsconfig.json'),
    compilerOptions: { typeRoots: [join(ROOT, 'node_modules', '@types')] },
    include: ['*.ts'],
  }));
  const r = Bun.spawnSync([join(ROOT, 'node_modules', '.bin', 'tsc'), '-p', project], { cwd: project, stdout: 'pipe', stderr: 'pipe' });
  const out = r.stdout.toString() + r.stderr.toString();
  const errors = [...out.matchAll(/^(\S+\.ts)\((\d+),\d+\): error (TS\d+)/gm)].map((m) => ({ file: m[1], line: Number(m[2]), code: m[3] }));
  // Marked: every @ts-expect-error is used (an unused one is error TS2578), and no other line errs.
  expect(errors.filter((e) => e.file === 'marked.config.ts')).toEqual([]);
  // Unmarked: exactly the marked lines err, and no file of OtaFlux does.
  expect(errors.filter((e) => e.file !== 'unmarked.config.ts')).toEqual([]);
  expect([...new Set(errors.map((e) => e.line))].sort((a, b) => a - b)).toEqual(expected);
  expect(r.exitCode).not.toBe(0);
}, 180_000);
