// Dashboard sessions kept in the fleet store, over real sockets: a session survives a restart on the
// same SQLite file; sign-out ends it for good; a token removed from the config ends its sessions at
// the next start while the others go on; two replicas on one PostgreSQL know each other's sessions;
// with the store down or hung a page says so in a short 503, and the session works again once it is back.
import { expect, test } from 'bun:test';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { sharedPostgres, startPostgres } from '../support/postgres.ts';
import { tempDir } from '../support/tmp.ts';
import { hashToken, newToken } from '../../src/plugins/auth/token-hash.ts';
import { FleetStore } from '../../src/fleet/store.ts';
import { STORE_DEADLINE_MS } from '../../src/fleet/service.ts';
import { post, signIn, type Signed } from './sign-in.ts';

const ADMIN = 'admin-token-persistent-sessions-01';
const OTTO = newToken();
const OTTO_HASH = hashToken(OTTO);

/** A config file with the admin token and, when asked, otto's token. */
function config(withOtto: boolean): string {
  const fw = firmwareDir({ 'esp32-a': { '1.0.0.bin': 32 } });
  const file = join(tempDir('otaflux-persist-'), 'otaflux.config.ts');
  const operators = withOtto ? `operators: [{ name: 'otto', role: 'operator', token: ${JSON.stringify(OTTO_HASH)} }]` : '';
  writeFileSync(file, `import { defineConfig, dir } from 'otaflux';
export default defineConfig({ server: { adminToken: ${JSON.stringify(ADMIN)}, ${operators} }, defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }) } });
`);
  return file;
}

function start(configFile: string, flags: Record<string, string>): Promise<TestServer> {
  return startTestServer({ config: configFile, flags: { 'admin-on-device-port': false, ...flags } });
}

/** Who the fleet page says is signed in, or where the browser is sent instead. */
async function whoIs(s: TestServer, signed: Signed): Promise<string> {
  const r = await fetch(`${s.adminUrl}/ui/fleet`, { redirect: 'manual', headers: { cookie: signed.cookie } });
  if (r.status !== 200) return `${r.status} ${r.headers.get('location')}`;
  return /<span class="who"><span>([^<]+)<\/span>/.exec(await r.text())?.[1] ?? 'nobody';
}

test('a session survives a restart on the same store; after sign-out the cookie is refused', async () => {
  const flags = { 'cache-dir': tempDir('otaflux-persist-cache-') };
  const file = config(true);
  const first = await start(file, flags);
  const otto = await signIn(first.adminUrl as string, OTTO);
  expect(await whoIs(first, otto)).toBe('otto (operator)');
  await first.close();
  // A session that expired while the server was down is deleted at the next start.
  const db = `sqlite://${join(flags['cache-dir'], 'fleet.sqlite')}`;
  const offline = await FleetStore.open(db);
  const stale = { id_hash: 'stale', operator: 'otto', role: 'operator', shared: 0, credential: 'x', csrf: 'y', created_at: 1, last_used_at: 1, flash: null };
  await offline.sessions.insert(stale, { idle: 0, max: 0 }, 1000);
  expect(await offline.sessions.count()).toBe(2);
  await offline.close();

  const second = await start(file, flags);
  try {
    expect(await whoIs(second, otto)).toBe('otto (operator)');
    const reader = await FleetStore.open(db);
    expect(await reader.sessions.find('stale')).toBeUndefined();
    expect(await reader.sessions.count()).toBe(1);
    await reader.close();
    // A change with the session made before the restart (its CSRF token was kept too).
    const yank = await post(second.adminUrl as string, '/ui/releases/yank', otto, { stream: 'esp32-a', version: '9.9.9' });
    expect(yank.status).toBe(303);
    const out = await post(second.adminUrl as string, '/ui/logout', otto, {});
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
    expect(await whoIs(second, otto)).toBe('303 /ui/login');
    expect((await post(second.adminUrl as string, '/ui/releases/yank', otto, { stream: 'esp32-a', version: '9.9.8' })).status).toBe(401);
  } finally {
    await second.close();
  }
  // Signed out is signed out on the next start too.
  const third = await start(file, flags);
  try {
    expect(await whoIs(third, otto)).toBe('303 /ui/login');
  } finally {
    await third.close();
  }
}, 60_000);

test('an operator token removed from the config: its session no longer works after the restart, the others do', async () => {
  const flags = { 'cache-dir': tempDir('otaflux-persist-cache-') };
  const first = await start(config(true), flags);
  const otto = await signIn(first.adminUrl as string, OTTO);
  const admin = await signIn(first.adminUrl as string, ADMIN);
  await first.close();

  const second = await start(config(false), flags);
  try {
    expect(await whoIs(second, otto)).toBe('303 /ui/login');
    expect(await whoIs(second, admin)).toBe('admin (operator)');
    expect((await post(second.adminUrl as string, '/ui/releases/yank', otto, { stream: 'esp32-a', version: '9.9.9' })).status).toBe(401);
  } finally {
    await second.close();
  }
  // The refused session was deleted: putting the token back does not revive it.
  const third = await start(config(true), flags);
  try {
    expect(await whoIs(third, otto)).toBe('303 /ui/login');
  } finally {
    await third.close();
  }
}, 60_000);

test('two replicas on one PostgreSQL: signed in on one, known to the other; signed out on the other, refused on the first', async () => {
  const pg = await sharedPostgres();
  const url = await pg.createDatabase('dashboard_sessions');
  const file = config(true);
  const a = await start(file, { 'database-url': url });
  const b = await start(file, { 'database-url': url });
  try {
    const otto = await signIn(a.adminUrl as string, OTTO);
    expect(await whoIs(b, otto)).toBe('otto (operator)');
    expect((await post(b.adminUrl as string, '/ui/logout', otto, {})).status).toBe(303);
    expect(await whoIs(a, otto)).toBe('303 /ui/login');
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}, 60_000);

test('PostgreSQL down: a short 503 page, no stack trace; back up: the same session works again; hung: 503 after the deadline', async () => {
  const pg = await startPostgres();
  try {
    const server = await start(config(true), { 'database-url': pg.url });
    try {
      const otto = await signIn(server.adminUrl as string, OTTO);
      await pg.stop();
      const r = await fetch(`${server.adminUrl}/ui/audit`, { redirect: 'manual', headers: { cookie: otto.cookie } });
      expect(r.status).toBe(503);
      const body = await r.text();
      expect(body).toContain('The fleet store, where sessions are kept, does not answer: try again in a moment.');
      expect(body).not.toContain(' at ');
      expect((await post(server.adminUrl as string, '/ui/releases/yank', otto, { stream: 'esp32-a', version: '9.9.9' })).status).toBe(503);
      await pg.start();
      let who = '';
      for (let i = 0; i < 50 && who !== 'otto (operator)'; i++) {
        who = await whoIs(server, otto);
        if (who !== 'otto (operator)') await Bun.sleep(200);
      }
      expect(who).toBe('otto (operator)');
      // A hung server (nothing answers): the page gives up after STORE_DEADLINE_MS.
      await pg.freeze();
      const started = performance.now();
      const hung = await fetch(`${server.adminUrl}/ui/audit`, { redirect: 'manual', headers: { cookie: otto.cookie } });
      expect(hung.status).toBe(503);
      expect(performance.now() - started).toBeLessThan(STORE_DEADLINE_MS + 3000);
      await pg.thaw();
    } finally {
      await server.close();
    }
  } finally {
    await pg.close();
  }
}, 90_000);
