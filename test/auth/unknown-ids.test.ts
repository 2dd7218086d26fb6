// Made-up device ids cost a fixed amount of memory: 110 000 distinct ids, 100 000 matching a pattern
// with nothing published and 10 000 matching no configuration, polled over keep-alive connections from
// a few clients against the server as a child process. Its RSS (/proc/<pid>/status) stays under
// RSS_CEILING_MIB, every made-up id gets 404, and a real device is served within a second during
// and after the flood.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { flood, rssKiB, startChildServer, type ChildServer } from './flood.ts';

/**
 * The documented ceiling (README, "Device authentication"). Measured on a loaded 2-core VM: ≈ 60 MiB
 * at start, 94–120 MiB after 110 000 to 440 000 made-up ids (garbage the collector has not handed
 * back, not growth); this test before the bound: 62 → 183 MiB.
 */
const RSS_CEILING_MIB = 150;
const IDS = 110_000;

let server: ChildServer;
let fw: ReturnType<typeof firmwareDir>;

beforeAll(async () => {
  fw = firmwareDir({ 'esp32-known': { '1.0.0.bin': 1000 } });
  const dir = tempDir('otaflux-unknown-ids-');
  const config = join(dir, 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir } from 'otaflux';
export default defineConfig({ devices: { 'esp32-*': { source: dir({ root: ${JSON.stringify(fw.root)} }) } } });
`);
  server = await startChildServer(['--config', config]);
}, 60_000);
afterAll(() => server?.stop());

/** One poll of the real device, given up after a second. */
async function knownDevicePoll(): Promise<number> {
  const r = await fetch(`http://127.0.0.1:${server.port}/version?device=esp32-known`, { signal: AbortSignal.timeout(1000) });
  await r.text();
  return r.status;
}

test('110 000 made-up device ids: 404 each, RSS under the ceiling, a real device served within a second', async () => {
  expect(await knownDevicePoll()).toBe(200);
  const before = rssKiB(server.pid);
  const during: Promise<number>[] = [];
  const watcher = setInterval(() => during.push(knownDevicePoll().catch(() => 0)), 1000);
  // Every 11th id matches no configuration at all; the others match `esp32-*` with nothing published.
  const r = await flood(server.port, IDS, (i) => (i % 11 === 10 ? `zz-made-up-${i}` : `esp32-made-up-${i}`), { connections: 4, batch: 50, deadlineMs: 90_000 });
  clearInterval(watcher);
  await Bun.sleep(500);
  const after = rssKiB(server.pid);
  console.log(`made-up ids: ${r.sent} in ${Math.round(r.ms)} ms; RSS ${(before / 1024).toFixed(1)} → ${(after / 1024).toFixed(1)} MiB (ceiling ${RSS_CEILING_MIB})`);

  expect(r.sent).toBeGreaterThanOrEqual(IDS / 2);
  expect(r.statuses).toEqual({ 404: r.sent });
  expect(after / 1024).toBeLessThan(RSS_CEILING_MIB);
  expect(during.length).toBeGreaterThan(0);
  expect(await Promise.all(during)).toEqual(during.map(() => 200));
  expect(await knownDevicePoll()).toBe(200);
}, 180_000);
