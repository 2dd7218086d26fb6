/**
 * One instance: its last check-in, its check-in history (each check-in that changed what it runs, is
 * served or how it asks), the releases it was offered and what became of each, and what it is
 * offered now and why, in the very words of `otaflux inspect --instance`.
 */
import type { Runtime } from '../../runtime.ts';
import type { FleetService } from '../../fleet/service.ts';
import { deviceFleetView } from '../../http/fleet-api.ts';
import { explanationLines, type FleetExplanation } from '../../cli/commands/fleet-explanation.ts';
import { html, when } from '../html.ts';
import { BASE, page } from '../layout.ts';
import type { Session } from '../sessions.ts';
import { outcomeBadge, protocolOf } from './fleet.ts';

export async function devicePage(rt: Runtime, fleet: FleetService, session: Session, query: URLSearchParams): Promise<Response> {
  const instance = (query.get('instance') ?? '').slice(0, 200);
  const row = instance ? await fleet.store.instance(instance) : undefined;
  if (!row) return page('Instance', 'fleet', session, html`<h1>Instance</h1><p class="flash error" role="alert">No instance '${instance}' has checked in.</p><p><a href="${BASE}/fleet">Back to the fleet</a></p>`);
  const stream = row.stream;
  const [history, checkins, view] = await Promise.all([fleet.store.outcomesOf(instance), fleet.store.checkinLog(instance, 100), deviceFleetView(rt, stream, instance)]);
  const explanation = explanationLines(view.fleet as FleetExplanation | null | undefined);
  return page(instance, 'fleet', session, html`<h1 class="mono">${instance}</h1>
<div class="grid">
<section class="card" aria-labelledby="last"><h2 id="last">Last check-in</h2><dl>
<dt>Stream</dt><dd>${stream}</dd><dt>Reports</dt><dd>${row.reported_version ?? '–'}</dd><dt>Served</dt><dd>${row.served_version ?? '–'}</dd>
<dt>When</dt><dd>${when(row.last_seen)} (first seen ${when(row.first_seen)})</dd><dt>From</dt><dd class="mono">${row.address}</dd>
<dt>Protocol</dt><dd>${protocolOf(instance, row.route)}</dd><dt>Auth identity</dt><dd class="mono">${row.identity ?? '–'}</dd><dt>Boot id</dt><dd class="mono">${row.boot_id ?? '–'}</dd>
<dt>Last download</dt><dd>${row.downloaded_version ?? '–'} ${when(row.downloaded_at)}</dd></dl></section>
<section class="card" aria-labelledby="offer"><h2 id="offer">Offered now, and why</h2>
<pre class="mono pre">${explanation.join('\n')}</pre></section>
</div>
<section aria-labelledby="checkins"><h2 id="checkins">Check-in history</h2>
<p class="muted">Each check-in that changed the version it reports or was served, its boot, stream or route (polls that change nothing are not kept); newest first, at most 100.</p>
<div class="table-wrap"><table><thead><tr><th scope="col">When</th><th scope="col">Route</th><th scope="col">Reports</th><th scope="col">Served</th><th scope="col" class="wide">Boot id</th><th scope="col" class="wide">From</th></tr></thead>
<tbody>${checkins.map((c) => html`<tr><td>${when(c.at)}</td><td>${c.route}</td><td>${c.reported_version ?? '–'}</td><td>${c.served_version ?? '–'}</td>
<td class="wide mono">${c.boot_id ?? '–'}</td><td class="wide mono">${c.address}</td></tr>`)}</tbody></table></div></section>
<section aria-labelledby="hist"><h2 id="hist">Releases offered and what became of them</h2>
<div class="table-wrap"><table><thead><tr><th scope="col">Version</th><th scope="col">Outcome</th><th scope="col">Rollout</th><th scope="col">Offered</th><th scope="col">Downloaded</th><th scope="col">Last change</th></tr></thead>
<tbody>${history.map((o) => html`<tr><td>${o.version}</td><td>${outcomeBadge(o.state)}${o.inferred ? html` <span class="muted">(inferred)</span>` : ''}</td><td>${o.rollout_id ?? '–'}</td>
<td>${when(o.offered_at)}</td><td>${when(o.downloaded_at)}</td><td>${when(o.updated_at)}</td></tr>`)}</tbody></table></div></section>`);
}
