/**
 * Fleet metrics, read at scrape time from the counts the gate controller keeps (refreshed every
 * `fleet.refreshInterval`):
 *   otaflux_rollout_instances{rollout,outcome}   exposed, verified, rolled_back, timed_out, failed, canceled
 *   otaflux_rollout_state{rollout,state}         1 for the rollout's state, 0 for the others
 *   otaflux_fleet_checkins_pending, otaflux_fleet_checkins_dropped_total, otaflux_fleet_store_up
 */
import type { MetricsRegistry } from '../metrics/registry.ts';
import type { FleetService } from './service.ts';
import { exposedCounts } from './outcomes.ts';
import { ROLLOUT_STATES } from './model.ts';

const OUTCOMES = ['exposed', 'verified', 'rolled_back', 'timed_out', 'failed', 'canceled'] as const;

export function registerFleetMetrics(registry: MetricsRegistry, fleet: FleetService): void {
  const instances = registry.gauge({ name: 'otaflux_rollout_instances', help: 'Instances per rollout and outcome (exposed: the release reached them).', labelNames: ['rollout', 'outcome'], maxSeries: 5000 });
  const state = registry.gauge({ name: 'otaflux_rollout_state', help: 'Rollout state: 1 for the current one (running, paused, done, aborted).', labelNames: ['rollout', 'state'], maxSeries: 5000 });
  const pending = registry.gauge({ name: 'otaflux_fleet_checkins_pending', help: 'Check-in rows waiting to be written to the fleet store.' });
  const dropped = registry.gauge({ name: 'otaflux_fleet_checkins_dropped_total', help: 'Check-in rows dropped because the queue was full while the fleet store was unreachable.' });
  const up = registry.gauge({ name: 'otaflux_fleet_store_up', help: '1 when the last fleet store call succeeded.' });
  registry.beforeScrape(() => {
    instances.reset();
    state.reset();
    const counts = fleet.rolloutCounts();
    for (const r of fleet.decisionState().rollouts) {
      const c = exposedCounts(counts.get(r.id) ?? {});
      for (const o of OUTCOMES) instances.set({ rollout: r.id, outcome: o }, c[o]);
      for (const s of ROLLOUT_STATES) state.set({ rollout: r.id, state: s }, r.state === s ? 1 : 0);
    }
    const h = fleet.health();
    pending.set(undefined, h.pending);
    dropped.set(undefined, h.dropped);
    up.set(undefined, h.ok ? 1 : 0);
  });
}
