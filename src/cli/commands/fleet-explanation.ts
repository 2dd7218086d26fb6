/** Renders the fleet's explanation of a decision (status API, `inspect`) as lines for a terminal. */

export interface FleetExplanation {
  instance?: string;
  weak?: boolean;
  offer?: { version?: string; reason: string; rollout?: string; step?: number; bucket?: number; pin?: string; yanked?: string[]; channel?: string };
  checkin?: { reported_version: string | null; served_version: string | null; last_seen: number; address: string; boot_id: string | null; route?: string };
  outcomes?: { version: string; state: string; inferred: boolean }[];
  releases?: string[];
  newestRollout?: { rollout: string; state: string; step: number; included: boolean; why: string; bucket?: number };
  error?: string;
}

export function explanationLines(f: FleetExplanation | null | undefined): string[] {
  if (!f) return ['fleet control is off, or no composition serves this id'];
  if (f.error) return [`fleet: ${f.error}`];
  const o = f.offer;
  const lines: string[] = [];
  lines.push(f.instance ? `instance ${f.instance}${f.weak ? ' (weak: named by its address only)' : ''}` : 'no instance named (--instance ID): the stream-wide answer');
  lines.push(`offered: ${o?.version ?? 'nothing'}${o?.channel && o.channel !== 'stable' ? ` (channel ${o.channel})` : ''}`);
  lines.push(`why: ${o?.reason ?? '-'}`);
  const decided = [
    o?.rollout ? `rollout ${o.rollout}` : '', o?.step !== undefined ? `step ${o.step}` : '', o?.bucket !== undefined ? `bucket ${o.bucket}` : '',
    o?.pin ? `pin ${o.pin}` : '', o?.yanked?.length ? `yanked ${o.yanked.join(', ')}` : '',
  ].filter(Boolean);
  if (decided.length) lines.push(`decided by: ${decided.join(', ')}`);
  const n = f.newestRollout;
  if (n && n.rollout !== o?.rollout) lines.push(`rollout ${n.rollout} of the newest release (${n.state}): ${n.included ? 'would include it' : 'leaves it out'}: ${n.why}`);
  if (f.releases?.length) lines.push(`verified releases considered: ${f.releases.join(', ')}`);
  if (f.checkin) lines.push(`last check-in: ${new Date(f.checkin.last_seen).toISOString()} from ${f.checkin.address}${f.checkin.route ? ` (${protocolOf(f.checkin.route)})` : ''}, reports ${f.checkin.reported_version ?? 'nothing'}, served ${f.checkin.served_version ?? '-'}`);
  for (const x of f.outcomes ?? []) lines.push(`outcome ${x.version}: ${x.state}${x.inferred ? ' (inferred: the client reports nothing)' : ''}`);
  return lines;
}

/** `arduino:version` → `arduino /firmware poll`; `firmware` → `native /firmware`: which client asked, and how. */
function protocolOf(route: string): string {
  const [protocol, kind] = route.includes(':') ? route.split(':', 2) : ['native', route];
  return `${protocol}, ${kind === 'firmware' ? 'download' : 'poll'}`;
}
