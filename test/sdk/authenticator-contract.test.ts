// Authenticators and plugin faults over real sockets: an authenticator sees the method and path,
// sets its own WWW-Authenticate challenge, every refusal's log line names the plugin that decided,
// and a plugin that throws gets its documented status (authenticator: 503 with Retry-After;
// verifier: 502) and a log line naming it, never a stack trace on the wire.
import { afterEach, expect, test } from 'bun:test';
import type { TestServer } from '../support/server.ts';
import { closeComposedServers, serve } from './composed-server.ts';
import { PLUGIN_API_VERSION, token, type AuthDecision, type AuthRequest, type AuthenticatorPlugin, type VerifierPlugin } from '../../src/public-api.ts';
import { hashToken } from '../../src/plugins/auth/token-hash.ts';

afterEach(closeComposedServers);

function authenticator(id: string, decide: (req: AuthRequest) => AuthDecision | Promise<AuthDecision>, challenge?: string): AuthenticatorPlugin & { seen: AuthRequest[] } {
  const seen: AuthRequest[] = [];
  return { kind: 'authenticator', id, apiVersion: PLUGIN_API_VERSION, seen, ...(challenge ? { challenge } : {}), authenticate: (req) => { seen.push(req); return decide(req); } };
}

const lines = (s: TestServer, msg: string) => s.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === msg);

test('an authenticator sees the method and the path of the request', async () => {
  const a = authenticator('auth.seeing-test', () => ({ outcome: 'allow', identity: 'test:x' }));
  const s = await serve({ auth: [a] });
  expect((await fetch(`${s.url}/version?device=dev`)).status).toBe(200);
  expect((await fetch(`${s.url}/firmware?device=dev`, { method: 'HEAD' })).status).toBe(200);
  expect(a.seen.map((r) => `${r.method} ${r.path} ${r.deviceId}`)).toEqual(['GET /version dev', 'HEAD /firmware dev']);
});

test('a 401 carries the challenge of the authenticator that refused, or of all when none had credentials', async () => {
  const hmac = authenticator('auth.hmac-test', (req) => (req.headers.authorization?.startsWith('HMAC ')
    ? { outcome: 'deny', status: 401, reason: 'bad signature', challenge: 'HMAC realm="acme", error="invalid_signature"' }
    : { outcome: 'skip' }), 'HMAC realm="acme"');
  const quiet = authenticator('auth.quiet-test', () => ({ outcome: 'skip' }), 'Basic realm="gateway"');
  const s = await serve({ auth: [hmac, quiet] });
  const none = await fetch(`${s.url}/version?device=dev`);
  expect(none.status).toBe(401);
  expect(none.headers.get('www-authenticate')).toBe('HMAC realm="acme", Basic realm="gateway"');
  const wrong = await fetch(`${s.url}/version?device=dev`, { headers: { authorization: 'HMAC nope' } });
  expect(wrong.status).toBe(401);
  expect(wrong.headers.get('www-authenticate')).toBe('HMAC realm="acme", error="invalid_signature"');
  expect(await wrong.text()).toBe('Unauthorized');
  const refusals = lines(s, 'device authentication failed');
  expect(refusals.map((l) => l.plugin)).toEqual(['auth.hmac-test, auth.quiet-test', 'auth.hmac-test']);
  expect(refusals[1]).toMatchObject({ device: 'dev', status: 401, reason: 'bad signature' });
});

test("without a challenge of its own, a 401 keeps OtaFlux's Bearer challenge; token refusals name auth.token", async () => {
  const secret = 'a'.repeat(43);
  const s = await serve({ auth: [token({ devices: { dev: hashToken(secret) } })] });
  const r = await fetch(`${s.url}/version?device=dev`, { headers: { authorization: 'Bearer wrong-token-wrong-token-wrong-token-xx' } });
  expect(r.status).toBe(401);
  expect(r.headers.get('www-authenticate')).toBe('Bearer realm="otaflux"');
  expect(lines(s, 'device authentication failed')[0]).toMatchObject({ plugin: 'auth.token', device: 'dev', status: 401 });
  expect((await fetch(`${s.url}/version?device=dev`, { headers: { authorization: `Bearer ${secret}` } })).status).toBe(200);
});

test('every auth-failed event names the plugin that decided, the rate-limited ones too', async () => {
  const refuse = authenticator('auth.refusing-test', () => ({ outcome: 'deny', status: 403, reason: 'not yours', presented: 'key:7' }));
  const s = await serve({ auth: [refuse] });
  const events: { stage: string; status?: number; plugin?: string }[] = [];
  s.runtime.events.on('auth-failed', (e) => events.push({ stage: e.stage, ...(e.status ? { status: e.status } : {}), ...(e.plugin ? { plugin: e.plugin } : {}) }));
  const statuses: number[] = [];
  for (let i = 0; i < 11; i++) statuses.push((await fetch(`${s.url}/version?device=dev`)).status);
  expect(statuses).toEqual([...Array(10).fill(403), 429]);
  expect(events).toHaveLength(11);
  expect(events[0]).toEqual({ stage: 'request', status: 403, plugin: 'auth.refusing-test' });
  expect(events[10]).toEqual({ stage: 'rate-limited', status: 429, plugin: 'auth.refusing-test' });
});

for (const how of ['throws', 'rejects', 'answers outside the contract'] as const) {
  test(`an authenticator that ${how}: 503 with Retry-After, a log line naming it, nothing else on the wire`, async () => {
    const broken = authenticator('auth.broken-test', (): AuthDecision | Promise<AuthDecision> => {
      if (how === 'throws') throw new Error('directory unreachable at /internal/path');
      if (how === 'rejects') return Promise.reject(new Error('directory unreachable at /internal/path'));
      return { outcome: 'maybe' } as unknown as AuthDecision;
    });
    const s = await serve({ auth: [broken] });
    const r = await fetch(`${s.url}/version?device=dev`);
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('30');
    expect(await r.text()).toBe('Authentication unavailable, retry later');
    const logged = lines(s, 'authenticator failed');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ plugin: 'auth.broken-test', device: 'dev' });
    expect(String(logged[0]?.error)).toMatch(how === 'answers outside the contract' ? /expected allow with an identity/ : /directory unreachable/);
  });
}

test('a verifier that throws: 502 for the device and a log line naming the verifier', async () => {
  const verifier: VerifierPlugin = { kind: 'verifier', id: 'verifier.broken-test', apiVersion: PLUGIN_API_VERSION, verify: () => Promise.reject(new TypeError('cannot read properties of undefined')) };
  const s = await serve({ verifier });
  const r = await fetch(`${s.url}/version?device=dev`);
  expect(r.status).toBe(502);
  expect(await r.text()).toBe("Firmware for device 'dev' could not be prepared");
  const failed = lines(s, 'refresh failed, nothing cached to serve');
  expect(failed[0]).toMatchObject({ device: 'dev', source: 'source.memory-test' });
  expect(String(failed[0]?.error)).toContain('verifier verifier.broken-test threw: cannot read properties of undefined');
});
