// Sign-in and changes over the operator listener (real sockets): the admin token and per-person
// tokens with roles give a session; a change needs that session, a form from this origin and the
// session's CSRF token, and the operator role; sign-out ends it; every change is in the audit log
// with the name of who made it; the API keeps taking bearer tokens (per person too).
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { hashToken, newToken } from '../../src/plugins/auth/token-hash.ts';
import { flash, post, signIn } from './sign-in.ts';

const ADMIN = 'admin-token-auth-test-0001';
const OTTO = newToken();
const VERA = newToken();
let s: TestServer;
let base: string;

beforeAll(async () => {
  const fw = firmwareDir({ 'esp32-a': { '1.0.0.bin': 32, '1.1.0.bin': 48 } });
  const config = join(tempDir('otaflux-auth-'), 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir } from 'otaflux';
export default defineConfig({
  server: { adminToken: ${JSON.stringify(ADMIN)}, operators: [
    { name: 'otto', role: 'operator', token: ${JSON.stringify(hashToken(OTTO))} },
    { name: 'vera', role: 'viewer', token: ${JSON.stringify(hashToken(VERA))} },
  ] },
  defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }) },
});
`);
  s = await startTestServer({ config, flags: { 'admin-on-device-port': false } });
  base = s.adminUrl as string;
  expect((await fetch(`${s.url}/version?device=esp32-a`)).status).toBe(200);
}, 60_000);
afterAll(() => s?.close());

test('pages without a session send the browser to the sign-in page; a wrong token is refused', async () => {
  for (const p of ['/ui/fleet', '/ui/releases', '/ui/rollouts', '/ui/audit', '/ui/device?instance=x']) {
    const r = await fetch(`${base}${p}`, { redirect: 'manual' });
    expect(`${p} ${r.status} ${r.headers.get('location')}`).toBe(`${p} 303 /ui/login`);
  }
  const r = await fetch(`${base}/ui/login`, { method: 'POST', redirect: 'manual', headers: { origin: base }, body: new URLSearchParams({ token: 'not-a-token-of-anyone-here' }) });
  expect(r.status).toBe(401);
  expect(r.headers.get('set-cookie')).toBeNull();
  expect(await r.text()).toContain('That token is not an operator token here.');
  // A forged cookie is nobody.
  expect((await fetch(`${base}/ui/fleet`, { redirect: 'manual', headers: { cookie: 'otaflux_session=forged' } })).status).toBe(303);
});

test('a sign-in form posted from another site is refused', async () => {
  const r = await fetch(`${base}/ui/login`, { method: 'POST', redirect: 'manual', headers: { origin: 'http://evil.example' }, body: new URLSearchParams({ token: ADMIN }) });
  expect(r.status).toBe(403);
  expect(r.headers.get('set-cookie')).toBeNull();
});

test('a change needs a session, this origin, the CSRF token and the operator role', async () => {
  const admin = await signIn(base, ADMIN);
  const fields = { streams: 'esp32-a', version: '1.1.0', steps: '50,100', soak: '0', reason: 'csrf test' };
  // No session.
  expect((await post(base, '/ui/rollouts', undefined, { ...fields, _csrf: admin.csrf })).status).toBe(401);
  // From another site (the cookie would not even be sent by a browser: SameSite=Strict).
  expect((await post(base, '/ui/rollouts', admin, fields, { origin: 'http://evil.example' })).status).toBe(403);
  // Neither Origin nor Referer.
  expect((await post(base, '/ui/rollouts', admin, fields, {})).status).toBe(403);
  // Without, or with another session's, CSRF token.
  expect((await fetch(`${base}/ui/rollouts`, { method: 'POST', redirect: 'manual', headers: { cookie: admin.cookie, origin: base }, body: new URLSearchParams(fields) })).status).toBe(403);
  const other = await signIn(base, ADMIN);
  expect((await post(base, '/ui/rollouts', { cookie: admin.cookie, csrf: other.csrf }, fields)).status).toBe(403);
  // A viewer.
  const vera = await signIn(base, VERA);
  const refused = await post(base, '/ui/rollouts', vera, fields);
  expect(refused.status).toBe(403);
  expect(await refused.text()).toContain('vera is a viewer');
  expect((await fetch(`${base}/ui/rollouts`, { headers: { cookie: vera.cookie } })).status).toBe(200);
  // None of these made a rollout.
  expect(await (await fetch(`${base}/api/rollouts`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()).toEqual([]);

  // The operator otto, properly.
  const otto = await signIn(base, OTTO);
  const ok = await post(base, '/ui/rollouts', otto, fields);
  expect(ok.status).toBe(303);
  expect(ok.headers.get('location')).toBe('/ui/rollouts');
  expect(await flash(base, otto, '/ui/rollouts')).toStartWith('Started rollout r-');
  const audit = await (await fetch(`${base}/api/audit`, { headers: { authorization: `Bearer ${ADMIN}` } })).json() as { actor: string; action: string; reason?: string }[];
  expect(audit[0]).toMatchObject({ actor: 'otto', action: 'rollout.create', reason: 'csrf test' });
});

test('sign-out ends the session: its cookie no longer opens a page or makes a change', async () => {
  const otto = await signIn(base, OTTO);
  const out = await post(base, '/ui/logout', otto, {});
  expect(out.status).toBe(303);
  expect(out.headers.get('set-cookie')).toContain('otaflux_session=;');
  expect((await fetch(`${base}/ui/fleet`, { redirect: 'manual', headers: { cookie: otto.cookie } })).status).toBe(303);
  expect((await post(base, '/ui/rollouts', otto, { streams: 'esp32-a', version: '1.1.0', steps: '100' })).status).toBe(401);
});

test('the API takes bearer tokens: the admin token, an operator\'s (named in the audit log), a viewer\'s for reading only', async () => {
  const api = (token: string, path: string, init: RequestInit = {}) => fetch(`${base}/api${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'x-operator': 'someone-else' } });
  expect((await api(VERA, '/rollouts')).status).toBe(200);
  expect((await api(VERA, '/status')).status).toBe(200);
  const denied = await api(VERA, '/pins', { method: 'POST', body: JSON.stringify({ stream: 'esp32-a', version: '1.0.0' }) });
  expect(denied.status).toBe(403);
  expect(await denied.json()).toEqual({ error: 'forbidden: vera is a viewer; changes need the operator role' });
  expect((await api(OTTO, '/pins', { method: 'POST', body: JSON.stringify({ stream: 'esp32-a', version: '1.0.0', reason: 'bearer' }) })).status).toBe(201);
  expect((await api('wrong-token-wrong-token', '/rollouts')).status).toBe(401);
  const audit = await (await api(ADMIN, '/audit')).json() as { actor: string; action: string }[];
  // A person's token names that person, whatever X-Operator says; the shared admin token takes X-Operator.
  expect(audit[0]).toMatchObject({ actor: 'otto', action: 'pin.create' });
  expect((await api(ADMIN, '/pins/' + (await (await api(ADMIN, '/pins')).json() as { id: string }[])[0]?.id, { method: 'DELETE' })).status).toBe(204);
  expect((await (await api(ADMIN, '/audit')).json() as { actor: string; action: string }[])[0]).toMatchObject({ actor: 'someone-else', action: 'pin.delete' });
});
