/**
 * Shutting down with MQTT on never holds the process open: whether the broker is connected or
 * unreachable, the process exits right after `close()` (no reconnect timer or socket left; a
 * leftover 2 s grace timer was the bug this guards against).
 */
import { afterAll, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.ts';
import { freePort } from '../support/ports.ts';
import { startBroker, type TestBroker } from './mosquitto.ts';

const REPO = join(import.meta.dir, '../..');
let broker: TestBroker | undefined;
afterAll(async () => { await broker?.stop(); });

/** Runs a child Bun that starts OtaFlux with MQTT, waits `settleMs`, closes it and returns timings. */
async function closeAndExit(mqttUrl: string, settleMs: number): Promise<{ closeMs: number; exitAfterCloseMs: number; code: number }> {
  const dir = tempDir('otaflux-shutdown-');
  const script = join(dir, 'run.ts');
  writeFileSync(script, `
    import { startTestServer } from ${JSON.stringify(join(REPO, 'test/support/server.ts'))};
    const s = await startTestServer({ flags: { 'firmware-dir': ${JSON.stringify(dir)}, 'mqtt-url': ${JSON.stringify(mqttUrl)} } });
    await Bun.sleep(${settleMs});
    const t = performance.now();
    await s.close();
    console.log(JSON.stringify({ closeMs: performance.now() - t, connected: s.mqtt?.stats().connected }));
  `);
  const child = Bun.spawn([process.execPath, script], { cwd: REPO, stdout: 'pipe', stderr: 'pipe' });
  let closedAt = 0;
  let line = '';
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    line += decoder.decode(chunk);
    if (!closedAt && line.includes('\n')) closedAt = performance.now();
  }
  const code = await child.exited;
  const exitAfterCloseMs = performance.now() - (closedAt || performance.now());
  if (!line.trim()) throw new Error(`child printed nothing: ${await new Response(child.stderr).text()}`);
  return { ...(JSON.parse(line) as { closeMs: number }), exitAfterCloseMs, code };
}

test('connected to the broker: close() and exit are quick', async () => {
  broker = await startBroker();
  const r = await closeAndExit(broker.url, 400);
  expect(r.code).toBe(0);
  expect(r.closeMs).toBeLessThan(1500);
  expect(r.exitAfterCloseMs).toBeLessThan(1000);
}, 20_000);

test('broker unreachable (reconnecting): close() and exit are quick', async () => {
  const r = await closeAndExit(`mqtt://127.0.0.1:${await freePort()}`, 700);
  expect(r.code).toBe(0);
  expect(r.closeMs).toBeLessThan(1000);
  expect(r.exitAfterCloseMs).toBeLessThan(1000);
}, 20_000);
