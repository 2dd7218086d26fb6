// One request shape: a front door's request becomes the contract's `DeviceRequest` in one place,
// with its id validated; authenticators and the fleet get that object; every device error after
// validation names the validated id (never the raw one); and any other failure takes one path to
// the documented 500 `Internal error`, logged, over real sockets.
import { afterEach, expect, test } from 'bun:test';
import { closeComposedServers, serve } from './composed-server.ts';
import { deviceCall, type RequestFacts } from '../../src/core/device-request.ts';
import { DeviceError } from '../../src/core/errors.ts';
import type { HttpRequestDone } from '../../src/core/events.ts';
import { PLUGIN_API_VERSION, UpstreamUnavailable, type AuthRequest, type AuthenticatorPlugin, type DeviceRequest, type SourcePlugin } from '../../src/public-api.ts';

afterEach(closeComposedServers);

const facts: RequestFacts = { method: 'GET', path: '/version', headers: {}, query: new URLSearchParams(), remoteAddress: '10.0.0.1' };
const statusOf = (f: () => unknown): number | string => {
  try {
    f();
    return 'ok';
  } catch (e) {
    return e instanceof DeviceError ? `${e.status} ${e.code}` : String(e);
  }
};

test('a request is made in one place, its id validated: missing and invalid ids are 400s, a valid one keeps the facts', () => {
  expect(statusOf(() => deviceCall(null, facts, { route: 'version' }, ''))).toBe('400 missing-device');
  expect(statusOf(() => deviceCall('Upper/../x', facts, { route: 'version' }, ''))).toBe('400 invalid-device');
  expect(statusOf(() => deviceCall('a'.repeat(250), facts, { route: 'version' }, 'p'.repeat(10)))).toBe('400 invalid-device');
  const call = deviceCall('esp32-a', facts, { route: 'firmware', protocol: 'arduino' }, '');
  expect(call).toEqual({ deviceId: 'esp32-a', method: 'GET', path: '/version', headers: {}, query: facts.query, remoteAddress: '10.0.0.1', route: 'firmware', protocol: 'arduino' });
  // The contract's request is what the call is: nothing but the validated id names the device.
  const asRequest: DeviceRequest = call;
  expect('device' in asRequest).toBe(false);
});

test('an authenticator gets the validated id, method, path, lower-cased headers and the connection; AuthRequest is the same type', async () => {
  const seen: DeviceRequest[] = [];
  const auth: AuthenticatorPlugin = {
    kind: 'authenticator', id: 'auth.seeing-test', apiVersion: PLUGIN_API_VERSION,
    authenticate: (req: AuthRequest) => (seen.push(req), { outcome: 'allow', identity: 'test:x' }),
  };
  const s = await serve({ auth: [auth] });
  expect((await fetch(`${s.url}/firmware?device=dev`, { method: 'HEAD', headers: { 'X-Device-Key': 'k1' } })).status).toBe(200);
  const [req] = seen;
  expect(req).toMatchObject({ deviceId: 'dev', method: 'HEAD', path: '/firmware', remoteAddress: '127.0.0.1' });
  expect(req?.headers['x-device-key']).toBe('k1');
  expect(req?.query.get('device')).toBe('dev');
  expect(req?.peerCertificate).toBeUndefined();
});

test('device errors name the validated id in the request log; an invalid id is never logged as a device', async () => {
  const down: SourcePlugin = {
    kind: 'source', id: 'source.down-test', apiVersion: PLUGIN_API_VERSION,
    versions: () => Promise.reject(new UpstreamUnavailable('registry unreachable')),
    resolve: () => Promise.reject(new Error('unused')),
  };
  const s = await serve({ source: down });
  const done: HttpRequestDone[] = [];
  s.runtime.events.on('http-request', (e) => done.push(e));
  expect((await fetch(`${s.url}/version?device=dev`)).status).toBe(503);
  expect((await fetch(`${s.url}/version?device=Bad%20Id`)).status).toBe(400);
  await Bun.sleep(20);
  expect(done.map((e) => [e.status, e.errorCode, e.device])).toEqual([[503, 'source-unavailable', 'dev'], [400, 'invalid-device', undefined]]);
});

test('an unexpected failure, thrown or rejected, is one documented 500 with one log line and no detail on the wire', async () => {
  const s = await serve({});
  const devices = s.runtime.devices;
  const release = devices.release.bind(devices);
  devices.release = (call) => {
    if (call.route === 'version') throw new TypeError('cannot read properties of undefined (reading /srv/internal)');
    return Promise.reject(new RangeError('offset out of range at /srv/internal'));
  };
  try {
    for (const route of ['version', 'firmware']) {
      const r = await fetch(`${s.url}/${route}?device=dev`);
      expect(r.status).toBe(500);
      expect(await r.text()).toBe('Internal error');
    }
  } finally {
    devices.release = release;
  }
  const logged = s.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'unexpected error in device API');
  expect(logged).toHaveLength(2);
  expect(String(logged[0]?.error)).toContain('TypeError: cannot read properties');
  expect(String(logged[1]?.error)).toContain('RangeError: offset out of range');
});

test('what an authenticator does to the request does not change the device admitted', async () => {
  const meddling: AuthenticatorPlugin = {
    kind: 'authenticator', id: 'auth.meddling-test', apiVersion: PLUGIN_API_VERSION,
    authenticate: (req) => ((req as { deviceId: string }).deviceId = 'someone-else', { outcome: 'allow', identity: 'test:m' }),
  };
  const s = await serve({ auth: [meddling] });
  const done: HttpRequestDone[] = [];
  s.runtime.events.on('http-request', (e) => done.push(e));
  expect((await fetch(`${s.url}/version?device=dev`)).status).toBe(200);
  await Bun.sleep(20);
  expect(done.map((e) => e.device)).toEqual(['dev']);
  expect(s.runtime.resolver.snapshot().map((e) => e.device)).toEqual(['dev']);
});
