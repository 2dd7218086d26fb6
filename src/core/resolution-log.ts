/**
 * The debug line of a lookup's first decision: which versions the source offered, which are
 * candidates (newest first, as tried) and which were skipped before any verification, and why.
 * Lines of later decisions (verified, refused, chosen) come from the resolver as they happen.
 */
import type { DeviceRef, Logger, SourceVersion } from '../plugin.ts';

/** Versions named at most per list in the line. */
const LISTED = 20;

export function logCandidates(logger: Logger, device: DeviceRef, source: string, offered: readonly SourceVersion[], ranked: readonly SourceVersion[], maxCandidates: number): void {
  const kept = new Set(ranked);
  const prereleases = offered.filter((v) => !kept.has(v)).map((v) => v.version);
  const fields: Record<string, unknown> = {
    device: device.id,
    source,
    offered: offered.length,
    candidates: ranked.slice(0, Math.min(maxCandidates, LISTED)).map((v) => v.version),
  };
  if (prereleases.length) fields.skippedPrerelease = prereleases.slice(0, LISTED);
  if (ranked.length > maxCandidates) fields.notTried = `${ranked.length - maxCandidates} older versions (at most ${maxCandidates} are tried)`;
  if (ranked.length === 0) fields.why = offered.length ? 'only prereleases, and allowPrerelease is off' : 'the source offers no version';
  logger.debug('versions found', fields);
}
