/**
 * Maps a request path to the route template that answered it (`/api/devices/esp32-a` →
 * `/api/devices/*`), so metric labels stay bounded whatever paths clients send. Paths that match no
 * template become `unmatched`.
 */
export function routeTemplates(templates: readonly string[]): (path: string) => string {
  const exact = new Set<string>(['unmatched']);
  const patterns: { template: string; re: RegExp }[] = [];
  for (const t of new Set(templates)) {
    if (t.includes(':') || t.includes('*')) patterns.push({ template: t, re: templateRegExp(t) });
    else exact.add(t);
  }
  // Longer templates first: `/api/devices/:id/why` before `/api/devices/*`.
  patterns.sort((a, b) => b.template.length - a.template.length);
  return (path) => {
    if (exact.has(path)) return path;
    return patterns.find((p) => p.re.test(path))?.template ?? 'unmatched';
  };
}

function templateRegExp(template: string): RegExp {
  const body = template
    .split('/')
    .map((seg) => (seg === '*' ? '.*' : seg.startsWith(':') ? '[^/]+' : seg.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${body}$`);
}
