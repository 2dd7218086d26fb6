// What a made-up device id leaves behind, in process: the resolver keeps answers without a release
// in a bounded LRU (10 000), apart from the releases of real devices; the device tracker makes no
// entry for a failure of an id it never served; the status API still explains such an answer.
import { afterEach, expect, test } from 'bun:test';
import { randomBytes } from 'node:crypto';
import { startTestServer, type TestServer } from '../support/server.ts';
import { memorySource, type MemorySource } from '../support/test-plugins.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { Composer, type Composition } from '../../src/core/composition.ts';
import { none } from '../../src/plugins/verifier/none.ts';
import { DeviceError } from '../../src/core/errors.ts';

const servers: TestServer[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });

const facts = { method: 'GET', path: '/version', headers: {}, query: new URLSearchParams(), remoteAddress: '127.0.0.1' };

/** Status (or 200) of one poll through the device service, without HTTP. */
async function poll(s: TestServer, device: string): Promise<number> {
  try {
    await s.runtime.devices.release(s.runtime.devices.call(device, facts, { route: 'version' }));
    return 200;
  } catch (e) {
    return e instanceof DeviceError ? e.status : 500;
  }
}

test('answers without a release are kept at most 10 000; releases of real devices are kept apart', async () => {
  const fw = firmwareDir({ 'real-1': { '1.0.0.bin': 100 } });
  const s = await startTestServer({ flags: { 'firmware-dir': fw.root } });
  servers.push(s);
  expect(await poll(s, 'real-1')).toBe(200);
  for (let i = 0; i < 10_500; i++) expect(await poll(s, `made-up-${i}`)).toBe(404);
  const snapshot = s.runtime.resolver.snapshot();
  expect(snapshot.length).toBe(10_001);
  expect(snapshot.find((e) => e.device === 'real-1')?.release?.version).toBe('1.0.0');
  // The oldest made-up ids were dropped, the newest are remembered with their answer.
  expect(snapshot.some((e) => e.device === 'made-up-0')).toBe(false);
  expect(snapshot.find((e) => e.device === 'made-up-10499')?.error).toBe("no firmware for device 'made-up-10499'");
  // Over HTTP, the remembered negative answer is the same 404 body.
  const r = await fetch(`${s.url}/version?device=made-up-10499`);
  expect(r.status).toBe(404);
  expect(await r.text()).toBe("No firmware for device 'made-up-10499'");
}, 60_000);

test('a source failure for ids never served leaves no tracker entry; a served device keeps its failure', async () => {
  const src: MemorySource = memorySource({ '1.0.0': randomBytes(100) });
  const s = await startTestServer({
    flags: { 'firmware-dir': firmwareDir({ x: {} }).root, 'refresh-interval': 0 },
    edit(settings) {
      const comp: Composition = { source: src, verifier: none(), extract: 'auto', auth: 'none', allowPrerelease: false, options: {}, matchedBy: 'defaults' };
      settings.composer = new Composer([], comp);
    },
  });
  servers.push(s);
  expect((await fetch(`${s.url}/version?device=real-1`)).status).toBe(200);
  src.down = true;
  for (let i = 0; i < 20; i++) expect((await fetch(`${s.url}/version?device=made-up-${i}`)).status).toBe(503);
  expect((await fetch(`${s.url}/version?device=real-1`)).status).toBe(200); // the last good release
  const tracked = s.runtime.tracker.all().map((a) => a.device);
  expect(tracked).toEqual(['real-1']);
  expect(s.runtime.tracker.get('real-1')?.lastRefreshFailure?.stale).toBe(true);
  // The resolver still says why a made-up id got 503, for the status API.
  expect(s.runtime.resolver.snapshot().find((e) => e.device === 'made-up-3')?.error).toContain('test registry is down');
}, 60_000);
