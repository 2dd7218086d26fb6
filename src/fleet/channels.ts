/** Channels are semver prerelease identifiers: `1.3.0-beta.2` is on channel `beta`; `1.3.0` is stable. */
import semver from 'semver';

export const STABLE = 'stable';

const memo = new Map<string, string>();

export function channelOf(version: string): string {
  let c = memo.get(version);
  if (c === undefined) {
    const pre = semver.prerelease(version);
    const first = pre?.[0];
    c = pre === null ? STABLE : typeof first === 'string' ? first.toLowerCase() : 'prerelease';
    if (memo.size > 10_000) memo.clear();
    memo.set(version, c);
  }
  return c;
}
