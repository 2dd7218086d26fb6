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
