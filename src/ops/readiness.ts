/**
 * Readiness (`GET /ready`): can this instance serve devices now? Three checks:
 * - config: loaded (always true once running: a bad config stops start-up);
 * - cache: the cache folder takes a new file (created, synced and removed: works for root too,
 *   where permission bits do not stop writes);
 * - sources: each distinct source answers a version listing, or, when it does not, every device
 *   it serves that the core knows of (named in the config, polled since start, or with a last good
 *   release in the cache folder) has a cached release its composition accepts now (the resolver's
 *   provenance rules), so a warm restart with the source down is ready before any device polls.
 * Source probes are remembered for `probeTtlMs`, so a Kubernetes probe every few seconds does not
 * turn into registry traffic.
 */
import { randomBytes } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Runtime } from '../runtime.ts';
import type { SourcePlugin } from '../plugin.ts';
import { deviceRef } from '../core/composition.ts';
import { isNoFirmware } from '../core/errors.ts';

export interface ReadinessCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ReadinessReport {
  ready: boolean;
  checks: ReadinessCheck[];
}

const PROBE_DEVICE = 'otaflux-readiness-probe';

export class Readiness {
  private readonly probes = new Map<SourcePlugin, { at: number; result: Promise<string | null> }>();

  constructor(
    private readonly rt: Pick<Runtime, 'settings' | 'resolver' | 'releases'>,
    private readonly o: { probeTtlMs?: number; probeTimeoutMs?: number } = {},
  ) {}

  async check(): Promise<ReadinessReport> {
    const checks: ReadinessCheck[] = [{ name: 'config', ok: true, detail: this.rt.settings.configFile ?? 'command line' }];
    checks.push(await this.cacheWritable());
    checks.push(...(await this.sources()));
    return { ready: checks.every((c) => c.ok), checks };
  }

  private async cacheWritable(): Promise<ReadinessCheck> {
    const dir = this.rt.settings.cache.dir;
    const probe = join(dir, `.ready-${randomBytes(4).toString('hex')}`);
    try {
      const fh = await open(probe, 'wx');
      try {
        await fh.write('ok');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rm(probe, { force: true });
      return { name: 'cache', ok: true, detail: `${dir} is writable` };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      return { name: 'cache', ok: false, detail: `${dir} is not writable (${code})` };
    }
  }

  private async sources(): Promise<ReadinessCheck[]> {
    const composer = this.rt.settings.composer;
    const snapshot = this.rt.resolver.snapshot();
    const bySource = new Map<SourcePlugin, { probe: string; devices: string[] }>();
    for (const c of composer.all()) if (!bySource.has(c.source)) bySource.set(c.source, { probe: '', devices: [] });
    const known = new Set([...composer.namedDevices(), ...snapshot.map((s) => s.device), ...(await this.rt.releases.devices())]);
    for (const id of known) {
      const c = composer.for(id);
      const entry = c && bySource.get(c.source);
      if (entry) entry.devices.push(id);
    }
    const checks: ReadinessCheck[] = [];
    for (const [source, { devices }] of bySource) {
      const c = composer.all().find((x) => x.source === source);
      if (!c) continue;
      const probeId = devices[0] ?? PROBE_DEVICE;
      const failure = await this.probe(source, () => source.versions(deviceRef(probeId, c), AbortSignal.timeout(this.o.probeTimeoutMs ?? 3000)));
      if (failure === null) {
        checks.push({ name: `source ${source.id}`, ok: true, detail: 'reachable' });
        continue;
      }
      const missing: string[] = [];
      for (const d of devices) {
        const comp = composer.for(d);
        const servable = comp ? await this.rt.resolver.servable(deviceRef(d, comp), comp).catch(() => undefined) : undefined;
        if (!servable) missing.push(d);
      }
      const cached = devices.length > 0 && missing.length === 0;
      checks.push({
        name: `source ${source.id}`,
        ok: cached,
        detail: cached
          ? `unreachable (${failure}); serving ${devices.length} device(s) from the cache`
          : devices.length === 0 || missing.length === devices.length
            ? `unreachable (${failure}) and nothing cached to serve`
            : `unreachable (${failure}) and nothing cached to serve ${missing.length} of ${devices.length} device(s) (${missing.slice(0, 5).join(', ')})`,
      });
    }
    return checks;
  }

  /** Runs a source probe at most once per TTL; resolves null when it answered, else a short reason. */
  private probe(source: SourcePlugin, call: () => Promise<unknown>): Promise<string | null> {
    const now = Date.now();
    const known = this.probes.get(source);
    if (known && now - known.at < (this.o.probeTtlMs ?? 10_000)) return known.result;
    const result = call().then(
      () => null,
      (e: unknown) => (isNoFirmware(e) ? null : (e instanceof Error ? e.message : String(e)).slice(0, 200)),
    );
    this.probes.set(source, { at: now, result });
    return result;
  }
}
