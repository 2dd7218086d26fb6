// Fleet control under a cache bound: instances of one stream are offered two different releases at
// once (a pin holds one on the older version). With room for both, every answer is the right image;
// with room for one, the two evict each other and a device may be told to retry (503 + Retry-After),
// but whatever is served is the right, complete image.
import { afterEach, expect, test } from 'bun:test';
import { fleetConfigFile, fleetFirmware } from './fleet-sim.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/tmp.ts';

let server: TestServer | undefined;
const fw = fleetFirmware(['bound'], ['1.0.0', '1.1.0']);
afterEach(() => server?.close());

async function start(maxEntries: number): Promise<TestServer> {
  const config = fleetConfigFile(fw.root, `{ refreshInterval: 0.2, pins: [{ id: 'hold', stream: 'bound', instances: ['held-unit'], version: '1.0.0' }] }`, `cache: { maxEntries: ${maxEntries} },`);
  server = await startTestServer({ config, flags: { 'cache-dir': tempDir('otaflux-fleet-bound-') } });
  return server;
}

/** Each instance's /version and /firmware, four rounds: the statuses seen, and every 200 checked byte for byte. */
async function rounds(s: TestServer): Promise<string[]> {
  const statuses: string[] = [];
  for (let round = 0; round < 4; round++) {
    for (const [instance, version] of [['held-unit', '1.0.0'], ['free-unit', '1.1.0']] as const) {
      const v = await fetch(`${s.url}/version?device=bound&instance=${instance}`);
      const text = await v.text();
      if (v.status === 200) expect(text.split('\n')[0]).toBe(version);
      const f = await fetch(`${s.url}/firmware?device=bound&instance=${instance}`);
      const body = Buffer.from(await f.arrayBuffer());
      if (f.status === 200) expect(body.equals(fw.bytes('bound', version))).toBe(true);
      else expect(f.headers.get('retry-after')).not.toBeNull();
      statuses.push(`${v.status} ${f.status}`);
    }
  }
  return statuses;
}

test('room for both releases: each instance gets its own image, byte-exact, every time', async () => {
  expect(new Set(await rounds(await start(2)))).toEqual(new Set(['200 200']));
}, 60_000);

test('room for one: the releases evict each other; a device may be told to retry, never given the wrong bytes', async () => {
  const statuses = await rounds(await start(1));
  expect(statuses.every((x) => /^(200|503) (200|503)$/.test(x))).toBe(true);
  expect(statuses.some((x) => x.endsWith(' 200'))).toBe(true);
}, 60_000);
