/** Semver handling shared by every source: `v` prefix accepted, prereleases only when allowed. */
import semver from 'semver';
import type { SourceVersion } from '../plugin.ts';

/** Parses a tag or file stem as semver (`1.2.3`, `v1.2.3`, `1.2.3-rc.1`); null when it is not one. */
export function parseVersionTag(tag: string): SourceVersion | null {
  const stripped = tag.startsWith('v') || tag.startsWith('V') ? tag.slice(1) : tag;
  const v = semver.valid(stripped);
  return v ? { version: v, tag } : null;
}

/**
 * The order OtaFlux tries versions in: newest first, prereleases dropped unless allowed. On equal
 * versions (`1.0.0` and `v1.0.0`) the un-prefixed tag wins.
 */
export function rankVersions(list: readonly SourceVersion[], allowPrerelease: boolean): SourceVersion[] {
  return list
    .filter((v) => allowPrerelease || semver.prerelease(v.version) === null)
    .sort((a, b) => semver.rcompare(a.version, b.version) || Number(a.tag.startsWith('v')) - Number(b.tag.startsWith('v')));
}
