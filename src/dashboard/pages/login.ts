/** The sign-in page: one token field (the admin token or an operator's own token). */
import { html } from '../html.ts';
import { BASE, page } from '../layout.ts';

export function loginPage(error?: string, status = 200): Response {
  const r = page('Sign in', '', undefined, html`<section class="login card" aria-labelledby="signin">
<h1 id="signin">Sign in to OtaFlux</h1>
${error ? html`<p class="flash error" role="alert">${error}</p>` : ''}
<form method="post" action="${BASE}/login">
<label for="token">Token (the admin token, or your own operator token)
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus></label>
<button type="submit">Sign in</button>
</form></section>`);
  return status === 200 ? r : new Response(r.body, { status, headers: r.headers });
}
