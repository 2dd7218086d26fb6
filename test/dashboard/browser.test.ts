// The dashboard in Debian's real chromium (DevTools protocol, test/dashboard/cdp.ts), with no network
// but loopback: refused without a session, signed in from the keyboard, refused on a forged form from
// another origin, a release uploaded, a rollout started, paused and aborted (rolled back), the audit
// log checked, the version distribution over time drawn (light and dark). Each page is saved as a
// screenshot in test-results/screenshots/.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { Browser } from './cdp.ts';

const ADMIN = 'admin-token-browser-test-1';
const SHOTS = join(import.meta.dir, '../../test-results/screenshots');
const UNITS = Array.from({ length: 16 }, (_, i) => `unit-${String(i + 1).padStart(2, '0')}`);
let s: TestServer;
let base: string;
let browser: Browser;
let evil: ReturnType<typeof Bun.serve>;

const poll = (instance: string, current: string, headers: Record<string, string> = {}) =>
  fetch(`${s.url}/version?device=esp32-a&instance=${instance}&current=${current}`, { headers }).then((r) => r.text());
const api = (path: string) => fetch(`${base}/api${path}`, { headers: { authorization: `Bearer ${ADMIN}` } }).then((r) => r.json());

/**
 * A week of history of another stream, written to the store as check-ins would have been: 40 units on
 * 1.0.0, moving to 1.1.0 in three waves, then three of them to a beta.
 */
async function writeFieldHistory(): Promise<void> {
  const store = s.runtime.fleet?.store;
  if (!store) throw new Error('fleet control is off');
  const day = 86_400_000;
  const now = Date.now();
  const ids = Array.from({ length: 40 }, (_, i) => `field-${String(i).padStart(2, '0')}`);
  const row = (instance: string, version: string, at: number) => ({ instance, weak: 0, stream: 'esp32-b', route: 'version', reported_version: version, boot_id: null, served_version: null,
    served_sha256: null, address: '10.1.0.1', identity: null, first_seen: now - 6.5 * day, last_seen: at, downloaded_version: null, downloaded_at: null });
  await store.writeCheckins(ids.map((id) => row(id, '1.0.0', now - 6.5 * day)), []);
  for (const [from, to, at] of [[0, 4, 5], [4, 16, 4], [16, 31, 2.5]] as const) await store.writeCheckins(ids.slice(from, to).map((id) => row(id, '1.1.0', now - at * day)), []);
  await store.writeCheckins(ids.slice(0, 3).map((id) => row(id, '1.2.0-beta.1', now - day)), []);
}

beforeAll(async () => {
  const fw = firmwareDir({ 'esp32-a': { '1.0.0.bin': 4096 } });
  const config = join(tempDir('otaflux-browser-'), 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir } from 'otaflux';
export default defineConfig({
  server: { adminToken: ${JSON.stringify(ADMIN)} },
  // The operator pauses and aborts the rollout here, not its gate (one failure in eight is over the
  // default 10 %): the gates are evaluated once an hour, so never during the test.
  fleet: { refreshInterval: 3600 },
  devices: { 'esp32-*': { source: dir({ root: ${JSON.stringify(fw.root)} }) } },
});
`);
  s = await startTestServer({ config, flags: { 'admin-on-device-port': false } });
  base = s.adminUrl as string;
  for (const u of UNITS) expect(await poll(u, '1.0.0')).toStartWith('1.0.0\n');
  await s.runtime.fleet?.flush();
  // Another origin on the same host (same site: the browser sends the SameSite=Strict cookie along),
  // whose page posts a form to the dashboard as soon as it loads.
  evil = Bun.serve({
    hostname: '127.0.0.1', port: 0,
    fetch: () => new Response(`<!doctype html><html><body><form id="f" method="post" action="${base}/ui/rollouts/action">
<input name="id" value="${'*'}"><input name="action" value="abort"></form><script>document.getElementById('f').submit()</script></body></html>`, { headers: { 'content-type': 'text/html' } }),
  });
  browser = await Browser.launch();
  await browser.viewport(1100, 720);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  evil?.stop(true);
  await s?.close();
});

test('without a session every page leads to sign-in; a wrong token is refused', async () => {
  await browser.goto(`${base}/ui/rollouts`);
  expect(await browser.url()).toBe(`${base}/ui/login`);
  await browser.screenshot(SHOTS, 'login');
  await browser.type('#token', 'not-the-token-at-all');
  await browser.loads(() => browser.press('Enter'));
  expect(await browser.text()).toContain('That token is not an operator token here.');
}, 30_000);

test('sign in from the keyboard; the fleet view lists every instance with its version and outcome', async () => {
  // The token field has the focus on arrival (autofocus): type, then Enter.
  expect(await browser.eval('document.activeElement?.id')).toBe('token');
  await browser.type('#token', ADMIN);
  await browser.loads(() => browser.press('Enter'));
  expect(await browser.url()).toBe(`${base}/ui/fleet`);
  const fleet = await browser.text();
  expect(fleet).toContain('16 instances');
  for (const u of UNITS) expect(fleet).toContain(u);
  // Every control has a label.
  expect(await browser.eval(`[...document.querySelectorAll('input:not([type=hidden]), select')].filter((e) => !e.labels?.length && !e.getAttribute('aria-label')).map((e) => e.outerHTML)`)).toEqual([]);
  await browser.screenshot(SHOTS, 'fleet');
  // Search narrows it down, on the server.
  await browser.type('#q', 'unit-0');
  await browser.loads(() => browser.press('Enter'));
  expect(await browser.text()).toContain('9 instances');
}, 30_000);

test('a form posted to the dashboard from another origin is refused, though the browser sent the cookie', async () => {
  await browser.goto(`http://127.0.0.1:${evil.port}/`);
  // The auto-submitted form lands on the refusal.
  for (let i = 0; i < 50 && !(await browser.url()).startsWith(base); i++) await Bun.sleep(100);
  expect(await browser.url()).toBe(`${base}/ui/rollouts/action`);
  expect(await browser.text()).toContain('Refused: the form was not sent from this site (Origin check).');
  await browser.screenshot(SHOTS, 'refused-cross-site');
  expect(await api('/audit')).toEqual([]);
}, 30_000);

