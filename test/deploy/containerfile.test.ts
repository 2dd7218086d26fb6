/**
 * deploy/Containerfile, read statically (no container engine or hadolint here): multi-stage,
 * cross-compiling build stage, a final stage that is minimal, non-root and runs the binary, and
 * COPY sources that exist and pass the build-context filter.
 */
import { describe, expect, test } from 'bun:test';
import { existsSync, readFileSync } from 'node:fs';
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
  const froms = ins.map((x, i) => ({ ...x, i })).filter((x) => x.op === 'FROM');
  const final = ins.slice((froms.at(-1)?.i ?? 0) + 1);

  test('two stages: the build runs on the build platform, the final image is distroless non-root', () => {
    expect(froms.length).toBe(2);
    expect(froms[0]?.args).toMatch(/^--platform=\$BUILDPLATFORM \S+ AS build$/);
    const runtimeArg = ins.find((x) => x.op === 'ARG' && x.args.startsWith('RUNTIME_IMAGE='))?.args;
    expect(runtimeArg).toMatch(/distroless\/cc-debian12:nonroot$/);
    expect(froms[1]?.args).toBe('${RUNTIME_IMAGE}');
    const user = final.filter((x) => x.op === 'USER').at(-1)?.args ?? '';
    expect(user).toMatch(/^[1-9]\d*(:[1-9]\d*)?$/);
    expect(final.some((x) => x.op === 'RUN')).toBe(false);
    expect(final.find((x) => x.op === 'ENTRYPOINT')?.args).toBe('["/usr/local/bin/otaflux"]');
    expect(final.find((x) => x.op === 'STOPSIGNAL')?.args).toBe('SIGTERM');
  });

  test('both architectures map to a build target scripts/build.ts accepts', () => {
    const run = ins.filter((x) => x.op === 'RUN').map((x) => x.args).join('\n');
    expect(run).toContain('amd64) target=linux-x64');
    expect(run).toContain('arm64) target=linux-arm64');
    const build = readFileSync(join(ROOT, 'scripts/build.ts'), 'utf8');
    expect(build).toContain("'linux-x64'");
    expect(build).toContain("'linux-arm64'");
  });

  test('every COPY from the context exists and is let through by the dockerignore', () => {
    const allowed = readFileSync(join(ROOT, 'deploy/Containerfile.dockerignore'), 'utf8').split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/\*\*$/, ''));
    const sources = ins.filter((x) => x.op === 'COPY' && !x.args.includes('--from')).flatMap((x) => x.args.split(/\s+/).filter((a) => !a.startsWith('--')).slice(0, -1));
    expect(sources.length).toBeGreaterThan(3);
    for (const s of sources) {
      expect(existsSync(join(ROOT, s))).toBe(true);
      expect(allowed).toContain(s);
    }
  });
});
