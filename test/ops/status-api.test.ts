// The operator API: Bearer admin token (401 without or with a wrong one, 404 when no token is
// configured), devices seen, releases in the cache, and why a version was chosen or refused.
import { afterEach, expect, test } from 'bun:test';
import { randomBytes } from 'node:crypto';
import { startTestServer, type TestServer } from '../support/server.ts';
import { memorySource, allowListVerifier } from '../support/test-plugins.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { Composer, type Composition } from '../../src/core/composition.ts';
import { sha256Digest } from '../../src/core/hashing.ts';

const servers: TestServer[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });

const TOKEN = 'status-api-admin-token-0b7c';
const good = randomBytes(4096);
const unsigned = randomBytes(512);

async function serve(token?: string): Promise<TestServer> {
  const s = await startTestServer({
    flags: { 'firmware-dir': firmwareDir({ x: {} }).root, ...(token ? { 'admin-token': token } : {}) },
    edit(settings) {
      const comp: Composition = {
        source: memorySource({ '1.0.0': good, '1.1.0': unsigned }), verifier: allowListVerifier(new Set([sha256Digest(good)])),
        extract: 'auto', auth: 'none', allowPrerelease: false, options: {}, matchedBy: 'esp32-*',
      };
      settings.composer = new Composer([{ ...comp, pattern: 'esp32-*' }]);
    },
  });
  servers.push(s);
  return s;
}

const api = (s: TestServer, path: string, auth?: string) => fetch(`${s.url}/api${path}`, auth ? { headers: { authorization: auth } } : {});

test('without a configured token the operator API does not exist', async () => {
  const s = await serve();
  expect((await api(s, '/devices')).status).toBe(404);
  expect((await api(s, '/devices', 'Bearer anything')).status).toBe(404);
});

test('401 without a token, with a wrong one, or with the wrong scheme', async () => {
  const s = await serve(TOKEN);
  for (const auth of [undefined, 'Bearer wrong-token', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`, TOKEN, 'Bearer ']) {
    for (const path of ['/status', '/devices', '/devices/esp32-a', '/releases', '/ready']) {
      const r = await api(s, path, auth);
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe('Bearer realm="otaflux-admin"');
      expect(await r.text()).not.toContain('esp32');
    }
  }
  expect((await api(s, '/status', `Bearer ${TOKEN}`)).status).toBe(200);
});

test('devices, releases and the reasons behind a choice', async () => {
  const s = await serve(TOKEN);
  const auth = `Bearer ${TOKEN}`;
  expect((await fetch(`${s.url}/version?device=esp32-a`)).status).toBe(200);
  expect((await fetch(`${s.url}/firmware?device=esp32-a`)).status).toBe(200);
  expect((await fetch(`${s.url}/version?device=other`)).status).toBe(404);

  const devices = (await (await api(s, '/devices', auth)).json()) as Record<string, unknown>[];
  const a = devices.find((d) => d.device === 'esp32-a') as Record<string, unknown>;
  expect(a).toMatchObject({ device: 'esp32-a', polls: 2, version: '1.0.0', sourceDigest: sha256Digest(good), stale: false });
  expect(Date.now() - Date.parse(a.lastSeen as string)).toBeLessThan(60_000);

  const detail = (await (await api(s, '/devices/esp32-a', auth)).json()) as {
    composition: Record<string, unknown>; resolved: { release: { version: string } }; why: string[]; activity: { rejections: { version: string; reason: string }[] };
  };
  expect(detail.composition).toEqual({ matchedBy: 'esp32-*', source: 'source.memory-test', verifier: 'verifier.allow-list-test', extract: 'auto', auth: 'none', allowPrerelease: false });
  expect(detail.resolved.release.version).toBe('1.0.0');
  expect(detail.activity.rejections).toMatchObject([{ version: '1.1.0', reason: 'unsigned' }]);
  expect(detail.why[0]).toBe(`version 1.1.0 (${sha256Digest(unsigned)}) refused by verifier.allow-list-test: unsigned`);
  expect(detail.why[1]).toStartWith('serving 1.0.0: the newest version allow-list accepted');

  const other = (await (await api(s, '/devices/other', auth)).json()) as { composition: unknown; why: string[] };
  expect(other.composition).toBeNull();
  expect(other.why).toContain('no composition in the config serves this device id');
  const unseen = (await (await api(s, '/devices/esp32-never-seen', auth)).json()) as { composition: { matchedBy: string }; resolved: unknown; why: string[] };
  expect(unseen.composition.matchedBy).toBe('esp32-*');
  expect(unseen.resolved).toBeNull();
  expect(unseen.why).toEqual(['not resolved yet: no poll since start']);

  const releases = (await (await api(s, '/releases', auth)).json()) as Record<string, unknown>[];
  expect(releases).toHaveLength(1);
  expect(releases[0]).toMatchObject({ device: 'esp32-a', version: '1.0.0', sha256: sha256Digest(good).slice(7), size: 4096, cached: true });

  const status = (await (await api(s, '/status', auth)).json()) as { devicesSeen: number; cache: { entries: number; bytes: number } };
  expect(status.devicesSeen).toBe(1);
  expect(status.cache).toMatchObject({ entries: 1, bytes: 4096 });
});

test('OpenAPI spec lists the operator routes with the bearer scheme', async () => {
  const s = await serve(TOKEN);
  const spec = (await (await fetch(`${s.url}/docs/json`)).json()) as { paths: Record<string, { get?: { security?: unknown } }>; components: { securitySchemes: Record<string, unknown> } };
  for (const p of ['/version', '/firmware', '/health', '/ready', '/api/devices', '/api/releases']) expect(Object.keys(spec.paths)).toContain(p);
  expect(spec.paths['/api/devices']?.get?.security).toEqual([{ adminToken: [] }]);
  expect(spec.components.securitySchemes.adminToken).toMatchObject({ type: 'http', scheme: 'bearer' });
  const page = await (await fetch(`${s.url}/docs`)).text();
  expect(page).not.toMatch(/https?:\/\//); // no CDN: every asset is local
  expect(page).toContain('/docs/assets/swagger-ui-bundle.js');
  const js = await fetch(`${s.url}/docs/assets/swagger-ui-bundle.js`);
  expect(js.status).toBe(200);
  expect((await js.text()).length).toBeGreaterThan(500_000);
  expect((await fetch(`${s.url}/docs/assets/../../package.json`)).status).toBe(404);
});
