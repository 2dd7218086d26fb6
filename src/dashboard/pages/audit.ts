/** The audit log, newest first: who did what, when, to what, and why. */
import type { FleetService } from '../../fleet/service.ts';
import { html, when } from '../html.ts';
import { page } from '../layout.ts';
import type { Session } from '../sessions.ts';

export async function auditPage(fleet: FleetService, session: Session): Promise<Response> {
  const entries = await fleet.audit(300);
  return page('Audit log', 'audit', session, html`<h1>Audit log</h1>
<div class="table-wrap"><table><thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Why</th><th scope="col" class="wide">Detail</th></tr></thead>
<tbody>${entries.map((e) => html`<tr><td>${when(e.at)}</td><td>${e.actor}</td><td>${e.action}</td><td class="mono">${e.target}</td><td>${e.reason ?? ''}</td>
<td class="wide mono">${JSON.stringify(e.detail).slice(0, 300)}</td></tr>`)}</tbody></table></div>`);
}
