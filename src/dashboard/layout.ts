/** The page shell: navigation, who is signed in, sign-out, the flash message, and a CSRF field helper. */
import { html, type Markup, type Part } from './html.ts';
import type { Session } from './sessions.ts';

export const BASE = '/ui';

/** Only this origin's own files; no frames (clickjacking), no inline script, forms only to here. */
const CSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const NAV: [string, string][] = [
  ['fleet', 'Fleet'],
  ['releases', 'Releases'],
  ['rollouts', 'Rollouts'],
  ['audit', 'Audit log'],
];

/** The hidden field every changing form carries. */
export function csrfField(session: Session): Markup {
  return html`<input type="hidden" name="_csrf" value="${session.csrf}">`;
}

export function page(title: string, current: string, session: Session | undefined, body: Part): Response {
  const flash = session?.flash;
  if (session) delete session.flash;
  const doc = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title} · OtaFlux</title><link rel="stylesheet" href="${BASE}/assets/style.css"></head>
<body><a class="skip" href="#main">Skip to content</a>
<header><span class="brand">OtaFlux</span>
${session ? html`<nav aria-label="Main">${NAV.map(([p, label]) => html`<a href="${BASE}/${p}"${p === current ? html` aria-current="page"` : ''}>${label}</a>`)}</nav>
<span class="who"><span>${session.operator.name} (${session.operator.role})</span>
<form class="inline" method="post" action="${BASE}/logout">${csrfField(session)}<button class="secondary" type="submit">Sign out</button></form></span>` : ''}
</header>
<main id="main">
${flash ? html`<p class="flash ${flash.kind}" role="${flash.kind === 'error' ? 'alert' : 'status'}">${flash.text}</p>` : ''}
${body}
</main><script src="${BASE}/assets/app.js" defer></script></body></html>`;
  return new Response(doc.text, {
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'same-origin',
    },
  });
}

/** 303 to another page of the dashboard. */
export function seeOther(location: string, headers: Record<string, string> = {}): Response {
  return new Response(null, { status: 303, headers: { location, ...headers } });
}

/** A refusal as a small page (no session, a forged form, a viewer asking for a change). */
export function refused(status: number, text: string): Response {
  const doc = html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Refused · OtaFlux</title>
<link rel="stylesheet" href="${BASE}/assets/style.css"></head><body><main id="main"><h1>Refused</h1><p class="flash error" role="alert">${text}</p>
<p><a href="${BASE}/login">Sign in</a></p></main></body></html>`;
  return new Response(doc.text, { status, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': CSP, 'x-content-type-options': 'nosniff' } });
}
