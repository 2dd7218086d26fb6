/**
 * One instance: its last check-in, the releases it was offered and what became of each (its history,
 * as the store keeps it: one row per release), and what it is offered now and why, in the very
 * words of `otaflux inspect --instance`.
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
  const [history, view] = await Promise.all([fleet.store.outcomesOf(instance), deviceFleetView(rt, stream, instance)]);
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
<section aria-labelledby="hist"><h2 id="hist">History: releases offered and what became of them</h2>
<div class="table-wrap"><table><thead><tr><th scope="col">Version</th><th scope="col">Outcome</th><th scope="col">Rollout</th><th scope="col">Offered</th><th scope="col">Downloaded</th><th scope="col">Last change</th></tr></thead>
<tbody>${history.map((o) => html`<tr><td>${o.version}</td><td>${outcomeBadge(o.state)}${o.inferred ? html` <span class="muted">(inferred)</span>` : ''}</td><td>${o.rollout_id ?? '–'}</td>
<td>${when(o.offered_at)}</td><td>${when(o.downloaded_at)}</td><td>${when(o.updated_at)}</td></tr>`)}</tbody></table></div></section>`);
}
