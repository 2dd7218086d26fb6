// Readiness: /ready flips to 503 when the cache folder stops taking files (replaced by a file, which
// stops root too, unlike chmod), and back; a source that is down is fine only while every device it
// serves has a cached release.
import { afterEach, expect, test } from 'bun:test';
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { startTestServer, type TestServer } from '../support/server.ts';
import { memorySource, type MemorySource } from '../support/test-plugins.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { Composer, type Composition } from '../../src/core/composition.ts';
import { none } from '../../src/plugins/verifier/none.ts';
import { Readiness } from '../../src/ops/readiness.ts';

const servers: TestServer[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });

async function serve(source: MemorySource, named: string[] = []): Promise<TestServer> {
  const s = await startTestServer({
    flags: { 'firmware-dir': firmwareDir({ x: {} }).root, 'admin-token': 'readiness-token-1234' },
    edit(settings) {
      const comp: Composition = { source, verifier: none(), extract: 'auto', auth: 'none', allowPrerelease: false, options: {}, matchedBy: 'defaults' };
      settings.composer = new Composer(named.map((pattern) => ({ ...comp, matchedBy: pattern, pattern })), comp);
    },
  });
  servers.push(s);
  return s;
}

test('/ready flips to 503 while the cache folder cannot take files, and back', async () => {
  const s = await serve(memorySource({ '1.0.0': randomBytes(100) }));
  const ready = async () => {
    const r = await fetch(`${s.url}/ready`);
    return { status: r.status, body: (await r.json()) as { ready: boolean; checks: { name: string; ok: boolean; detail?: string }[] } };
  };
  const first = await ready();
  expect(first.status).toBe(200);
  expect(first.body.checks.map((c) => [c.name, c.ok])).toEqual([['config', true], ['cache', true], ['source source.memory-test', true]]);
  expect(first.body.checks[1]?.detail).toBeUndefined(); // details only behind the admin token

  const dir = s.settings.cache.dir;
  renameSync(dir, `${dir}.moved`);
  writeFileSync(dir, 'not a folder');
  const broken = await ready();
  expect(broken.status).toBe(503);
  expect(broken.body.ready).toBe(false);
  expect(broken.body.checks.find((c) => c.name === 'cache')?.ok).toBe(false);
  const detailed = await fetch(`${s.url}/api/ready`, { headers: { authorization: 'Bearer readiness-token-1234' } });
  expect(detailed.status).toBe(503);
  expect(JSON.stringify(await detailed.json())).toContain(`${dir} is not writable (ENOTDIR)`);

  Bun.spawnSync(['rm', '-f', dir]);
  renameSync(`${dir}.moved`, dir);
  expect((await ready()).status).toBe(200);
});

test('/ready fails while the cache folder is gone', async () => {
  const s = await serve(memorySource({ '1.0.0': randomBytes(100) }));
  const dir = s.settings.cache.dir;
  renameSync(dir, `${dir}.moved`);
  expect((await fetch(`${s.url}/ready`)).status).toBe(503);
  mkdirSync(dir);
  expect((await fetch(`${s.url}/ready`)).status).toBe(200);
});

test('a source that is down: not ready until its devices are served from the cache', async () => {
  const src = memorySource({ '1.0.0': randomBytes(100) });
  const s = await serve(src, ['dev-a']);
  const readiness = new Readiness(s.runtime, { probeTtlMs: 0 });
  const sourceCheck = async () => (await readiness.check()).checks.find((c) => c.name === 'source source.memory-test');

  src.down = true;
  expect(await sourceCheck()).toEqual({ name: 'source source.memory-test', ok: false, detail: 'unreachable (test registry is down) and nothing cached to serve' });
  expect((await readiness.check()).ready).toBe(false);

  src.down = false;
  expect((await sourceCheck())?.ok).toBe(true);
  expect((await fetch(`${s.url}/version?device=dev-a`)).status).toBe(200);

  src.down = true;
  expect(await sourceCheck()).toEqual({ name: 'source source.memory-test', ok: true, detail: 'unreachable (test registry is down); serving 1 device(s) from the cache' });
  expect((await readiness.check()).ready).toBe(true);
});
