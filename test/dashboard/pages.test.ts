// The dashboard's pages over HTTP against a real store: the fleet view's search, filters and paging
// (done in the store), an instance's check-in history and offer explanation, a rollout's progress
// per step, and escaping of what devices send.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import type { InstanceRow, OutcomeRow } from '../../src/fleet/store.ts';
import { progressOverTime, progressPerStep, stepTimeline } from '../../src/dashboard/rollout-progress.ts';
import { signIn, type Signed } from './sign-in.ts';

const ADMIN = 'admin-token-pages-test-001';
let s: TestServer;
let base: string;
let admin: Signed;

beforeAll(async () => {
  const fw = firmwareDir({ 'esp32-a': { '1.0.0.bin': 32, '1.1.0.bin': 40 } });
  const config = join(tempDir('otaflux-pages-'), 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir } from 'otaflux';
export default defineConfig({ server: { adminToken: ${JSON.stringify(ADMIN)} }, defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }) } });
`);
  s = await startTestServer({ config, flags: { 'admin-on-device-port': false } });
  base = s.adminUrl as string;
  admin = await signIn(base, ADMIN);
  // 120 instances on two streams, written as check-ins would be; every third one's last outcome failed.
  const now = Date.now();
  const rows: InstanceRow[] = [];
  const outcomes: OutcomeRow[] = [];
  for (let i = 0; i < 120; i++) {
    const instance = `node-${String(i).padStart(3, '0')}`;
    rows.push({ instance, weak: 0, stream: i % 2 ? 'gw-odd' : 'gw-even', route: 'version', reported_version: i < 30 ? '2.0.0' : '1.0.0', boot_id: null, served_version: null, served_sha256: null,
      address: `10.0.0.${i}`, identity: i === 7 ? 'cert:<b>seven</b>' : null, first_seen: now - 10_000, last_seen: now - i * 10, downloaded_version: null, downloaded_at: null });
    outcomes.push({ instance, stream: i % 2 ? 'gw-odd' : 'gw-even', version: '2.0.0', rollout_id: null, state: i % 3 === 0 ? 'failed' : 'verified', inferred: 0, boot_id: null, offered_at: now - 5000, downloaded_at: now - 4000, updated_at: now - 3000 });
  }
  await s.runtime.fleet?.store.writeCheckins(rows, outcomes);
}, 60_000);
afterAll(() => s?.close());

const get = async (path: string) => (await fetch(`${base}${path}`, { headers: { cookie: admin.cookie } })).text();
const listed = (page: string) => [...page.matchAll(/class="mono">(node-\d+|unit-\d+)<\/a>/g)].map((m) => m[1]);

test('the fleet view: 50 per page, newest first, with search, stream, version and outcome filters', async () => {
  const first = await get('/ui/fleet');
  expect(first).toContain('120 instances, page 1 of 3');
  expect(listed(first)).toEqual(Array.from({ length: 50 }, (_, i) => `node-${String(i).padStart(3, '0')}`));
  const third = await get('/ui/fleet?page=3');
  expect(listed(third)).toEqual(Array.from({ length: 20 }, (_, i) => `node-${String(100 + i).padStart(3, '0')}`));
  expect(third).toContain('rel="prev"');
  expect(third).not.toContain('rel="next"');
  expect(listed(await get('/ui/fleet?q=NODE-11'))).toEqual(['node-110', 'node-111', 'node-112', 'node-113', 'node-114', 'node-115', 'node-116', 'node-117', 'node-118', 'node-119']);
  expect(await get('/ui/fleet?q=10.0.0.9')).toContain('11 instances'); // 9, 90–99
  expect(await get('/ui/fleet?stream=gw-odd')).toContain('60 instances');
  expect(await get('/ui/fleet?version=2.0.0')).toContain('30 instances');
  expect(await get('/ui/fleet?outcome=failed&stream=gw-even')).toContain('20 instances');
  // A canceled update (a DDI cancel the device confirmed) is a filter of its own; nobody here has one.
  const canceled = await get('/ui/fleet?outcome=canceled');
  expect(canceled).toContain('<option value="canceled" selected>');
  expect(canceled).toContain('0 instances');
  // A wildcard typed in the search is a character, not a pattern.
  expect(await get('/ui/fleet?q=%25')).toContain('0 instances');
  // What devices sent is shown, never interpreted.
  const seven = await get('/ui/fleet?q=seven');
  expect(seven).toContain('cert:&lt;b&gt;seven&lt;/b&gt;');
  expect(seven).not.toContain('<b>seven</b>');
});

test('an instance page: its check-in history (changes only) and what it is offered now and why', async () => {
  const fleet = s.runtime.fleet!;
  const poll = (current: string) => fetch(`${s.url}/version?device=esp32-a&instance=unit-9&current=${current}`, { headers: { 'x-boot-id': `boot-${current}` } }).then((r) => r.text());
  expect(await poll('1.0.0')).toStartWith('1.1.0');
  await fleet.flush();
  await (await fetch(`${s.url}/firmware?device=esp32-a&instance=unit-9`)).arrayBuffer();
  await Bun.sleep(5);
  await fleet.flush();
  await poll('1.1.0');
  await fleet.flush();
  await poll('1.1.0'); // nothing new: not a history row
  await fleet.flush();
  const page = await get('/ui/device?instance=unit-9');
  const history = page.slice(page.indexOf('id="checkins"'), page.indexOf('id="hist"'));
  const rows = [...history.matchAll(/<tr><td><time[^>]*>[^<]*<\/time><\/td><td>([^<]*)<\/td><td>([^<]*)<\/td><td>([^<]*)<\/td>/g)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
  expect(rows).toEqual(['version 1.1.0 1.1.0', 'firmware 1.0.0 1.1.0', 'version 1.0.0 1.1.0']);
  expect(page).toContain('offered: 1.1.0');
  expect(page).toContain('verified');
  expect(await get('/ui/device?instance=nobody')).toContain("No instance 'nobody' has checked in.");
});

test('rollout progress: outcomes counted in the step that was current when they were offered', () => {
  const audit = [
    { id: '1', at: 1000, actor: 'admin', action: 'rollout.create', target: 'r', detail: { step: 0 } },
    { id: '2', at: 2000, actor: 'admin', action: 'rollout.pause', target: 'r', detail: { from: { state: 'running', step: 0 }, to: { state: 'paused', step: 0 } } },
    { id: '3', at: 3000, actor: 'gate', action: 'rollout.advance', target: 'r', detail: { from: { state: 'running', step: 0 }, to: { state: 'running', step: 1 } } },
  ];
  const timeline = stepTimeline(audit, 1, 1000);
  expect(timeline).toEqual([{ step: 0, since: 1000 }, { step: 1, since: 3000 }]);
  const o = (state: string, offered: number) => ({ state, offered_at: offered, downloaded_at: offered + 10, updated_at: offered + 100 });
  const steps = progressPerStep(timeline, [o('verified', 1500), o('failed', 2500), o('offered', 2600), o('verified', 3500), o('rolled_back', 3600), o('timed_out', 3700)]);
  expect(steps.map((x) => [x.step, x.exposed, x.verified, x.rolled_back, x.timed_out, x.failed])).toEqual([[0, 2, 1, 0, 0, 1], [1, 3, 1, 1, 1, 0]]);
  const over = progressOverTime([o('verified', 1500), o('failed', 2500)], 1000, 3000, 4);
  expect(over.map((p) => [p.at, p.exposed, p.verified, p.failed])).toEqual([[1500, 0, 0, 0], [2000, 1, 1, 0], [2500, 1, 1, 0], [3000, 2, 1, 1]]);
});
