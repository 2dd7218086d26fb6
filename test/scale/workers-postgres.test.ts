/**
 * Workers and replicas combined: `--workers 2` on a PostgreSQL state store (a real server, a real
 * docker-registry and a real Mosquitto). The lock elects one of the workers; the host asks the
 * registry once per change, and the broker gets one notice per change; the leading worker killed,
 * the other leads within the failover bound.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../support/ports.ts';
import { tempDir } from '../support/tmp.ts';
import { sharedPostgres } from '../support/postgres.ts';
import { pushArtifact, startRegistry, type TestRegistry } from '../support/registry.ts';
import { startBroker, type TestBroker } from '../notify/mosquitto.ts';
import { until } from '../support/until.ts';
import { harborPush, pollFresh, registryRequests, startOtaFlux, type LogLine, type OtaFluxProcess } from './otaflux-process.ts';

const SECRET = 'workers-pg-webhook-secret';
const DEVICE = 'esp32-wp';
const REPO = `fw/${DEVICE}`;
const LEADS = 'this process leads: rollout gates and MQTT notices run here';
let registry: TestRegistry;
let broker: TestBroker;
let otaflux: OtaFluxProcess;
let port: number;

const push = (version: string) => pushArtifact(registry, REPO, version, [{ name: 'firmware.bin', data: randomBytes(3000), mediaType: 'application/octet-stream' }]);
/** Workers whose latest leadership line says they lead. */
const leading = () => [0, 1].filter((w) => otaflux.lines.filter((l: LogLine) => l.worker === w && (l.msg === LEADS || l.msg === 'this process no longer leads')).at(-1)?.msg === LEADS);


beforeAll(async () => {
  let db: string;
  [registry, broker, db] = await Promise.all([startRegistry(), startBroker(), sharedPostgres().then((pg) => pg.createDatabase('scale_workers_pg'))]);
  await push('1.0.0');
  port = await freePort();
  const config = join(tempDir('otaflux-workers-pg-config-'), 'otaflux.config.ts');
  writeFileSync(config, `export default { fleet: { refreshInterval: 0.5 } };\n`);
  otaflux = startOtaFlux([
    '--config', config, '--workers', '2', '--database-url', db, '--listen-addr', `127.0.0.1:${port}`, '--metrics-listen-addr', '127.0.0.1:0',
    '--registry-url', registry.host, '--registry-insecure', '--repository-prefix', 'fw', '--log-level', 'info',
    '--cache-dir', tempDir('otaflux-workers-pg-cache-'), '--refresh-interval', '3600',
    '--mqtt-url', broker.url, '--mqtt-topic', 'fw', '--webhook-secret', SECRET,
  ]);
  for (const w of [0, 1]) await otaflux.waitFor((l) => l.msg === 'device API listening' && l.worker === w, 45_000, `worker ${w} listening`);
}, 90_000);

afterAll(async () => {
  await otaflux?.stop('SIGKILL');
  await broker?.stop();
  await registry?.close();
});

test('one worker leads; one registry lookup and one notice per change for the host; the leader killed, the other leads', async () => {
  await until('one leader', () => leading().length === 1);
  for (let i = 0; i < 20; i++) expect((await pollFresh(port, DEVICE)).body.split('\n')[0]).toBe('1.0.0');
  await until('the first notice', () => broker.publishes(`fw/${DEVICE}`) >= 1);

  await push('1.1.0');
  expect(await harborPush(`http://127.0.0.1:${port}`, SECRET, DEVICE)).toBe(202);
  await until('both workers serving 1.1.0', async () => {
    for (let i = 0; i < 10; i++) if ((await pollFresh(port, DEVICE)).body.split('\n')[0] !== '1.1.0') return false;
    return true;
  });
  await until('the second notice', () => broker.publishes(`fw/${DEVICE}`) >= 2);
  await Bun.sleep(2000);
  expect(broker.publishes(`fw/${DEVICE}`)).toBe(2);
  expect(await registryRequests(registry, `/v2/${REPO}/tags/list`)).toBe(2);

  const [leader] = leading();
  const victim = otaflux.lines.findLast((l) => l.worker === leader && l.msg === LEADS)?.pid as number;
  expect((await Bun.$`pgrep -P ${otaflux.pid}`.text()).trim().split('\n').map(Number)).toContain(victim);
  process.kill(victim, 'SIGKILL');
  const other = leader === 0 ? 1 : 0;
  await until('the other worker to lead', () => leading().includes(other), 5000);
}, 60_000);
