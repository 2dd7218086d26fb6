/**
 * Rollouts: per rollout its ramp (steps, the current one), the outcomes of its release (exposed,
 * verified, rolled back, timed out, failed) in all and per step, and their growth over time, as charts
 * with the numbers beside them; the version distribution of the fleet now and over time (`days`:
 * the window, 1, 7 or 30); and the forms to start, advance, pause, resume and abort.
 */
import type { FleetService, RolloutView } from '../../fleet/service.ts';
import { distributionChart, outcomeBars, progressLines, rampChart, stepBars } from '../charts.ts';
import { progressOverTime, progressPerStep, stepTimeline } from '../rollout-progress.ts';
import { boundedInt, fleetVersionHistory, HISTORY_DAYS, HISTORY_MAX_DAYS } from '../version-history.ts';
import { versionAreas } from '../version-chart.ts';
import { html, when } from '../html.ts';
import { BASE, csrfField, page } from '../layout.ts';
import type { Session } from '../sessions.ts';

const ACTIONS: Record<string, ('pause' | 'resume' | 'advance' | 'abort')[]> = {
  running: ['advance', 'pause', 'abort'],
  paused: ['resume', 'advance', 'abort'],
  done: [],
  aborted: [],
};

function stepLabel(r: RolloutView): string {
  if (r.step < 0) return 'canary list';
  return `step ${r.step + 1} of ${r.steps.length} (${r.steps[r.step]?.percent ?? 0} %)`;
}

const WINDOWS = [1, 7, 30];

