/**
 * Inline SVG charts, drawn on the server: no script, no library. Each has a title and a text
 * description for screen readers, and the numbers are also in the table beside it.
 */
import { html, type Markup } from './html.ts';

export const OUTCOME_BARS = ['exposed', 'verified', 'rolled_back', 'timed_out', 'failed'] as const;

/** Horizontal bars, one per outcome, scaled to the largest. */
export function outcomeBars(title: string, counts: Record<string, number>): Markup {
  const max = Math.max(1, ...OUTCOME_BARS.map((k) => counts[k] ?? 0));
  const row = 22;
  const desc = OUTCOME_BARS.map((k) => `${k.replace('_', ' ')} ${counts[k] ?? 0}`).join(', ');
  return html`<svg class="chart" viewBox="0 0 420 ${OUTCOME_BARS.length * row + 4}" role="img" aria-label="${title}: ${desc}">
    <title>${title}</title><desc>${desc}</desc>
    ${OUTCOME_BARS.map((k, i) => {
      const n = counts[k] ?? 0;
      const w = Math.round((n / max) * 260);
      return html`<text x="0" y="${i * row + 15}">${k.replace('_', ' ')}</text>
        <rect class="track" x="100" y="${i * row + 4}" width="260" height="14" rx="3"></rect>
        <rect class="${k}" x="100" y="${i * row + 4}" width="${w}" height="14" rx="3"></rect>
        <text x="366" y="${i * row + 15}">${n}</text>`;
    })}
  </svg>`;
}

/** The ramp: one bar per step (its target percentage), the steps reached filled, the current one marked. */
export function rampChart(title: string, steps: readonly { percent: number }[], current: number, state: string): Markup {
  const w = 420;
  const bar = Math.max(8, Math.floor((w - 10) / Math.max(1, steps.length)) - 8);
  const desc = steps.map((s, i) => `step ${i + 1}: ${s.percent}%${i === current ? ' (current)' : i < current ? ' (passed)' : ''}`).join(', ') + `; state ${state}`;
  return html`<svg class="chart" viewBox="0 0 ${w} 110" role="img" aria-label="${title}: ${desc}">
    <title>${title}</title><desc>${desc}</desc>
    ${steps.map((s, i) => {
      const x = 5 + i * (bar + 8);
      const h = Math.max(2, Math.round((s.percent / 100) * 80));
      const reached = i <= current && state !== 'aborted';
      return html`<rect class="track" x="${x}" y="5" width="${bar}" height="80" rx="3"></rect>
        <rect class="${reached ? (i === current ? 'exposed' : 'verified') : 'track'}" x="${x}" y="${85 - h}" width="${bar}" height="${h}" rx="3"></rect>
        <text x="${x}" y="102">${s.percent}%${i === current ? ' ◀' : ''}</text>`;
    })}
  </svg>`;
}

/** One stacked bar per stream: the share of instances on each version. */
export function distributionChart(title: string, parts: readonly { label: string; n: number }[]): Markup {
  const total = Math.max(1, parts.reduce((a, p) => a + p.n, 0));
  const classes = ['verified', 'exposed', 'rolled_back', 'timed_out', 'failed'];
  let x = 0;
  const desc = parts.map((p) => `${p.label || 'unknown'}: ${p.n}`).join(', ');
  return html`<svg class="chart" viewBox="0 0 420 44" role="img" aria-label="${title}: ${desc}">
    <title>${title}</title><desc>${desc}</desc>
    ${parts.map((p, i) => {
      const w = (p.n / total) * 410;
      const r = html`<rect class="${classes[i % classes.length]}" x="${5 + x}" y="4" width="${Math.max(0, w - 1)}" height="18"></rect>
        ${w > 40 ? html`<text x="${8 + x}" y="38">${p.label || '?'}</text>` : ''}`;
      x += w;
      return r;
    })}
  </svg>`;
}

/** Per step, a stacked bar of its exposed instances: verified, rolled back, timed out, failed, the rest pending. */
export function stepBars(title: string, steps: readonly { label: string; exposed: number; verified: number; rolled_back: number; timed_out: number; failed: number }[]): Markup {
  const max = Math.max(1, ...steps.map((s) => s.exposed));
  const row = 22;
  const desc = steps.map((s) => `${s.label}: exposed ${s.exposed}, verified ${s.verified}, rolled back ${s.rolled_back}, timed out ${s.timed_out}, failed ${s.failed}`).join('; ');
  return html`<svg class="chart" viewBox="0 0 420 ${steps.length * row + 4}" role="img" aria-label="${title}: ${desc}">
    <title>${title}</title><desc>${desc}</desc>
    ${steps.map((s, i) => {
      let x = 100;
      const seg = (cls: string, n: number) => {
        const w = (n / max) * 260;
        const r = html`<rect class="${cls}" x="${x.toFixed(1)}" y="${i * row + 4}" width="${w.toFixed(1)}" height="14"></rect>`;
        x += w;
        return r;
      };
      const pending = s.exposed - s.verified - s.rolled_back - s.timed_out - s.failed;
      return html`<text x="0" y="${i * row + 15}">${s.label}</text><rect class="track" x="100" y="${i * row + 4}" width="260" height="14" rx="3"></rect>
        ${seg('verified', s.verified)}${seg('rolled_back', s.rolled_back)}${seg('timed_out', s.timed_out)}${seg('failed', s.failed)}${seg('exposed', Math.max(0, pending))}
        <text x="366" y="${i * row + 15}">${s.exposed}</text>`;
    })}
  </svg>`;
}

/** Cumulative counts over time as lines: exposed, verified, failed. */
export function progressLines(title: string, points: readonly { at: number; exposed: number; verified: number; failed: number }[]): Markup {
  const max = Math.max(1, ...points.map((p) => p.exposed));
  const w = 400, h = 90;
  const line = (k: 'exposed' | 'verified' | 'failed') =>
    points.map((p, i) => `${(10 + (i / Math.max(1, points.length - 1)) * w).toFixed(1)},${(h + 5 - (p[k] / max) * h).toFixed(1)}`).join(' ');
  const last = points.at(-1);
  const desc = last ? `now: exposed ${last.exposed}, verified ${last.verified}, failed or rolled back ${last.failed}` : 'no data';
  return html`<svg class="chart" viewBox="0 0 420 112" role="img" aria-label="${title}: ${desc}">
    <title>${title}</title><desc>${desc}</desc>
    <rect class="track" x="10" y="95" width="${w}" height="1"></rect>
    <polyline class="line exposed" points="${line('exposed')}"></polyline>
    <polyline class="line verified" points="${line('verified')}"></polyline>
    <polyline class="line failed" points="${line('failed')}"></polyline>
    <text x="10" y="110">${points.length ? new Date((points[0] as { at: number }).at).toISOString().slice(0, 16).replace('T', ' ') : ''}</text>
    <text x="300" y="110">${last ? new Date(last.at).toISOString().slice(0, 16).replace('T', ' ') : ''}</text>
  </svg>`;
}
