/**
 * deploy/Containerfile, read statically: one stage from scratch (nothing to pull), the rootfs
 * archive deploy/build-image.sh makes, a non-root user, no RUN, the cache as a volume.
 * container-image.test.ts builds and runs it.
 */
import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dir, '../..');
const FILE = join(ROOT, 'deploy/Containerfile');

/** Instructions with line continuations joined and comments dropped. */
function instructions(): { op: string; args: string }[] {
  return readFileSync(FILE, 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => { const [op = '', ...rest] = l.split(/\s+/); return { op: op.toUpperCase(), args: rest.join(' ') }; });
}

describe('Containerfile', () => {
  const ins = instructions();
  const arg = (op: string) => ins.filter((x) => x.op === op).map((x) => x.args);

  test('one stage from scratch: the archive build-image.sh makes, a non-root user, no RUN', () => {
    expect(arg('FROM')).toEqual(['scratch']);
    expect(arg('ADD')).toEqual(['rootfs.tar /']);
    expect(arg('COPY')).toEqual([]);
    expect(arg('RUN')).toEqual([]);
    expect(arg('USER')).toEqual(['65532:65532']);
    expect(arg('ENTRYPOINT')).toEqual(['["/usr/local/bin/otaflux"]']);
    expect(arg('VOLUME')).toEqual(['["/var/cache/otaflux"]']);
    expect(arg('STOPSIGNAL')).toEqual(['SIGTERM']);
    const script = readFileSync(join(ROOT, 'deploy/build-image.sh'), 'utf8');
    expect(script).toContain('"$context/rootfs.tar"');
    expect(script).toContain('--owner=65532 --group=65532 -C "$rootfs" ./var/cache/otaflux');
  });
});
