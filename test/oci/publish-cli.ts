/** Runs the real `otaflux` CLI (src/main.ts) in a child process: exit code, stdout and stderr. */
import { resolve } from 'node:path';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.ts';

const MAIN = resolve(import.meta.dir, '../../src/main.ts');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `otaflux <args>` with only PATH and HOME from this process, plus `env`. */
export async function otaflux(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const p = Bun.spawn([process.execPath, MAIN, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tempDir('otaflux-cli-home-'), ...env },
    stdout: 'pipe',
    stderr: 'pipe',
    stdin: 'ignore',
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** The digest `otaflux push` printed (`pushed|unchanged host/repo:tag sha256:… (N bytes)`). */
export function pushedDigest(r: CliResult): string {
  const m = /^(?:pushed|unchanged) \S+ (sha256:[a-f0-9]{64}) \(\d+ bytes\)$/m.exec(r.stdout);
  if (!m) throw new Error(`push did not print a digest (exit ${r.code}): ${r.stdout} ${r.stderr}`);
  return m[1] as string;
}

/** A firmware file of `size` bytes whose content depends on `seed`. */
export function firmwareFile(seed: string, size = 4096, name = 'firmware.bin'): { path: string; bytes: Uint8Array<ArrayBuffer> } {
  const bytes = new Uint8Array(size);
  const pattern = new TextEncoder().encode(`firmware ${seed} `);
  for (let i = 0; i < size; i++) bytes[i] = pattern[i % pattern.length] as number;
  const path = join(tempDir('otaflux-fw-file-'), name);
  writeFileSync(path, bytes);
  return { path, bytes };
}

/** An operator mistake is one line on stderr, never a stack trace. */
export function oneLine(r: CliResult): string {
  const lines = r.stderr.trim().split('\n');
  if (lines.length !== 1 || /\n\s+at /.test(r.stderr) || r.stderr.includes('a bug')) throw new Error(`expected one line on stderr, got: ${r.stderr}`);
  return lines[0] as string;
}