export async function rolloutsPage(fleet: FleetService, session: Session, query: URLSearchParams): Promise<Response> {
  const asked = boundedInt(query.get('days'), 'days', 1, HISTORY_MAX_DAYS, HISTORY_DAYS);
  const days = typeof asked === 'number' ? asked : HISTORY_DAYS;
  const [rollouts, dist, history] = await Promise.all([fleet.rollouts(), fleet.store.versionDistribution(), fleetVersionHistory(fleet.store, days)]);
  const now = Date.now();
  const progress = await Promise.all(rollouts.map(async (r) => {
    const [audit, outcomes] = await Promise.all([fleet.store.auditOf(r.id), fleet.store.rolloutOutcomes(r.id)]);
    const steps = progressPerStep(stepTimeline(audit, r.step, r.createdAt), outcomes);
    const end = r.state === 'done' || r.state === 'aborted' ? Math.max(r.stepStartedAt, ...outcomes.map((o) => o.updated_at)) : now;
    return { steps, over: progressOverTime(outcomes, r.createdAt, end) };
  }));
  const stepName = (r: RolloutView, step: number) => (step < 0 ? 'canary' : `${r.steps[step]?.percent ?? '?'} %`);
  const byStream = new Map<string, { label: string; n: number }[]>();
  for (const d of dist) byStream.set(d.stream, [...(byStream.get(d.stream) ?? []), { label: d.version, n: d.n }]);
  const canChange = session.operator.role === 'operator';
  return page('Rollouts', 'rollouts', session, html`<h1>Rollouts</h1>
${canChange ? html`<section class="card" aria-labelledby="new"><h2 id="new">Start a rollout</h2>
<form method="post" action="${BASE}/rollouts" class="filters">${csrfField(session)}
<label for="ro-streams">Streams (ids or patterns, comma-separated)<input id="ro-streams" name="streams" required placeholder="esp32-*"></label>
<label for="ro-version">Version<input id="ro-version" name="version" required placeholder="1.2.0" size="10"></label>
<label for="ro-steps">Steps (cumulative %)<input id="ro-steps" name="steps" value="10,50,100" size="10"></label>
<label for="ro-soak">Soak per step (s)<input id="ro-soak" name="soak" value="3600" size="6" inputmode="numeric"></label>
<label for="ro-canary">Canary instances<input id="ro-canary" name="canary" size="14"></label>
<label for="ro-reason">Reason<input id="ro-reason" name="reason" size="14"></label>
<button type="submit">Start</button></form></section>` : ''}
${rollouts.length === 0 ? html`<p class="muted">No rollouts yet: a new release goes to every device at once.</p>` : ''}
${rollouts.map((r, i) => html`<section class="card" aria-labelledby="ro-${r.id}"><h2 id="ro-${r.id}">${r.id}: ${r.version} → ${r.selector.streams.join(', ')}
<span class="badge ${r.state === 'running' ? 'ok' : r.state === 'aborted' ? 'bad' : 'warn'}">${r.state}</span></h2>
<p>${stepLabel(r)}, since ${when(r.stepStartedAt)}${r.reason ? html` · <span class="muted">${r.reason}</span>` : ''}</p>
<div class="grid"><div><h3>Ramp</h3>${rampChart(`Ramp of ${r.id}`, r.steps, r.step, r.state)}</div><div><h3>Outcomes</h3>${outcomeBars(`Outcomes of ${r.id}`, r.counts as unknown as Record<string, number>)}</div></div>
<p class="muted">exposed ${r.counts.exposed} · verified ${r.counts.verified} · rolled back ${r.counts.rolled_back} · timed out ${r.counts.timed_out} · failed ${r.counts.failed} · canceled ${r.counts.canceled ?? 0} · offered ${r.counts.offered}</p>
<div class="grid"><div><h3>Per step (by when offered)</h3>${stepBars(`Outcomes per step of ${r.id}`, (progress[i]?.steps ?? []).map((p) => ({ ...p, label: stepName(r, p.step) })))}
<table class="steps"><thead><tr><th scope="col">Step</th><th scope="col">Since</th><th scope="col">Exposed</th><th scope="col">Verified</th><th scope="col">Rolled back</th><th scope="col">Timed out</th><th scope="col">Failed</th></tr></thead>
<tbody>${(progress[i]?.steps ?? []).map((p) => html`<tr><td>${stepName(r, p.step)}</td><td>${when(p.since)}</td><td>${p.exposed}</td><td>${p.verified}</td><td>${p.rolled_back}</td><td>${p.timed_out}</td><td>${p.failed}</td></tr>`)}</tbody></table></div>
<div><h3>Over time (cumulative)</h3>${progressLines(`Progress of ${r.id} over time`, progress[i]?.over ?? [])}<p class="muted"><span class="badge">blue exposed</span> <span class="badge ok">green verified</span> <span class="badge bad">red failed, rolled back or timed out</span></p></div></div>
${canChange ? (ACTIONS[r.state] ?? []).map((a) => html`<form class="inline" method="post" action="${BASE}/rollouts/action"${a === 'abort' ? html` data-confirm="Abort ${r.id}? Nobody more gets ${r.version}."` : ''}>${csrfField(session)}
<input type="hidden" name="id" value="${r.id}"><input type="hidden" name="action" value="${a}"><button type="submit" class="${a === 'abort' ? 'danger' : a === 'pause' ? 'secondary' : ''}" aria-label="${a} ${r.id}">${a[0]?.toUpperCase()}${a.slice(1)}</button></form> `) : ''}
</section>`)}
<section class="card" aria-labelledby="dist"><h2 id="dist">Version distribution now</h2>
${[...byStream].map(([stream, parts]) => html`<h3>${stream}</h3>${distributionChart(`Versions of ${stream}`, parts)}<p class="muted">${parts.map((p) => `${p.label || 'unknown'}: ${p.n}`).join(' · ')}</p>`)}
</section>
<section class="card" aria-labelledby="dist-time"><h2 id="dist-time">Version distribution over time</h2>
<p class="muted">Instances per version, from the check-in history. Window: ${WINDOWS.map((d) => html`<a href="${BASE}/rollouts?days=${d}#dist-time"${d === days ? html` aria-current="true"` : ''}>${d === 1 ? 'last day' : `last ${d} days`}</a> `)}</p>
${history.streams.length === 0 ? html`<p class="muted">No check-ins yet.</p>` : ''}
<div class="grid">${history.streams.map((st) => html`<div><h3>${st.stream}</h3>${versionAreas(st.stream, history.times, st.versions)}</div>`)}</div>
</section>`);
}
