/** `otaflux plugin init auth`: the authenticator plugin and its test. */
import type { Body } from './body.ts';

export const authenticatorBody = (id: string, fn: string): Body => ({
  plugin: `/**
 * ${id}: a per-device key in a request header (replace with your own credentials). Skips a request
 * without the header, so other authenticators may decide; never logs the key.
 */
import { PLUGIN_API_VERSION, type AuthDecision, type DeviceRequest, type AuthenticatorPlugin } from 'otaflux';

export function ${fn}(options: { header?: string; keys: Record<string, string> }): AuthenticatorPlugin {
if (!options || typeof options.keys !== 'object') throw new TypeError("${fn}(): pass keys: { 'esp32-demo': '<key>' }");
const header = (options.header ?? 'x-device-key').toLowerCase();
return {
  kind: 'authenticator',
  id: '${id}',
  apiVersion: PLUGIN_API_VERSION,
  authenticate(req: DeviceRequest): AuthDecision {
    const presented = req.headers[header];
    if (presented === undefined) return { outcome: 'skip' };
    if (options.keys[req.deviceId] === presented) return { outcome: 'allow', identity: \`key:\${req.deviceId}\` };
    const owner = Object.entries(options.keys).find(([, k]) => k === presented)?.[0];
    return owner ? { outcome: 'deny', status: 403, reason: 'key of another device' } : { outcome: 'deny', status: 401, reason: 'unknown key' };
  },
};
}
`,
  test: `import { expect, test } from 'bun:test';
import { checkPlugin, fakeRequest, runAuthenticator } from 'otaflux/testing';
import { ${fn} } from 'FILE';

const plugin = () => ${fn}({ keys: { a: 'key-a', b: 'key-b' } });

test('passes the checks OtaFlux runs at load', () => {
expect(checkPlugin(plugin()).id).toBe('${id}');
});

test('allows the device\\'s key, refuses others, skips a request without one', async () => {
expect((await runAuthenticator(plugin(), fakeRequest('a', { headers: { 'X-Device-Key': 'key-a' } }))).decision).toEqual({ outcome: 'allow', identity: 'key:a' });
expect((await runAuthenticator(plugin(), fakeRequest('a', { headers: { 'x-device-key': 'key-b' } }))).decision).toMatchObject({ outcome: 'deny', status: 403 });
expect((await runAuthenticator(plugin(), fakeRequest('a', { headers: { 'x-device-key': 'nope' } }))).decision).toMatchObject({ outcome: 'deny', status: 401 });
expect((await runAuthenticator(plugin(), fakeRequest('a'))).decision).toEqual({ outcome: 'skip' });
});
`,
  use: `defaults: { auth: ${fn}({ keys: { 'esp32-demo': process.env.ESP32_DEMO_KEY ?? '' } }) },`,
});
