// Gates and outcome rules that need time or explicit reports, over real sockets: a download never
// confirmed times out (and the timeouts pause the rollout), `X-Update-Result: failed` is a failure, and
// the per-minute download cap keeps new instances on the previous release.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { startTestServer, type TestServer } from '../support/server.ts';
import { api, download, fleetConfigFile, fleetFirmware, fleetOf, until, type SimInstance } from './fleet-sim.ts';

let server: TestServer;
const fw = fleetFirmware(['gate-a', 'gate-b', 'gate-c'], ['1.0.0', '1.1.0']);
beforeAll(async () => {
  server = await startTestServer({
    config: fleetConfigFile(fw.root, `{ refreshInterval: 0.2, rollouts: [
      { id: 'slow', streams: 'gate-a', version: '1.1.0', steps: [{ percent: 100, soak: 3600 }], gates: { minSample: 2, failurePercent: 60, timeout: 0.5 } },
      { id: 'failing', streams: 'gate-b', version: '1.1.0', steps: [{ percent: 100, soak: 3600 }], gates: { minSample: 2, failurePercent: 100 } },
      { id: 'capped', streams: 'gate-c', version: '1.1.0', steps: [{ percent: 100, soak: 3600 }], gates: { minSample: 1000, maxDownloadsPerMinute: 3 } },
    ] }`),
  });
});
afterAll(() => server?.close());

const rollout = async (id: string) => ((await (await api(server.url, 'GET', '/rollouts')).json()) as { id: string; state: string; reason?: string; counts: Record<string, number> }[]).find((r) => r.id === id);

test('downloads never confirmed time out, and the timeouts pause the rollout', async () => {
  const units = fleetOf(['gate-a'], 3).map((i) => ({ ...i, kind: 'current' as const }));
  for (const u of units) expect(await download(server.url, u)).toBe('1.1.0');
  // Nothing more is heard from them.
  const r = await until('the timeouts to pause the rollout', async () => {
    const x = await rollout('slow');
    return x?.state === 'paused' ? x : undefined;
  });
  expect(r.counts.timed_out).toBe(3);
  expect(r.reason).toContain('timed out');
});

test('X-Update-Result: failed counts as failed', async () => {
  const units = fleetOf(['gate-b'], 2).map((i) => ({ ...i, kind: 'header' as const }));
  for (const u of units) {
    expect(await download(server.url, u)).toBe('1.1.0');
    await until('downloaded', async () => (await rollout('failing'))?.counts.exposed === units.indexOf(u) + 1);
    await fetch(`${server.url}/version?device=gate-b`, { headers: { 'x-device-instance': u.id, 'x-firmware-version': '1.0.0', 'x-update-result': 'failed' } }).then((x) => x.text());
  }
  const r = await until('the failures to pause the rollout', async () => {
    const x = await rollout('failing');
    return x?.state === 'paused' ? x : undefined;
  });
  expect(r.counts.failed).toBe(2);
});

test('the per-minute cap: the first three new instances get the release, the next ones the previous one', async () => {
  const units: SimInstance[] = fleetOf(['gate-c'], 6);
  const got: string[] = [];
  for (const u of units) {
    const r = await fetch(`${server.url}/version?device=gate-c&instance=${u.id}`);
    got.push((await r.text()).split('\n')[0] as string);
  }
  // Unless the minute turned over between the polls, exactly three were let through.
  const through = got.filter((v) => v === '1.1.0').length;
  expect(through === 3 || (through > 3 && through <= 6)).toBe(true);
  expect(got.slice(0, 3)).toEqual(['1.1.0', '1.1.0', '1.1.0']);
  // An instance already offered the release keeps it.
  const again = await fetch(`${server.url}/version?device=gate-c&instance=${units[0]?.id}`).then((r) => r.text());
  expect(again.split('\n')[0]).toBe('1.1.0');
});
