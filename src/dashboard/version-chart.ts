/**
 * The version distribution of one stream over time as a stacked area chart (inline SVG, drawn on the
 * server), with a legend and a table of the numbers beside it. Each area carries its version in
 * `data-version`; the chart's title and description say what it shows in words for screen readers.
 */
import { html, type Markup } from './html.ts';

/** Series colours (classes `s0`…`s6` of the stylesheet, light and dark; the first ones as in the distribution now). */
const SERIES_CLASSES = 7;
const W = 420, LEFT = 34, RIGHT = 410, TOP = 6, BOTTOM = 116;

const label = (version: string) => version || 'unknown';
const stamp = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

export function versionAreas(stream: string, times: readonly number[], versions: readonly { version: string; counts: readonly number[] }[]): Markup {
  const n = times.length;
  const totals = times.map((_, k) => versions.reduce((a, v) => a + (v.counts[k] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const x = (k: number) => (LEFT + (k / Math.max(1, n - 1)) * (RIGHT - LEFT)).toFixed(1);
  const y = (c: number) => (BOTTOM - (c / max) * (BOTTOM - TOP)).toFixed(1);
  const below = new Array<number>(n).fill(0);
  const areas = versions.map((v, i) => {
    const low = [...below];
    for (let k = 0; k < n; k++) below[k] = (below[k] ?? 0) + (v.counts[k] ?? 0);
    const upper = times.map((_, k) => `${x(k)},${y(below[k] ?? 0)}`);
    const lower = times.map((_, k) => `${x(k)},${y(low[k] ?? 0)}`).reverse();
    return html`<path class="area s${i % SERIES_CLASSES}" data-version="${v.version}" d="M${upper.join(' L')} L${lower.join(' L')} Z"><title>${label(v.version)}: ${v.counts[n - 1] ?? 0} now</title></path>`;
  });
  const title = `Versions of ${stream} over time`;
  const at = (k: number) => versions.filter((v) => (v.counts[k] ?? 0) > 0).map((v) => `${label(v.version)} ${v.counts[k]}`).join(', ') || 'no instances';
  const desc = n ? `From ${stamp(times[0] as number)} to ${stamp(times[n - 1] as number)} UTC. At the start: ${at(0)}. Now: ${at(n - 1)}. Most instances at once: ${max}.` : 'no data';
  return html`<figure class="versions">
<svg class="chart" viewBox="0 0 ${W} 134" role="img" aria-label="${title}. ${desc}">
<title>${title}</title><desc>${desc}</desc>
<rect class="track" x="${LEFT}" y="${BOTTOM}" width="${RIGHT - LEFT}" height="1"></rect>
${areas}
<text x="0" y="${TOP + 8}">${max}</text><text x="0" y="${BOTTOM}">0</text>
<text x="${LEFT}" y="130">${n ? stamp(times[0] as number) : ''}</text>
<text x="${RIGHT}" y="130" text-anchor="end">${n ? stamp(times[n - 1] as number) : ''}</text>
</svg>
<figcaption><ul class="legend">${versions.map((v, i) => html`<li><span class="swatch s${i % SERIES_CLASSES}" aria-hidden="true"></span>${label(v.version)}</li>`)}</ul></figcaption>
</figure>
<table class="versions-table"><caption class="muted">Instances per version of ${stream}</caption>
<thead><tr><th scope="col">Version</th><th scope="col">At the start</th><th scope="col">Most at once</th><th scope="col">Now</th></tr></thead>
<tbody>${versions.map((v) => html`<tr><td>${label(v.version)}</td><td>${v.counts[0] ?? 0}</td><td>${Math.max(0, ...v.counts)}</td><td>${v.counts[n - 1] ?? 0}</td></tr>`)}</tbody></table>`;
}
