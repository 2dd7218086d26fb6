// MQTT notices under a staged rollout: the notice is per stream (retained on {topic}/{stream}), so a
// release under a rollout is announced only once the rollout reaches 100 %; a release without a
// rollout is announced at once, as before. Real Mosquitto broker, real mosquitto_sub.
import { afterAll, expect, test } from 'bun:test';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startBroker, type TestBroker } from '../notify/mosquitto.ts';
import { Subscriber } from '../notify/subscriber.ts';
import { api, fleetConfigFile, fleetFirmware } from './fleet-sim.ts';

let server: TestServer | undefined;
let broker: TestBroker | undefined;
let sub: Subscriber | undefined;
afterAll(async () => {
  await server?.close();
  await sub?.stop();
  await broker?.stop();
});

test('a release under a rollout is announced when the rollout reaches 100 %, not before', async () => {
  broker = await startBroker({});
  sub = new Subscriber({ port: broker.port, topic: 'fw/#' });
  const fw = fleetFirmware(['mq-a'], ['1.0.0']);
  server = await startTestServer({ config: fleetConfigFile(fw.root, '{ refreshInterval: 0.2 }'), flags: { 'refresh-interval': 1, 'mqtt-url': broker.url, 'mqtt-topic': 'fw' } });
  const poll = () => fetch(`${server?.url}/version?device=mq-a&instance=unit-1`).then((r) => r.text());
  await poll();
  await sub.waitFor((m) => m.topic === 'fw/mq-a' && m.payload.includes('"1.0.0"'));

  expect((await api(server.url, 'POST', '/rollouts', { id: 'mq-r', streams: 'mq-a', version: '1.1.0', steps: [{ percent: 50, soak: 3600 }, { percent: 100, soak: 3600 }], gates: { minSample: 1000 } })).status).toBe(201);
  fw.publish('mq-a', '1.1.0');
  await Bun.sleep(1100);
  await poll(); // the resolver finds 1.1.0: the notice is held
  await Bun.sleep(1000); // several reloads of the rollout state: still at 50 %
  expect(sub.messages.filter((m) => m.payload.includes('"1.1.0"'))).toEqual([]);

  expect((await api(server.url, 'POST', '/rollouts/mq-r/advance')).status).toBe(200); // 100 %
  const notice = await sub.waitFor((m) => m.topic === 'fw/mq-a' && m.payload.includes('"1.1.0"'));
  expect(notice.retained).toBe(false); // live delivery of a retained publish
}, 60_000);
