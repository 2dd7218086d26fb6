/**
 * `otaflux inspect <device>`: what this device would be served now, and why. It loads the config,
 * starts the core without any listener, lists the versions the source offers, runs the real
 * resolution (verification newest first, download, extraction: the cache is warmed as a side
 * effect), and prints each version's fate and the release chosen. Exit 0 when something would be
 * served, 1 when nothing would.
 */
import { UsageError, type FlagValues } from '../flags.ts';
import { resolveSettings } from '../../config/settings.ts';
import { createLogger } from '../../log.ts';
import { startRuntime } from '../../runtime.ts';
import { deviceRef } from '../../core/composition.ts';
import { validateDeviceId } from '../../core/device-id.ts';
import { rankVersions } from '../../core/versions.ts';
import { versionBody, type Release } from '../../core/release.ts';
import { isNoFirmware, errorMessage } from '../../core/errors.ts';
import type { SourceVersion } from '../../plugin.ts';
import { explanationLines } from './fleet-explanation.ts';

/** Versions listed at most (newest first). */
const MAX_LISTED = 20;

export const inspectCommand = {
  name: 'inspect',
  usage: 'inspect <device> [--instance ID]',
  help: 'Show what a device would be served and why (no listeners started)',
  run: inspect,
};

async function inspect(flags: FlagValues, args: string[]): Promise<number> {
  const id = args[0];
  if (!id || args.length > 1) throw new UsageError('inspect: name one device, e.g. otaflux inspect esp32-kitchen');
  const settings = await resolveSettings(flags);
  try {
    validateDeviceId(id, settings.repositoryPrefix);
  } catch (e) {
    throw new UsageError(`inspect: ${errorMessage(e)}`);
  }
  const logger = createLogger({ level: typeof flags['log-level'] === 'string' ? settings.logLevel : 'error', ...(settings.logFormat ? { format: settings.logFormat } : {}) });
  const out = (line = '') => process.stdout.write(`${line}\n`);
  const comp = settings.composer.for(id);
  out(`device ${id}`);
  if (!comp) {
    out(`  not served: no entry of ${settings.configFile ?? 'the command line'} matches this id (and there are no defaults)`);
    return 1;
  }
  const rt = await startRuntime(settings, logger);
  try {
    const auth = comp.auth === 'none' ? 'none (anyone may fetch it)' : comp.auth.map((a) => a.id).join(' + ');
    const extract = comp.extract === 'auto' ? 'auto-detect' : comp.extract.map((x) => x.id).join(' → ');
    out(`  matched by: ${comp.matchedBy}`);
    out(`  source: ${comp.source.id}   verifier: ${comp.verifier.id}   extract: ${extract}   auth: ${auth}${comp.allowPrerelease ? '   prereleases allowed' : ''}`);

    const ref = deviceRef(id, comp);
    const rejected = new Map<string, string>();
    let cacheHit: boolean | undefined;
    let failure: string | undefined;
    rt.events.on('verify-rejected', (e) => e.device === id && rejected.set(e.version, `refused by ${e.verifier}: ${e.reason}`));
    rt.events.on('cache-lookup', (e) => { if (e.device === id) cacheHit = e.hit; });
    rt.events.on('refresh-failed', (e) => { if (e.device === id) failure = e.error; });

    let offered: SourceVersion[] = [];
    try {
      offered = await comp.source.versions(ref);
    } catch (e) {
      // A source that knows why there is nothing (a repository the registry does not have) says so.
      if (isNoFirmware(e) && e.detail) out(`  versions: none: ${e.detail}${e.summary ? `\n  ${e.summary}` : ''}`);
      else out(`  versions: the source failed: ${errorMessage(e)}`);
    }
    const eligible = new Set(rankVersions(offered, comp.allowPrerelease).map((v) => v.tag));

    let release: Release | undefined;
    let refusal: string | undefined;
    try {
      release = await rt.resolver.refresh(ref, comp);
    } catch (e) {
      refusal = errorMessage(e);
    }

    const order = rankVersions(offered, true);
    out(`  versions offered: ${offered.length}${offered.length > MAX_LISTED ? ` (newest ${MAX_LISTED} shown)` : ''}`);
    let passedChosen = false;
    for (const v of order.slice(0, MAX_LISTED)) {
      let fate: string;
      if (!eligible.has(v.tag)) fate = 'skipped: prerelease (allowPrerelease is off)';
      else if (release && v.tag === release.tag && v.version === release.version) {
        fate = `← served (verified by ${release.verifiedBy})`;
        passedChosen = true;
      } else if (rejected.has(v.version)) fate = rejected.get(v.version) as string;
      else if (passedChosen) fate = 'not tried: a newer version verified';
      else fate = release ? 'not tried' : 'not served';
      out(`    ${v.version.padEnd(16)} ${v.tag === v.version ? '' : `(tag ${v.tag}) `}${fate}`);
    }

    if (release) {
      if (failure) out(`  the source failed (${failure}): the last good release from the cache would be served`);
      out(`  served release: ${release.version} (tag ${release.tag})`);
      out(`    size ${release.size} bytes, crc32 ${release.crc32 >>> 0}, sha256 ${release.sha256}`);
      out(`    source digest ${release.sourceDigest}, extracted by ${release.extractors.length ? release.extractors.join(' → ') : 'nothing (raw)'}${release.name ? `, file ${release.name}` : ''}`);
      out(`    cache: ${cacheHit === undefined ? 'not rebuilt' : cacheHit ? 'already built' : 'downloaded and built now'}`);
      out(`    /version answer: ${JSON.stringify(versionBody(release))}`);
      if (rt.fleet) {
        // Which rollout, step, bucket, pin or yank decides for one instance of this stream.
        const instance = typeof flags.instance === 'string' ? flags.instance : undefined;
        const f = await rt.fleet.explain(id, comp, release, instance);
        out('  fleet:');
        for (const line of explanationLines(f)) out(`    ${line}`);
      }
      return 0;
    }
    out(`  nothing would be served: ${refusal ?? 'no version'}`);
    return 1;
  } finally {
    await rt.close();
  }
}
