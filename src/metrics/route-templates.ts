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
  // The last answer is kept: a fleet's requests repeat the same few paths.
  let lastPath = '';
  let lastTemplate = '';
  return (path) => {
    if (path === lastPath) return lastTemplate;
    const template = exact.has(path) ? path : (patterns.find((p) => p.re.test(path))?.template ?? 'unmatched');
    lastPath = path;
    lastTemplate = template;
    return template;
  };
}

function templateRegExp(template: string): RegExp {
  const body = template
    .split('/')
    .map((seg) => (seg === '*' ? '.*' : seg.startsWith(':') ? '[^/]+' : seg.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${body}$`);
}
