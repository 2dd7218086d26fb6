/**
 * The version distribution over time: per stream, how many instances ran each version at evenly
 * spaced moments of a window, from the check-in history (`fleet_checkin_log`, which has a row each
 * time what an instance runs changes) and each instance's first check-in. An instance seen before the
 * kept history begins, whose first row in it is later, counts as version '' (unknown) until that row.
 * An instance counts from its first check-in on: there is no record of one leaving the fleet.
 */
import { CHECKIN_LOG_DAYS, type FleetStore, type VersionRow } from '../fleet/store.ts';

/** Versions drawn at most per stream; the ones with fewest instances at the end are summed as OTHER. */
export const MAX_SERIES = 7;
export const OTHER = 'other';

export interface VersionHistory {
  from: number;
  to: number;
  /** The moments counted, from `from` to `to`. */
  times: number[];
  streams: { stream: string; versions: { version: string; counts: number[] }[] }[];
}

export function versionHistory(data: { rows: readonly VersionRow[]; instances: readonly (VersionRow & { first_seen: number })[] }, from: number, to: number, points = 48): VersionHistory {
  const n = Math.max(2, points);
  const times = Array.from({ length: n }, (_, k) => Math.round(from + ((to - from) * k) / (n - 1)));
  const byInstance = new Map<string, VersionRow[]>();
  for (const r of data.rows) byInstance.set(r.instance, [...(byInstance.get(r.instance) ?? []), r]);
  const counts = new Map<string, Map<string, number[]>>();
  const add = (stream: string, version: string, k: number) => {
    const versions = counts.get(stream) ?? counts.set(stream, new Map()).get(stream) as Map<string, number[]>;
    const series = versions.get(version) ?? versions.set(version, new Array<number>(n).fill(0)).get(version) as number[];
    series[k] = (series[k] ?? 0) + 1;
  };
  const now = new Map(data.instances.map((i) => [i.instance, i]));
  for (const id of new Set([...byInstance.keys(), ...now.keys()])) {
    const timeline = (byInstance.get(id) ?? []).sort((a, b) => a.at - b.at);
    const current = now.get(id);
    if (current && timeline.length === 0) timeline.push({ ...current, at: current.first_seen });
    else if (current && timeline[0] && current.first_seen < timeline[0].at) timeline.unshift({ instance: id, at: current.first_seen, stream: timeline[0].stream, version: '' });
    let i = -1;
    for (let k = 0; k < n; k++) {
      while (i + 1 < timeline.length && (timeline[i + 1] as VersionRow).at <= (times[k] as number)) i++;
      const state = timeline[i];
      if (state) add(state.stream, state.version, k);
    }
  }
  const streams = [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([stream, versions]) => ({ stream, versions: fold([...versions].map(([version, c]) => ({ version, counts: c })), n) }));
  return { from, to, times, streams };
}

/** Orders the series by their count at the end (then their peak), and sums those beyond MAX_SERIES as OTHER. */
function fold(series: { version: string; counts: number[] }[], n: number): { version: string; counts: number[] }[] {
  const peak = (s: { counts: number[] }) => Math.max(...s.counts);
  series.sort((a, b) => (b.counts[n - 1] ?? 0) - (a.counts[n - 1] ?? 0) || peak(b) - peak(a) || a.version.localeCompare(b.version));
  if (series.length <= MAX_SERIES) return series;
  const rest = series.slice(MAX_SERIES - 1);
  return [...series.slice(0, MAX_SERIES - 1), { version: OTHER, counts: Array.from({ length: n }, (_, k) => rest.reduce((a, s) => a + (s.counts[k] ?? 0), 0)) }];
}

/** The window shown unless asked otherwise, and the longest one (the check-in history's retention). */
export const HISTORY_DAYS = 7;
export const HISTORY_MAX_DAYS = CHECKIN_LOG_DAYS;
export const HISTORY_POINTS = 48;

/**
 * The version distribution over the last `days` days, as the Rollouts page and
 * `GET /api/versions/history` show it. A fleet younger than the window starts at its first check-in.
 */
export async function fleetVersionHistory(store: FleetStore, days = HISTORY_DAYS, points = HISTORY_POINTS, now = Date.now()): Promise<VersionHistory> {
  const from = now - days * 86_400_000;
  const data = await store.versionTimeline(from, now);
  const first = Math.min(now, ...data.instances.map((i) => i.first_seen));
  return versionHistory(data, Math.max(from, first), now, points);
}

/** A whole number from a query parameter within bounds, the fallback when absent, or an error message. */
export function boundedInt(raw: string | null | undefined, name: string, min: number, max: number, fallback: number): number | string {
  if (raw === null || raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  return Number.isInteger(v) && v >= min && v <= max ? v : `${name} must be a whole number from ${min} to ${max}`;
}
