/**
 * The fleet view: one row per instance (version, last check-in, outcome of its last update, how it
 * is known, who it authenticated as), searched, filtered and paged in the store, so the page costs
 * the same with 10 000 instances as with 10.
 */
import type { FleetService } from '../../fleet/service.ts';
import type { InstanceFilter } from '../../fleet/store.ts';
import type { OutcomeState } from '../../fleet/outcomes.ts';

const OUTCOME_STATES: readonly OutcomeState[] = ['offered', 'downloading', 'downloaded', 'verified', 'rolled_back', 'timed_out', 'failed', 'canceled'];
import { html, when } from '../html.ts';
import { BASE, page } from '../layout.ts';
import type { Session } from '../sessions.ts';

export const PAGE_SIZE = 50;

/** How an instance is known, from the prefix its name has (README "How an instance is known"). */
export function protocolOf(instance: string, route: string): string {
  const kind = instance.slice(0, instance.indexOf(':') + 1);
  const how: Record<string, string> = {
    'cert:': 'mutual TLS', 'token:': 'device token', 'mac:': 'Arduino HTTPUpdate', 'serial:': 'RAUC', 'machine:': 'RAUC', 'addr:': 'address only (weak)',
  };
  return `${how[kind] ?? 'named by the client'} · ${route}`;
}

export function outcomeBadge(state: string | null): ReturnType<typeof html> {
  if (!state) return html`<span class="muted">–</span>`;
  const cls = state === 'verified' ? 'ok' : state === 'failed' || state === 'rolled_back' || state === 'timed_out' ? 'bad' : 'warn';
  return html`<span class="badge ${cls}">${state.replace('_', ' ')}</span>`;
}

export function filterFrom(query: URLSearchParams): InstanceFilter & { page: number } {
  const pageNo = Math.max(1, Math.min(100_000, Number.parseInt(query.get('page') ?? '1', 10) || 1));
  const s = (k: string) => (query.get(k) ?? '').trim().slice(0, 200);
  const outcome = s('outcome');
  return { q: s('q'), stream: s('stream'), version: s('version'), outcome: (OUTCOME_STATES as readonly string[]).includes(outcome) ? outcome : '', limit: PAGE_SIZE, offset: (pageNo - 1) * PAGE_SIZE, page: pageNo };
}

export async function fleetPage(fleet: FleetService, session: Session, query: URLSearchParams): Promise<Response> {
  const f = filterFrom(query);
  const [{ total, rows }, streams] = await Promise.all([fleet.store.instancePage(f), fleet.store.streams()]);
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const link = (p: number) => {
    const q = new URLSearchParams({ ...(f.q ? { q: f.q } : {}), ...(f.stream ? { stream: f.stream } : {}), ...(f.version ? { version: f.version } : {}), ...(f.outcome ? { outcome: f.outcome } : {}), page: String(p) });
    return `${BASE}/fleet?${q}`;
  };
  return page('Fleet', 'fleet', session, html`<h1>Fleet</h1>
<form class="filters card" method="get" action="${BASE}/fleet" role="search" aria-label="Filter instances">
<label for="q">Search<input id="q" name="q" type="search" value="${f.q}" placeholder="instance, stream, identity, address"></label>
<label for="stream">Stream<select id="stream" name="stream"><option value="">all</option>${streams.map((s) => html`<option${s === f.stream ? html` selected` : ''}>${s}</option>`)}</select></label>
<label for="version">Version<input id="version" name="version" value="${f.version}" size="10"></label>
<label for="outcome">Last outcome<select id="outcome" name="outcome"><option value="">any</option>${OUTCOME_STATES.map((o) => html`<option value="${o}"${o === f.outcome ? html` selected` : ''}>${o.replace('_', ' ')}</option>`)}</select></label>
<button type="submit">Filter</button></form>
<p class="muted" aria-live="polite">${total} instance${total === 1 ? '' : 's'}${total ? `, page ${f.page} of ${pages}` : ''}</p>
<div class="table-wrap"><table><caption class="skip">Instances, newest check-in first</caption>
<thead><tr><th scope="col">Instance</th><th scope="col">Stream</th><th scope="col">Version</th><th scope="col">Last check-in</th><th scope="col">Last outcome</th><th scope="col" class="wide">Protocol</th><th scope="col" class="wide">Auth identity</th></tr></thead>
<tbody>${rows.map((r) => html`<tr><td><a href="${BASE}/device?instance=${encodeURIComponent(r.instance)}&amp;stream=${encodeURIComponent(r.stream)}" class="mono">${r.instance}</a></td>
<td>${r.stream}</td><td>${r.reported_version ?? html`<span class="muted" title="served">${r.served_version ?? '–'}</span>`}</td><td>${when(r.last_seen)}</td>
<td>${outcomeBadge(r.last_outcome)}</td><td class="wide">${protocolOf(r.instance, r.route)}</td><td class="wide mono">${r.identity ?? '–'}</td></tr>`)}</tbody></table></div>
<nav class="pager" aria-label="Pages">${f.page > 1 ? html`<a href="${link(f.page - 1)}" rel="prev">← Previous</a>` : ''}${f.page < pages ? html`<a href="${link(f.page + 1)}" rel="next">Next →</a>` : ''}</nav>`);
}
