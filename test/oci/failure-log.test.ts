/**
 * A failing registry costs a bounded number of log lines: once per refresh interval per source
 * (and kind of failure), whatever the number of devices and however often they poll, with the
 * number of devices affected. Counted on a real server whose real registry is stopped, and on
 * FailureReports with a clock the test moves (1,000 devices, hours of failure).
 */
import { afterAll, expect, test } from 'bun:test';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { FailureReports, MIN_REPORT_INTERVAL_MS } from '../../src/core/failure-reports.ts';
import { NoFirmware, UpstreamUnavailable } from '../../src/core/errors.ts';
import { RegistryError } from '../../src/plugins/source/oci/errors.ts';
import { createLogger } from '../../src/log.ts';

let reg: TestRegistry;
const servers: TestServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await reg?.close();
});

const isFailureLine = (l: string) => (JSON.parse(l) as { msg: string }).msg.startsWith('refresh failed');

/** Polls every device every `everyMs` for `forMs`. */
async function pollAll(s: TestServer, devices: string[], forMs: number, everyMs: number): Promise<number[]> {
  const statuses: number[] = [];
  const until = Date.now() + forMs;
  while (Date.now() < until) {
    const round = devices.map(async (d) => { const r = await fetch(`${s.url}/version?device=${d}`); await r.arrayBuffer(); statuses.push(r.status); });
    await Promise.all(round);
    await Bun.sleep(everyMs);
  }
  return statuses;
}

test('registry down: one line per refresh interval for 30 devices, not one per device every 5 s', async () => {
  reg = await startRegistry();
  await reg.stop();
  const flags = { 'registry-url': reg.host, 'registry-insecure': true, 'repository-prefix': 'fw' };
  // 30 devices, refresh interval 5 s: before, every device logged its own line every 5 s (≈ 60 lines in 9 s).
  const many = await startTestServer({ flags: { ...flags, 'refresh-interval': 5 }, logLevel: 'info' });
  // One device, refresh interval 30 s: before, it logged every 5 s (the retry period of a failed lookup).
  const one = await startTestServer({ flags: { ...flags, 'refresh-interval': 30 }, logLevel: 'info' });
  servers.push(many, one);
  const devices = Array.from({ length: 30 }, (_, i) => `dev-${i}`);
  const [statuses] = await Promise.all([pollAll(many, devices, 9000, 300), pollAll(one, ['dev-x'], 9000, 300)]);
  expect(new Set(statuses)).toEqual(new Set([503]));

  const manyLines = many.logs.filter(isFailureLine).map((l) => JSON.parse(l) as Record<string, unknown>);
  // A failed lookup is retried 5 s later at the earliest, so lines come at 0 and after ≥ 5 s: two in 9 s
  // (three allowed for a slow machine), however many devices and polls.
  expect(manyLines.length).toBeGreaterThanOrEqual(2);
  expect(manyLines.length).toBeLessThanOrEqual(3);
  expect(manyLines[0]).toMatchObject({ level: 'warn', msg: 'refresh failed, nothing cached to serve', source: 'source.oci', devices: 1 });
  // The next line counts every device that failed since the first (all 30).
  expect(manyLines[1]!.devices).toBe(30);
  expect((manyLines[1]!.sample as string[]).length).toBe(5);
  expect(String(manyLines[1]!.error)).toContain('unreachable (ECONNREFUSED)');

  const oneLines = one.logs.filter(isFailureLine);
  expect(oneLines).toHaveLength(1);

  // The registry comes back: one line says so, and devices are served.
  await reg.start();
  await Bun.sleep(5100); // the 503 answers are remembered for up to the refresh interval (5 s)
  expect((await fetch(`${many.url}/version?device=dev-0`)).status).toBe(404); // nothing pushed: the registry answers
  expect(many.logs.filter((l) => JSON.parse(l).msg === 'source answers again').map((l) => JSON.parse(l).source)).toEqual(['source.oci']);
}, 60_000);

test('FailureReports: 1,000 devices failing for half an hour make one line per interval, each with the device count', () => {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'info', format: 'json', sink: { write: (l) => void lines.push(JSON.parse(l)) } });
  let now = 1_000_000;
  const reports = new FailureReports(logger, 60_000, () => now);
  const down = new UpstreamUnavailable('listing tags of r/fw/x: r unreachable (ECONNREFUSED)');
  // Every device retries every 10 s for half an hour.
  for (let t = 0; t < 1_800_000; t += 10_000) {
    now = 1_000_000 + t;
    for (let d = 0; d < 1000; d++) reports.failed({ device: `dev-${d}`, source: 'source.oci', error: down });
  }
  expect(lines).toHaveLength(30);
  expect(lines[0]).toMatchObject({ msg: 'refresh failed, nothing cached to serve', device: 'dev-0', devices: 1 });
  for (const l of lines.slice(1)) expect(l.devices).toBe(1000);
  expect(lines[29]!.failingForSeconds).toBe(1740);

  // Another kind of failure of the same source has its own line; so does another source.
  reports.failed({ device: 'dev-1', source: 'source.oci', error: new RegistryError('unauthorized', 'listing tags of r/fw/dev-1: 401 unauthorized', 401), servedVersion: '1.0.0' });
  reports.failed({ device: 'dev-2', source: 'source.other', error: down });
  reports.failed({ device: 'dev-3', source: 'source.oci', error: new NoFirmware('dev-3', 'repository fw/dev-3 does not exist on r', 'repository not found in the registry: check --repository-prefix') });
  expect(lines.slice(30).map((l) => [l.level, l.msg, l.source])).toEqual([
    ['warn', 'the registry refused the credentials: check --registry-username and --registry-password', 'source.oci'],
    ['warn', 'refresh failed, nothing cached to serve', 'source.other'],
    ['info', 'repository not found in the registry: check --repository-prefix', 'source.oci'],
  ]);
  expect(lines[30]!.version).toBe('1.0.0');

  // The source answers again: one line, and the next failure is logged at once.
  reports.answered('source.oci');
  expect(lines.filter((l) => l.msg === 'source answers again').map((l) => [l.source, l.failedForSeconds])).toEqual([['source.oci', 1790]]);
  now += 1000;
  reports.failed({ device: 'dev-9', source: 'source.oci', error: down });
  expect(lines.at(-1)).toMatchObject({ msg: 'refresh failed, nothing cached to serve', device: 'dev-9', devices: 1 });
  // A refresh interval of 0 still logs at most every 5 s.
  const fast = new FailureReports(logger, 0, () => now);
  const before = lines.length;
  for (let i = 0; i < 100; i++) { now += 100; fast.failed({ device: `d${i}`, source: 's', error: down }); }
  expect(lines.length - before).toBe(Math.ceil((100 * 100) / MIN_REPORT_INTERVAL_MS));
}, 30_000);
