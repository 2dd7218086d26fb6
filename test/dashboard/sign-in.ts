/** Signs in to the dashboard over HTTP as a browser would, and sends its forms (test helper). */
import { expect } from 'bun:test';

export interface Signed {
  cookie: string;
  csrf: string;
}

export async function signIn(base: string, token: string): Promise<Signed> {
  const r = await fetch(`${base}/ui/login`, { method: 'POST', redirect: 'manual', headers: { origin: base }, body: new URLSearchParams({ token }) });
  expect(r.status).toBe(303);
  const cookie = (r.headers.get('set-cookie') ?? '').split(';')[0] as string;
  expect(cookie).toStartWith('otaflux_session=');
  const pageHtml = await (await fetch(`${base}/ui/fleet`, { headers: { cookie } })).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(pageHtml)?.[1] as string;
  expect(csrf).toBeString();
  return { cookie, csrf };
}

/** Posts a dashboard form (urlencoded, or multipart when `body` is FormData) from this origin unless told otherwise. */
export function post(base: string, path: string, s: Signed | undefined, fields: Record<string, string> | FormData, headers: Record<string, string> = { origin: base }): Promise<Response> {
  let body: URLSearchParams | FormData;
  if (fields instanceof FormData) {
    if (s && !fields.has('_csrf')) fields.set('_csrf', s.csrf);
    body = fields;
  } else {
    body = new URLSearchParams({ ...(s ? { _csrf: s.csrf } : {}), ...fields });
  }
  return fetch(`${base}${path}`, { method: 'POST', redirect: 'manual', headers: { ...(s ? { cookie: s.cookie } : {}), ...headers }, body });
}

/** The flash message the next page shows (the result of the last change). */
export async function flash(base: string, s: Signed, path: string): Promise<string> {
  const text = await (await fetch(`${base}${path}`, { headers: { cookie: s.cookie } })).text();
  return /<p class="flash (?:ok|error)"[^>]*>([^<]*)<\/p>/.exec(text)?.[1]?.replaceAll('&#39;', "'").replaceAll('&amp;', '&') ?? '';
}
