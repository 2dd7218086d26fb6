// The poll path stays promise-free with fleet control on: once a stream's releases are known, the
// decision and the check-in are synchronous, with and without a rollout on the stream.
import { afterAll, expect, test } from 'bun:test';
import { resolveSettings } from '../../src/config/settings.ts';
import { startRuntime, type Runtime } from '../../src/runtime.ts';
import { createLogger } from '../../src/log.ts';
import { tempDir } from '../support/tmp.ts';
import { fleetConfigFile, fleetFirmware } from './fleet-sim.ts';

let rt: Runtime | undefined;
afterAll(() => rt?.close());

test('after the first poll, /version decisions come back without a promise', async () => {
  const fw = fleetFirmware(['plain-a', 'staged-a'], ['1.0.0', '1.1.0']);
  const config = fleetConfigFile(fw.root, `{ rollouts: [{ id: 'st', streams: 'staged-a', version: '1.1.0', steps: [{ percent: 50 }] }] }`);
  rt = await startRuntime(await resolveSettings({ config, 'cache-dir': tempDir() }), createLogger({ level: 'off' }));
  const q = (device: string, instance: string) => (rt as Runtime).devices.call(device, { method: 'GET', path: '/version', headers: {}, query: new URLSearchParams(`device=${device}&instance=${instance}`), remoteAddress: '10.0.0.7' }, { route: 'version' });
  for (const device of ['plain-a', 'staged-a']) {
    const first = rt.devices.release(q(device, 'u-0'));
    expect(first).toBeInstanceOf(Promise);
    await first;
    for (let i = 0; i < 50; i++) {
      const r = rt.devices.release(q(device, `u-${i}`));
      expect(r).not.toBeInstanceOf(Promise);
    }
  }
  // And the staged stream really decided per instance: both releases are being offered.
  const versions = new Set(Array.from({ length: 50 }, (_, i) => (rt?.devices.release(q('staged-a', `u-${i}`)) as { version: string }).version));
  expect(versions).toEqual(new Set(['1.0.0', '1.1.0']));
});
