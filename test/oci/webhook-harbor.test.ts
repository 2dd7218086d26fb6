/** POST /webhooks/harbor: secret check, device from Harbor's payload, refresh triggered once. */
import { expect, test } from 'bun:test';
import { harborWebhook, deviceOf } from '../../src/http/webhook-harbor.ts';

const SECRET = 'harbor-shared-secret';

function pushEvent(repo: { name: string; namespace?: string; repo_full_name?: string }, type = 'PUSH_ARTIFACT') {
  return {
    type,
    occur_at: 1700000000,
    operator: 'ci',
    event_data: {
      resources: [{ digest: 'sha256:' + 'a'.repeat(64), tag: '1.2.3', resource_url: `harbor.example/${repo.repo_full_name ?? repo.name}:1.2.3` }],
      repository: { date_created: 1700000000, repo_type: 'private', ...repo },
    },
  };
}

function setup(prefix = 'firmware') {
  const refreshed: string[] = [];
  const handle = harborWebhook({ secret: SECRET, prefix, refresh: (d) => void refreshed.push(d) });
  const post = (body: unknown, auth: string | null = SECRET) =>
    handle(new Request('http://localhost/webhooks/harbor', { method: 'POST', headers: { 'content-type': 'application/json', ...(auth !== null ? { authorization: auth } : {}) }, body: typeof body === 'string' ? body : JSON.stringify(body) }));
  return { refreshed, post, handle };
}

test('a push refreshes the device under the prefix (Harbor sends the secret verbatim, or as Bearer)', async () => {
  const { refreshed, post } = setup('firmware/');
  const r = await post(pushEvent({ name: 'esp32-a', namespace: 'firmware', repo_full_name: 'firmware/esp32-a' }));
  expect(r.status).toBe(202);
  expect(await r.json()).toEqual({ refreshing: ['esp32-a'] });
  const r2 = await post(pushEvent({ name: 'boards/esp32-b', namespace: 'firmware', repo_full_name: 'firmware/boards/esp32-b' }), `Bearer ${SECRET}`);
  expect(r2.status).toBe(202);
  await Bun.sleep(1);
  expect(refreshed).toEqual(['esp32-a', 'boards/esp32-b']);
});

test('missing or wrong secret: 401 and no refresh', async () => {
  const { refreshed, post } = setup();
  for (const auth of [null, '', 'wrong', SECRET + 'x', SECRET.slice(0, -1), `Basic ${SECRET}`]) {
    const r = await post(pushEvent({ name: 'dev', repo_full_name: 'firmware/dev' }), auth);
    expect(r.status).toBe(401);
    expect(await r.text()).toBe('Unauthorized');
  }
  expect(refreshed).toEqual([]);
});

test('other events, repositories outside the prefix and bad payloads are not refreshes', async () => {
  const { refreshed, post, handle } = setup();
  expect(await (await post(pushEvent({ name: 'dev', repo_full_name: 'firmware/dev' }, 'PULL_ARTIFACT'))).json()).toEqual({ ignored: "event type 'PULL_ARTIFACT'" });
  expect(await (await post(pushEvent({ name: 'dev', repo_full_name: 'other/dev' }))).json()).toEqual({ ignored: 'repository outside the prefix' });
  expect(await (await post(pushEvent({ name: 'Bad_Name!', repo_full_name: 'firmware/Bad_Name!' }))).json()).toEqual({ ignored: 'repository is not a valid device id' });
  expect((await post('not json')).status).toBe(400);
  expect((await post({ type: 'PUSH_ARTIFACT', event_data: {} })).status).toBe(400);
  expect((await post('x'.repeat(300 << 10))).status).toBe(413);
  expect((await handle(new Request('http://localhost/webhooks/harbor', { headers: { authorization: SECRET } }))).status).toBe(405);
  expect(refreshed).toEqual([]);
});

test('device names from both payload styles', () => {
  expect(deviceOf({ event_data: { repository: { name: 'dev', namespace: 'firmware' } } }, 'firmware')).toBe('dev');
  expect(deviceOf({ event_data: { repository: { name: 'firmware/dev' } } }, 'firmware')).toBe('dev');
  expect(deviceOf({ data: { repository: { name: 'dev', namespace: 'proj', repo_full_name: 'proj/dev' } } }, '')).toBe('proj/dev');
  expect(deviceOf({ event_data: { repository: { name: 'dev', namespace: 'library' } } }, 'firmware')).toBeNull();
  expect(() => harborWebhook({ secret: 'short', prefix: '', refresh() {} })).toThrow('at least 8 characters');
});
