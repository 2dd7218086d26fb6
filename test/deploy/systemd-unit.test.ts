/**
 * deploy/systemd/otaflux.service: `systemd-analyze verify` accepts it, its offline security
 * exposure stays low, and the hardening it promises is really in the file. Skipped when
 * systemd-analyze is not installed (Debian package `systemd`, listed in test/system-deps.txt).
 */
import { directives } from './unit-directives.ts';
import { describe, expect, test } from 'bun:test';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.ts';
import { CREDENTIAL_FILES, CREDENTIAL_VALUES } from '../../src/cli/credentials.ts';

const UNIT = join(import.meta.dir, '../../deploy/systemd/otaflux.service');
const analyze = Bun.which('systemd-analyze');

/** The unit with ExecStart pointing at a stand-in executable (verify checks that it exists). */
function unitCopy(): string {
  const dir = tempDir('otaflux-unit-');
  const fake = join(dir, 'otaflux');
  writeFileSync(fake, '#!/bin/sh\nexit 0\n');
  chmodSync(fake, 0o755);
  const path = join(dir, 'otaflux.service');
  writeFileSync(path, readFileSync(UNIT, 'utf8').replace('ExecStart=/usr/local/bin/otaflux', `ExecStart=${fake}`));
  return path;
}


describe('systemd unit', () => {
  test('declares the hardening it is meant to have', () => {
    const d = directives(readFileSync(UNIT, 'utf8'));
    expect(d.get('ExecStart')).toEqual(['/usr/local/bin/otaflux serve']);
    expect(d.get('DynamicUser')).toEqual(['yes']);
    expect(d.get('NoNewPrivileges')).toEqual(['yes']);
    expect(d.get('CapabilityBoundingSet')).toEqual(['']);
    expect(d.get('AmbientCapabilities')).toEqual(['']);
    expect(d.get('ProtectSystem')).toEqual(['strict']);
    expect(d.get('CacheDirectory')).toEqual(['otaflux']);
    expect(d.get('Environment')).toContain('CACHE_DIR=/var/cache/otaflux');
    expect(d.get('KillSignal')).toEqual(['SIGTERM']);
    // The dynamic user must enter the config folder; secrets come as credentials, each optional.
    expect(d.get('ConfigurationDirectoryMode')).toEqual(['0755']);
    const ids = [...CREDENTIAL_VALUES, ...CREDENTIAL_FILES].sort();
    expect((d.get('LoadCredential') ?? []).map((x) => x.split(':')[0]).sort()).toEqual(ids);
    expect((d.get('LoadCredential') ?? []).every((x) => x === `${x.split(':')[0]}:/etc/otaflux/credentials/${x.split(':')[0]}`)).toBe(true);
    expect((d.get('SetCredential') ?? []).sort()).toEqual(ids.map((id) => `${id}:\\n`));
    // Bun's JIT needs writable+executable pages.
    expect(d.has('MemoryDenyWriteExecute')).toBe(false);
  });

  test.skipIf(!analyze)('systemd-analyze verify accepts it', () => {
    const path = unitCopy();
    const r = Bun.spawnSync([analyze as string, 'verify', path], { cwd: join(path, '..') });
    const problems = r.stderr.toString().split('\n').filter((l) => l.includes('otaflux'));
    expect(problems).toEqual([]);
    expect(r.exitCode).toBe(0);
  });

  test.skipIf(!analyze)('offline security exposure is at most 2.0 ("OK")', () => {
    const path = unitCopy();
    const r = Bun.spawnSync([analyze as string, 'security', '--offline=true', '--no-pager', path]);
    const m = /Overall exposure level for \S+: ([\d.]+)/.exec(r.stdout.toString() + r.stderr.toString());
    expect(m).not.toBeNull();
    expect(Number(m?.[1])).toBeLessThanOrEqual(2.0);
  });
});
