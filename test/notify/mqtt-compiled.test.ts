/**
 * MQTT inside the compiled binary (`bun build --compile`, built by scripts/build.ts and shared
 * through test/build/binary.ts): the mqtt package's TLS and client-certificate path works there
 * too, and the process exits 0 on SIGTERM.
 */
import { afterAll, expect, test } from 'bun:test';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { compiledBinary, startBinary, type RunningBinary } from '../build/binary.ts';
import { startBroker, type TestBroker } from './mosquitto.ts';
import { makeCerts } from './certs.ts';
import { Subscriber } from './subscriber.ts';

let broker: TestBroker | undefined;
let running: RunningBinary | undefined;
let sub: Subscriber | undefined;
afterAll(async () => {
  await running?.stop();
  await sub?.stop();
  await broker?.stop();
});

test('the compiled binary publishes over TLS with a client certificate', async () => {
  const bin = await compiledBinary('linux-x64');
  const certs = makeCerts();
  broker = await startBroker({ tls: certs });
  const fw = firmwareDir({ 'esp32-c': { '4.1.0.bin': 1500 } });
  sub = new Subscriber({ port: broker.port, topic: 'compiled/#', tls: certs });
  running = await startBinary([
    bin.path, '--firmware-dir', fw.root, '--listen-addr', '127.0.0.1:0', '--metrics-listen-addr', '127.0.0.1:0', '--cache-dir', tempDir('otaflux-cache-'),
    '--mqtt-url', broker.url, '--mqtt-topic', 'compiled', '--mqtt-ca-cert-path', certs.ca, '--mqtt-client-cert-path', certs.clientCert, '--mqtt-client-key-path', certs.clientKey,
    '--log-format', 'json',
  ], { cwd: tempDir('otaflux-cwd-') });
  const res = await fetch(`${running.url}/version?device=esp32-c`);
  expect((await res.text()).split('\n')[0]).toBe('4.1.0');
  const m = await sub.waitFor((x) => x.topic === 'compiled/esp32-c');
  expect(JSON.parse(m.payload)).toMatchObject({ version: '4.1.0', size: 1500 });
  const code = await running.stop();
  running = undefined;
  expect(code).toBe(0);
}, 120_000);
