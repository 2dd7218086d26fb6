/**
 * `--workers 2`: a primary and two worker processes on one port (SO_REUSEPORT), a real
 * docker-registry and a real Mosquitto. Both workers answer; the registry is asked once per device
 * per change (its access log counts `tags/list`); a release change is announced once on MQTT; a
 * webhook on either worker reaches both; a worker killed is started again; SIGTERM stops all.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { randomBytes } from 'node:crypto';
import { freePort } from '../support/ports.ts';
import { tempDir } from '../support/tmp.ts';
import { pushArtifact, startRegistry, type TestRegistry } from '../support/registry.ts';
import { startBroker, type TestBroker } from '../notify/mosquitto.ts';
import { until } from '../support/until.ts';
import { harborPush, pollFresh, registryRequests, startOtaFlux, type LogLine, type OtaFluxProcess } from './otaflux-process.ts';

const SECRET = 'workers-webhook-secret';
const DEVICE = 'esp32-w';
const REPO = `fw/${DEVICE}`;
let registry: TestRegistry;
let broker: TestBroker;
let otaflux: OtaFluxProcess;
let port: number;

const push = (version: string) => pushArtifact(registry, REPO, version, [{ name: 'firmware.bin', data: randomBytes(3000), mediaType: 'application/octet-stream' }]);
const served = (version: string) => (l: LogLine) => l.msg === 'release changed' && l.version === version;

beforeAll(async () => {
  registry = await startRegistry();
  broker = await startBroker();
  await push('1.0.0');
  port = await freePort();
  otaflux = startOtaFlux([
    '--workers', '2', '--listen-addr', `127.0.0.1:${port}`, '--metrics-listen-addr', `127.0.0.1:${await freePort()}`,
    '--registry-url', registry.host, '--registry-insecure', '--repository-prefix', 'fw',
    '--cache-dir', tempDir('otaflux-workers-cache-'), '--refresh-interval', '3600',
    '--mqtt-url', broker.url, '--mqtt-topic', 'fw', '--webhook-secret', SECRET,
  ]);
  for (const w of [0, 1]) await otaflux.waitFor((l) => l.msg === 'device API listening' && l.worker === w, 30_000, `worker ${w} listening`);
});

afterAll(async () => {
  await otaflux?.stop('SIGKILL');
  await broker?.stop();
  await registry?.close();
});

test('both workers answer on one port; the registry is polled once for the host; one MQTT notice', async () => {
  // Fresh connections until each worker has answered at least once (the kernel spreads them).
  for (let i = 0; i < 400 && new Set(otaflux.lines.filter((l) => l.msg === 'request' && l.route === '/version').map((l) => l.worker)).size < 2; i++) {
    const r = await pollFresh(port, DEVICE);
    expect(r.status).toBe(200);
    expect(r.body.split('\n')[0]).toBe('1.0.0');
  }
  expect(new Set(otaflux.lines.filter((l) => l.msg === 'request').map((l) => l.worker))).toEqual(new Set([0, 1]));
  // Both started on a new cache folder (one SQLite file created once): neither died on the way.
  expect(otaflux.count((l) => l.msg === 'worker died; starting it again')).toBe(0);
  // One metrics listener for the host: the first worker's.
  expect(otaflux.lines.filter((l) => l.msg === 'metrics listening').map((l) => l.worker)).toEqual([0]);
  // Both workers serve 1.0.0, and the registry was asked for the tags once.
  for (const w of [0, 1]) await otaflux.waitFor((l) => served('1.0.0')(l) && l.worker === w, 10_000, `worker ${w} serving 1.0.0`);
  expect(await registryRequests(registry, `/v2/${REPO}/tags/list`)).toBe(1);
  await until('the first MQTT notice', () => broker.publishes(`fw/${DEVICE}`) >= 1);
});

test('a webhook on one worker: one registry poll, both workers serve the new release, one more MQTT notice', async () => {
  await push('1.1.0');
  expect(await harborPush(`http://127.0.0.1:${port}`, SECRET, DEVICE)).toBe(202);
  for (const w of [0, 1]) await otaflux.waitFor((l) => served('1.1.0')(l) && l.worker === w, 20_000, `worker ${w} serving 1.1.0`);
  for (let i = 0; i < 20; i++) expect((await pollFresh(port, DEVICE)).body.split('\n')[0]).toBe('1.1.0');
  expect(await registryRequests(registry, `/v2/${REPO}/tags/list`)).toBe(2);
  await until('the second MQTT notice', () => broker.publishes(`fw/${DEVICE}`) >= 2);
});

test('a worker that dies is started again; SIGTERM stops every worker; exactly one notice per change', async () => {
  const victim = otaflux.lines.find((l) => l.msg === 'device API listening' && l.worker === 1)?.pid as number | undefined;
  const listening = () => otaflux.count((l) => l.msg === 'device API listening');
  const before = listening();
  const children = (await Bun.$`pgrep -P ${otaflux.pid}`.text()).trim().split('\n').map(Number);
  expect(children.length).toBe(2);
  process.kill(children[1] as number, 'SIGKILL');
  await otaflux.waitFor((l) => l.msg === 'worker died; starting it again', 10_000, 'the restart');
  await until('the new worker listening', () => listening() > before);
  for (let i = 0; i < 10; i++) expect((await pollFresh(port, DEVICE)).status).toBe(200);
  void victim;
  expect(await otaflux.stop('SIGTERM')).toBe(0);
  expect(otaflux.count((l) => l.msg === 'stopped')).toBe(2);
  // The broker received one PUBLISH per change: 1.0.0 and 1.1.0, from the leading worker only.
  expect(broker.publishes(`fw/${DEVICE}`)).toBe(2);
});

test('workers whose primary is killed (SIGKILL) stop by themselves, as on SIGTERM', async () => {
  const p = await freePort();
  const orphaned = startOtaFlux([
    '--workers', '2', '--listen-addr', `127.0.0.1:${p}`, '--metrics-listen-addr', '127.0.0.1:0',
    '--registry-url', registry.host, '--registry-insecure', '--repository-prefix', 'fw', '--cache-dir', tempDir('otaflux-workers-orphan-'),
  ]);
  for (const w of [0, 1]) await orphaned.waitFor((l) => l.msg === 'device API listening' && l.worker === w, 30_000, `worker ${w} listening`);
  const children = (await Bun.$`pgrep -P ${orphaned.pid}`.text()).trim().split('\n').map(Number);
  expect(children.length).toBe(2);
  await orphaned.stop('SIGKILL');
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  await until('the orphaned workers to stop', () => children.every((pid) => !alive(pid)), 15_000);
  expect(orphaned.count((l) => l.msg === 'shutting down: draining downloads in flight')).toBe(2);
});

