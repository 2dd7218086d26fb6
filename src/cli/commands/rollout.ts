/**
 * `otaflux rollout …`: staged rollouts on a running OtaFlux, over its operator API.
 *
 *   otaflux rollout list
 *   otaflux rollout create streams=esp32-* version=1.2.0 steps=10,50,100 [soak=3600] [canary=a,b]
 *                          [instances=…] [labels=…] [id=…] [min-sample=5] [success=90] [failure=10]
 *                          [max-per-minute=0] [timeout=3600] [salt=…] [digest=SHA256] [reason=…]
 *   otaflux rollout pause|resume|advance|abort <id> [reason=…]
 *   otaflux rollout audit
 */
import { UsageError, type FlagValues } from '../flags.ts';
import { keyValues, list, number, operatorClient } from './operator-client.ts';

export const rolloutCommand = {
  name: 'rollout',
  usage: 'rollout <action> …',
  help: 'Staged rollouts on a running server: list, create, pause, resume, advance, abort, audit (--server, --admin-token)',
  run: rollout,
};

interface RolloutView {
  id: string; version: string; state: string; step: number; reason?: string;
  selector: { streams: string[] }; canary: string[]; steps: { percent: number; soakSeconds: number }[];
  counts: Record<string, number>;
}

async function rollout(flags: FlagValues, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const api = operatorClient(flags);
  const out = (s: string) => process.stdout.write(`${s}\n`);
  switch (sub) {
    case 'list': {
      const rs = (await api.call('GET', '/rollouts')) as RolloutView[];
      if (rs.length === 0) out('no rollouts');
      for (const r of rs) {
        const step = r.state === 'done' ? '100 %' : r.step < 0 ? `canary (${r.canary.length})` : `step ${r.step}: ${r.steps[r.step]?.percent} %`;
        const c = r.counts;
        out(`${r.id}  ${r.selector.streams.join(',')} → ${r.version}  ${r.state}  ${step}  exposed ${c.exposed} verified ${c.verified} rolled_back ${c.rolled_back} timed_out ${c.timed_out} failed ${c.failed}${c.canceled ? ` canceled ${c.canceled}` : ''}${r.reason ? `  (${r.reason})` : ''}`);
      }
      return 0;
    }
    case 'create': {
      const kv = keyValues(rest, ['streams', 'version', 'steps', 'soak', 'canary', 'instances', 'labels', 'id', 'min-sample', 'success', 'failure', 'max-per-minute', 'timeout', 'salt', 'digest', 'reason', 'paused'], 'rollout create');
      if (!kv.streams || !kv.version || !kv.steps) throw new UsageError('rollout create: give streams=…, version=… and steps=10,50,100 at least');
      const soak = number(kv.soak, 'soak') ?? 0;
      const gates = {
        ...(kv['min-sample'] ? { minSample: number(kv['min-sample'], 'min-sample') } : {}),
        ...(kv.success ? { successPercent: number(kv.success, 'success') } : {}),
        ...(kv.failure ? { failurePercent: number(kv.failure, 'failure') } : {}),
        ...(kv['max-per-minute'] ? { maxDownloadsPerMinute: number(kv['max-per-minute'], 'max-per-minute') } : {}),
        ...(kv.timeout ? { timeout: number(kv.timeout, 'timeout') } : {}),
      };
      const body = {
        streams: list(kv.streams), version: kv.version,
        steps: (list(kv.steps) ?? []).map((p) => ({ percent: number(p, 'steps'), soak })),
        ...(kv.canary ? { canary: list(kv.canary) } : {}),
        ...(kv.instances ? { instances: list(kv.instances) } : {}),
        ...(kv.labels ? { labels: list(kv.labels) } : {}),
        ...(kv.id ? { id: kv.id } : {}),
        ...(kv.salt ? { salt: kv.salt } : {}),
        ...(kv.digest ? { digest: kv.digest } : {}),
        ...(kv.reason ? { reason: kv.reason } : {}),
        ...(kv.paused === 'true' ? { paused: true } : {}),
        ...(Object.keys(gates).length ? { gates } : {}),
      };
      const r = (await api.call('POST', '/rollouts', body)) as RolloutView;
      out(`created rollout ${r.id}: ${r.selector.streams.join(',')} → ${r.version}, ${r.state}`);
      return 0;
    }
    case 'pause':
    case 'resume':
    case 'advance':
    case 'abort': {
      const [id, ...more] = rest;
      if (!id) throw new UsageError(`rollout ${sub}: name the rollout, e.g. otaflux rollout ${sub} r-1a2b3c4d`);
      const kv = keyValues(more, ['reason'], `rollout ${sub}`);
      const r = (await api.call('POST', `/rollouts/${encodeURIComponent(id)}/${sub}`, kv.reason ? { reason: kv.reason } : {})) as RolloutView;
      out(`rollout ${r.id}: ${r.state}, ${r.state === 'done' ? '100 %' : r.step < 0 ? 'canary list' : `step ${r.step} (${r.steps[r.step]?.percent} %)`}`);
      return 0;
    }
    case 'audit': {
      const entries = (await api.call('GET', '/audit')) as { at: number; actor: string; action: string; target: string; reason?: string }[];
      for (const e of entries) out(`${new Date(e.at).toISOString()}  ${e.actor}  ${e.action}  ${e.target}${e.reason ? `  — ${e.reason}` : ''}`);
      return 0;
    }
    default:
      throw new UsageError(`rollout: expected list, create, pause, resume, advance, abort or audit${sub ? `, got '${sub}'` : ''}`);
  }
}
