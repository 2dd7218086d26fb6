// The OpenAPI docs page renders offline: a real headless Chromium (Debian's `chromium`) that can
// resolve no host but 127.0.0.1 loads /docs, and the Swagger UI draws every route from the spec.
// Its script and stylesheet must therefore come from OtaFlux itself, not from a CDN.
import { afterAll, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';

let server: TestServer | undefined;
afterAll(async () => { await server?.close(); });

/** Hosts Chromium itself calls in the background (updates, accounts): not the page's requests. */
const BROWSER_SERVICE_HOSTS = /(^|\.)(google\.com|googleapis\.com|gvt1\.com|gstatic\.com)$/;

test('the docs page renders every route with no network but localhost', async () => {
  server = await startTestServer({ flags: { 'firmware-dir': firmwareDir({ 'esp32-a': { '1.0.0.bin': 100 } }).root, 'admin-token': 'docs-test-token-1' } });
  const profile = tempDir('otaflux-chromium-');
  const netLog = join(profile, 'net-log.json');
  const chromium = Bun.spawn(
    [
      'chromium', '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run',
      '--disable-component-update', '--disable-sync', '--disable-extensions', '--no-default-browser-check',
      `--user-data-dir=${profile}`,
      // Every name resolves to nothing: only 127.0.0.1 (an IP literal) is reachable.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
      `--log-net-log=${netLog}`,
      '--virtual-time-budget=15000',
      '--dump-dom',
      `${server.url}/docs`,
    ],
    { stdout: 'pipe', stderr: 'pipe' },
  );
  const [dom, code] = await Promise.all([new Response(chromium.stdout).text(), chromium.exited]);
  expect(code).toBe(0);

  // Swagger UI drew one operation block per route, with the summaries from the spec.
  const paths = [...dom.matchAll(/class="opblock-summary-path" data-path="([^"]+)"/g)].map((m) => m[1]);
  expect(paths).toEqual(expect.arrayContaining(['/version', '/firmware', '/health', '/ready', '/api/status', '/api/devices', '/api/devices/*', '/api/releases']));
  expect(dom).toContain('Operator API');
  expect(dom).toContain('class="title">OtaFlux');

  // The page's requests all went to OtaFlux; nothing to a CDN.
  const urls = [...readFileSync(netLog, 'utf8').matchAll(/"url":"(https?:\/\/[^"]+)"/g)].map((m) => new URL(m[1] as string));
  const local = urls.filter((u) => u.hostname === '127.0.0.1').map((u) => u.pathname);
  expect(local).toEqual(expect.arrayContaining(['/docs', '/docs/assets/swagger-ui-bundle.js', '/docs/assets/swagger-ui.css', '/docs/json']));
  const elsewhere = urls.filter((u) => u.hostname !== '127.0.0.1' && !BROWSER_SERVICE_HOSTS.test(u.hostname));
  expect(elsewhere.map((u) => u.href)).toEqual([]);
  const served = server.logs.map((l) => JSON.parse(l) as { msg: string; route?: string; status?: number }).filter((l) => l.msg === 'request');
  expect(served.filter((l) => l.route === '/docs/assets/:file' && l.status === 200).length).toBeGreaterThanOrEqual(2);
}, 60_000);