test('upload a release by its file input; devices are offered it', async () => {
  await browser.goto(`${base}/ui/releases`);
  const file = join(tempDir('otaflux-upload-file-'), 'esp32-a-1.1.0.bin');
  writeFileSync(file, new Uint8Array(6000).map((_, i) => (i * 7) & 0xff));
  await browser.type('#upload-stream', 'esp32-a');
  await browser.type('#upload-version', '1.1.0');
  await browser.setFile('#upload-file', file);
  expect(await browser.text('#drop-name')).toBe('esp32-a-1.1.0.bin (6000 bytes)');
  await browser.click('form[action="/ui/releases/upload"] button[type=submit]');
  expect(await browser.text('.flash')).toStartWith('Uploaded esp32-a 1.1.0: 6000 bytes, SHA-256 ');
  // With no rollout yet, a device is offered it at once (one outside the rollout below).
  expect(await poll('bench-unit', '1.0.0')).toStartWith('1.1.0\n');
  await browser.goto(`${base}/ui/releases`);
  expect(await browser.text()).toContain('verified');
  await browser.screenshot(SHOTS, 'releases');
}, 30_000);

test('start a rollout, watch its outcomes, pause it, abort it (roll back), and read it all in the audit log', async () => {
  await browser.goto(`${base}/ui/rollouts`);
  await browser.type('#ro-streams', 'esp32-a');
  await browser.type('#ro-version', '1.1.0');
  await browser.type('#ro-steps', '50,100');
  await browser.type('#ro-reason', 'first field test');
  await browser.click('form[action="/ui/rollouts"] button[type=submit]');
  expect(await browser.text('.flash')).toMatch(/^Started rollout r-[0-9a-f]{8}: 1\.1\.0 to esp32-a$/);
  const [ro] = (await api('/rollouts')) as { id: string; state: string }[];
  expect(ro?.state).toBe('running');

  // Devices act: those in the first half download it; most report the new version, one a failure.
  let n = 0;
  const updated = new Set<string>();
  for (const u of UNITS) {
    if (!(await poll(u, '1.0.0')).startsWith('1.1.0')) continue;
    await (await fetch(`${s.url}/firmware?device=esp32-a&instance=${u}`)).arrayBuffer();
    if (n++ === 0) {
      await poll(u, '1.0.0', { 'x-update-result': 'failed' });
    } else {
      await poll(u, '1.1.0');
      updated.add(u);
    }
  }
  expect(n).toBeGreaterThan(1);
  await s.runtime.fleet?.flush();
  await browser.goto(`${base}/ui/rollouts`);
  const page = await browser.text();
  expect(page).toContain(`exposed ${n} · verified ${n - 1} · rolled back 0 · timed out 0 · failed 1`);
  expect(await browser.eval(`document.querySelectorAll('svg.chart[role=img]').length`)).toBeGreaterThanOrEqual(3);
  await browser.screenshot(SHOTS, 'rollouts');


  await browser.click(`button[aria-label="pause ${ro?.id}"]`);
  expect(await browser.text('.flash')).toBe(`Rollout ${ro?.id}: pause done, now paused`);
  // Abort asks for confirmation (accepted here).
  await browser.click(`button[aria-label="abort ${ro?.id}"]`);
  expect(await browser.text('.flash')).toBe(`Rollout ${ro?.id}: abort done, now aborted`);
  expect(((await api('/rollouts')) as { state: string }[])[0]?.state).toBe('aborted');
  // No instance not yet on it is offered the aborted release any more.
  const outside = [];
  for (const u of UNITS.filter((x) => !updated.has(x))) if ((await poll(u, '1.0.0')).startsWith('1.0.0')) outside.push(u);
  expect(outside.length).toBe(UNITS.length - updated.size);

  // The version distribution over time: one area per version, labelled with the counts now.
  await writeFieldHistory();
  await browser.goto(`${base}/ui/rollouts`);
  const series = (stream: string) => browser.eval(`[...document.querySelectorAll('section[aria-labelledby=dist-time] svg[aria-label^="Versions of ${stream} over time"] path.area')].map((p) => p.dataset.version)`);
  expect(((await series('esp32-a')) as string[]).sort()).toEqual(['1.0.0', '1.1.0']);
  expect(await browser.eval(`document.querySelector('svg[aria-label^="Versions of esp32-a over time"]').getAttribute('aria-label')`)).toContain(`1.1.0 ${n - 1}`);
  expect(await series('esp32-b')).toEqual(['1.1.0', '1.0.0', '1.2.0-beta.1']);
  expect(await browser.eval(`document.querySelector('svg[aria-label^="Versions of esp32-b over time"]').getAttribute('aria-label')`)).toContain('At the start: 1.0.0 40. Now: 1.1.0 28, 1.0.0 9, 1.2.0-beta.1 3.');
  const fill = `getComputedStyle(document.querySelector('svg[aria-label^="Versions of esp32-b over time"] path.area.s0')).fill`;
  expect(await browser.eval(fill)).toBe('rgb(26, 127, 55)');
  await browser.eval(`document.getElementById('dist-time').scrollIntoView()`);
  await browser.screenshot(SHOTS, 'rollouts-versions');
  await browser.viewport(1100, 720, true);
  expect(await browser.eval(fill)).toBe('rgb(87, 171, 90)');
  await browser.screenshot(SHOTS, 'rollouts-versions-dark');
  await browser.viewport(1100, 720);

  // The device page explains the decision as `otaflux inspect` does.
  await browser.goto(`${base}/ui/device?instance=${outside[0]}`);
  expect(await browser.text()).toContain('offered: 1.0.0');
  await browser.screenshot(SHOTS, 'device');

  await browser.goto(`${base}/ui/audit`);
  const audit = await browser.text();
  for (const action of ['release.upload', 'rollout.create', 'rollout.pause', 'rollout.abort']) expect(audit).toContain(action);
  expect(((await api('/audit')) as { actor: string; action: string }[]).map((e) => `${e.actor} ${e.action}`)).toEqual(['admin rollout.abort', 'admin rollout.pause', 'admin rollout.create', 'admin release.upload']);
  await browser.screenshot(SHOTS, 'audit');
}, 60_000);

test('on a phone in dark mode the fleet view fits the screen; sign-out ends the session', async () => {
  await browser.viewport(390, 800, true, true);
  await browser.goto(`${base}/ui/fleet`);
  expect(await browser.eval(`getComputedStyle(document.body).backgroundColor`)).toBe('rgb(20, 23, 26)');
  expect(await browser.eval(`document.documentElement.scrollWidth <= 390`)).toBe(true);
  await browser.screenshot(SHOTS, 'fleet-phone-dark');
  await browser.viewport(1100, 720);
  await browser.click('header form button[type=submit]');
  expect(await browser.url()).toBe(`${base}/ui/login`);
  await browser.goto(`${base}/ui/fleet`);
  expect(await browser.url()).toBe(`${base}/ui/login`);
}, 30_000);
