// Dashboard sessions, in memory and in the fleet store (SQLite here; PostgreSQL in
// persistent-sessions.test.ts): the cookie's attributes, the idle and absolute deadlines (on a clock
// the test moves), sign-out, the bound on how many are kept, the purge, ids stored only hashed, a
// removed token, and the Origin check.
import { afterAll, expect, test } from 'bun:test';
import { join } from 'node:path';
import { cookieValue, csrfMatches, MAX_SESSIONS, sameOrigin, SESSION_IDLE_MS, SESSION_MAX_MS, sessionCookie, Sessions } from '../../src/dashboard/sessions.ts';
import { MemorySessionRows } from '../../src/dashboard/memory-session-rows.ts';
import { FleetStore } from '../../src/fleet/store.ts';
import { OperatorCredentials } from '../../src/http/admin-auth.ts';
import { hashToken, newToken } from '../../src/plugins/auth/token-hash.ts';
import type { SessionRows } from '../../src/fleet/session-table.ts';
import { tempDir } from '../support/tmp.ts';

const alice = { name: 'alice', role: 'operator' as const, shared: false };
const aliceToken = newToken();
const credentials = new OperatorCredentials('the-admin-token-of-this-test', [{ name: 'alice', role: 'operator', token: hashToken(aliceToken) }]);
const store = await FleetStore.open(`sqlite://${join(tempDir('otaflux-sessions-'), 'fleet.sqlite')}`);
afterAll(() => store.close());

const backends: [string, () => Promise<SessionRows>][] = [
  ['memory', async () => new MemorySessionRows()],
  ['fleet store', async () => {
    const rows = store.sessions;
    await rows.purge({ idle: Number.MAX_SAFE_INTEGER, max: 0 });
    return rows;
  }],
];

for (const [kind, rows] of backends) {
  test(`${kind}: a session ends after SESSION_IDLE_MS without a request, and SESSION_MAX_MS after sign-in however busy`, async () => {
    let now = 1_000_000;
    const sessions = new Sessions(await rows(), credentials, () => now);
    const idle = await sessions.open(alice);
    now += SESSION_IDLE_MS - 1;
    expect((await sessions.get(idle.id))?.operator.name).toBe('alice');
    now += SESSION_IDLE_MS + 1;
    expect(await sessions.get(idle.id)).toBeUndefined();

    const busy = await sessions.open(alice);
    const started = now;
    while (now - started < SESSION_MAX_MS - 60_000) {
      now += 5 * 60_000;
      expect(await sessions.get(busy.id)).toBeDefined();
    }
    now = started + SESSION_MAX_MS + 1;
    expect(await sessions.get(busy.id)).toBeUndefined();
  });

  test(`${kind}: sign-out ends the session; unknown ids are nobody; the oldest goes beyond MAX_SESSIONS; expired ones are purged`, async () => {
    let now = 5_000_000;
    const sessions = new Sessions(await rows(), credentials, () => now);
    const s = await sessions.open(alice);
    await sessions.close(s.id);
    expect(await sessions.get(s.id)).toBeUndefined();
    expect(await sessions.get('made-up')).toBeUndefined();
    expect(await sessions.get(undefined)).toBeUndefined();
    const first = await sessions.open(alice);
    for (let i = 0; i < MAX_SESSIONS; i++) {
      now++;
      await sessions.open(alice);
    }
    expect(await sessions.count()).toBe(MAX_SESSIONS);
    expect(await sessions.get(first.id)).toBeUndefined();
    now += SESSION_IDLE_MS + 1;
    const fresh = await sessions.open(alice);
    expect(await sessions.count()).toBe(1);
    expect((await sessions.get(fresh.id))?.operator.name).toBe('alice');
    now += SESSION_IDLE_MS + 1;
    expect(await sessions.purge()).toBe(1);
    expect(await sessions.count()).toBe(0);
  });

  test(`${kind}: a flash message is shown once; a token no longer configured ends its sessions`, async () => {
    const r = await rows();
    const sessions = new Sessions(r, credentials);
    const s = await sessions.open(alice);
    await sessions.flash(s, { kind: 'ok', text: 'Yanked' });
    expect((await sessions.get(s.id))?.flash).toEqual({ kind: 'ok', text: 'Yanked' });
    expect((await sessions.get(s.id))?.flash).toBeUndefined();
    const admin = await sessions.open({ name: 'admin', role: 'operator', shared: true });

    const withoutAlice = new Sessions(r, new OperatorCredentials('the-admin-token-of-this-test', []));
    expect(await withoutAlice.get(s.id)).toBeUndefined();
    expect((await withoutAlice.get(admin.id))?.operator).toEqual({ name: 'admin', role: 'operator', shared: true });
    const adminReplaced = new Sessions(r, new OperatorCredentials('another-admin-token-now', []));
    expect(await adminReplaced.get(admin.id)).toBeUndefined();
    expect(await sessions.count()).toBe(0);
  });
}

test('the last use is written at most once a minute', async () => {
  let now = 10_000_000;
  const sessions = new Sessions(store.sessions, credentials, () => now);
  const s = await sessions.open(alice);
  const key = new Bun.CryptoHasher('sha256').update(s.id).digest('base64url');
  now += 30_000;
  expect(await sessions.get(s.id)).toBeDefined();
  expect((await store.sessions.find(key))?.last_used_at).toBe(10_000_000);
  now += 30_000;
  expect(await sessions.get(s.id)).toBeDefined();
  expect((await store.sessions.find(key))?.last_used_at).toBe(10_060_000);
});

test('the store keeps the SHA-256 of a session id, never the id', async () => {
  const sessions = new Sessions(store.sessions, credentials);
  const s = await sessions.open(alice);
  expect(await store.sessions.find(s.id)).toBeUndefined();
  const hashed = await store.sessions.find(new Bun.CryptoHasher('sha256').update(s.id).digest('base64url'));
  expect(hashed?.operator).toBe('alice');
});

test('the cookie is HttpOnly and SameSite=Strict, Secure only over TLS; removal sets Max-Age=0', async () => {
  const s = await new Sessions(new MemorySessionRows(), credentials).open(alice);
  expect(sessionCookie(s, false)).toBe(`otaflux_session=${s.id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_MAX_MS / 1000}`);
  expect(sessionCookie(s, true)).toContain('; HttpOnly; SameSite=Strict; Secure;');
  expect(sessionCookie(undefined, false)).toBe('otaflux_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0');
  expect(cookieValue(`a=1; otaflux_session=${s.id}; b=2`, 'otaflux_session')).toBe(s.id);
});

test('CSRF tokens are per session and compared whole', async () => {
  const sessions = new Sessions(new MemorySessionRows(), credentials);
  const a = await sessions.open(alice);
  const b = await sessions.open(alice);
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
