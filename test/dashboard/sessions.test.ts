// Dashboard sessions: the cookie's attributes, the idle and absolute deadlines (on a clock the test
// moves), sign-out, the bound on how many are kept, and the Origin check.
import { expect, test } from 'bun:test';
import { cookieValue, csrfMatches, MAX_SESSIONS, sameOrigin, SESSION_IDLE_MS, SESSION_MAX_MS, sessionCookie, Sessions } from '../../src/dashboard/sessions.ts';

const alice = { name: 'alice', role: 'operator' as const, shared: false };

test('a session ends after SESSION_IDLE_MS without a request, and SESSION_MAX_MS after sign-in however busy', () => {
  let now = 1_000_000;
  const sessions = new Sessions(() => now);
  const idle = sessions.open(alice);
  now += SESSION_IDLE_MS - 1;
  expect(sessions.get(idle.id)?.operator.name).toBe('alice');
  now += SESSION_IDLE_MS + 1;
  expect(sessions.get(idle.id)).toBeUndefined();

  const busy = sessions.open(alice);
  const started = now;
  while (now - started < SESSION_MAX_MS - 60_000) {
    now += 60_000;
    expect(sessions.get(busy.id)).toBeDefined();
  }
  now = started + SESSION_MAX_MS + 1;
  expect(sessions.get(busy.id)).toBeUndefined();
});

test('sign-out ends the session; unknown ids are nobody; the oldest goes beyond MAX_SESSIONS', () => {
  const sessions = new Sessions();
  const s = sessions.open(alice);
  sessions.close(s.id);
  expect(sessions.get(s.id)).toBeUndefined();
  expect(sessions.get('made-up')).toBeUndefined();
  expect(sessions.get(undefined)).toBeUndefined();
  const first = sessions.open(alice);
  for (let i = 0; i < MAX_SESSIONS; i++) sessions.open(alice);
  expect(sessions.size).toBe(MAX_SESSIONS);
  expect(sessions.get(first.id)).toBeUndefined();
});

test('the cookie is HttpOnly and SameSite=Strict, Secure only over TLS; removal sets Max-Age=0', () => {
  const s = new Sessions().open(alice);
  expect(sessionCookie(s, false)).toBe(`otaflux_session=${s.id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_MAX_MS / 1000}`);
  expect(sessionCookie(s, true)).toContain('; HttpOnly; SameSite=Strict; Secure;');
  expect(sessionCookie(undefined, false)).toBe('otaflux_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0');
  expect(cookieValue(`a=1; otaflux_session=${s.id}; b=2`, 'otaflux_session')).toBe(s.id);
});

test('CSRF tokens are per session and compared whole', () => {
  const sessions = new Sessions();
  const a = sessions.open(alice);
  const b = sessions.open(alice);
  expect(a.csrf).not.toBe(b.csrf);
  expect(csrfMatches(a, a.csrf)).toBe(true);
  expect(csrfMatches(a, b.csrf)).toBe(false);
  expect(csrfMatches(a, a.csrf.slice(1))).toBe(false);
  expect(csrfMatches(a, null)).toBe(false);
});

test('Origin (else Referer) must name the host the request was sent to', () => {
  const req = (headers: Record<string, string>) => new Request('http://127.0.0.1:8081/ui/rollouts', { method: 'POST', headers: { host: '127.0.0.1:8081', ...headers } });
  expect(sameOrigin(req({ origin: 'http://127.0.0.1:8081' }))).toBe(true);
  expect(sameOrigin(req({ referer: 'http://127.0.0.1:8081/ui/rollouts' }))).toBe(true);
  expect(sameOrigin(req({ origin: 'http://evil.example' }))).toBe(false);
  expect(sameOrigin(req({ origin: 'http://127.0.0.1:9999' }))).toBe(false);
  expect(sameOrigin(req({ origin: 'null' }))).toBe(false);
  expect(sameOrigin(req({ referer: 'http://127.0.0.1:8081.evil.example/' }))).toBe(false);
  expect(sameOrigin(req({}))).toBe(false);
});
