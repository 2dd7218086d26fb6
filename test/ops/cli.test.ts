// `otaflux inspect` and `otaflux prefetch` as an operator runs them: the real CLI in a child
// process, a config file with a verifier that refuses one version, no listener started.
import { expect, test } from 'bun:test';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';

const MAIN = join(import.meta.dir, '../../src/main.ts');

function setup() {
  const fw = firmwareDir({ 'dev-a': { '1.0.0.bin': 3000, '2.0.0.bin': 500, '3.0.0-rc.1.bin': 10 }, 'dev-b': { '0.1.0.bin': 700 } });
  const dir = tempDir('otaflux-cli-');
  const cache = join(dir, 'cache');
  writeFileSync(
    join(dir, 'otaflux.config.ts'),
    `import { defineConfig, dir, PLUGIN_API_VERSION } from 'otaflux';
const picky = {
  kind: 'verifier' as const, id: 'verifier.picky-test', apiVersion: PLUGIN_API_VERSION,
  async verify(_d: unknown, a: { version: string }) {
    return a.version === '2.0.0' ? { ok: false as const, reason: 'unsigned' } : { ok: true as const, by: 'picky-key' };
  },
};
export default defineConfig({
  server: { listenAddr: '127.0.0.1:1', metricsListenAddr: '127.0.0.1:1' },
  cache: { dir: ${JSON.stringify(cache)} },
  defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }), verifier: picky },
  devices: { 'dev-a': {}, 'dev-b': {}, 'dev-missing': {} },
});
`,
  );
  return { fw, dir, cache };
}

function run(cwd: string, args: string[]) {
  const p = Bun.spawnSync(['bun', MAIN, ...args], { cwd, stdout: 'pipe', stderr: 'pipe', env: { ...process.env, NO_COLOR: '1' } });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

test('inspect prints each version\'s fate and the release that would be served', () => {
  const { fw, dir, cache } = setup();
  const r = run(dir, ['inspect', 'dev-a']);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  const sha = createHash('sha256').update(fw.bytes('dev-a', '1.0.0.bin')).digest('hex');
  expect(r.out).toContain('  matched by: dev-a\n');
  expect(r.out).toContain('source: source.dir   verifier: verifier.picky-test   extract: auto-detect   auth: none (anyone may fetch it)');
  expect(r.out).toMatch(/3\.0\.0-rc\.1 +\(tag 3\.0\.0-rc\.1\.bin\) skipped: prerelease/);
  expect(r.out).toMatch(/2\.0\.0 +\(tag 2\.0\.0\.bin\) refused by verifier\.picky-test: unsigned/);
  expect(r.out).toMatch(/1\.0\.0 +\(tag 1\.0\.0\.bin\) ← served \(verified by picky-key\)/);
  expect(r.out).toContain(`size 3000 bytes`);
  expect(r.out).toContain(`sha256 ${sha}`);
  expect(r.out).toContain('cache: downloaded and built now');
  // The cache was warmed; a second run finds the release built.
  expect(existsSync(join(cache, 'blobs', 'sha256', sha))).toBe(true);
  expect(run(dir, ['inspect', 'dev-a']).out).toContain('cache: already built');
}, 60_000);

test('inspect: nothing to serve → exit 1 with the reason; a bad id is a usage error', () => {
  const { dir } = setup();
  const none = run(dir, ['inspect', 'dev-missing']);
  expect(none.code).toBe(1);
  expect(none.out).toContain("nothing would be served: no firmware for device 'dev-missing'");
  const bad = run(dir, ['inspect', 'Bad..ID']);
  expect(bad.code).toBe(2);
  expect(bad.err).toContain('inspect: invalid device id');
  expect(run(dir, ['inspect']).code).toBe(2);
}, 60_000);

test('prefetch warms every named device; plain lines when not on a terminal', () => {
  const { dir, cache } = setup();
  const r = run(dir, ['prefetch']);
  expect(r.code).toBe(1); // dev-missing has no firmware
  const lines = r.out.trim().split('\n').sort();
  expect(lines).toHaveLength(4);
  expect(lines[0]).toBe('2 of 3 devices cached (3700 bytes) in ' + lines[0]?.split(' in ')[1]);
  expect(lines[1]).toBe("failed dev-missing: no firmware for device 'dev-missing'");
  expect(lines[2]).toStartWith('ok     dev-a 1.0.0 (3000 bytes, sha256 ');
  expect(lines[3]).toStartWith('ok     dev-b 0.1.0 (700 bytes, sha256 ');
  expect(r.out).not.toContain('\x1b[');
  expect(existsSync(join(cache, 'devices', 'dev-b.json'))).toBe(true);
  expect(run(dir, ['prefetch', 'dev-a', 'dev-b']).code).toBe(0);
}, 60_000);

test('prefetch draws a progress bar on a terminal', () => {
  const { dir } = setup();
  // `script` runs the command on a pseudo-terminal (util-linux, present on Debian).
  const p = Bun.spawnSync(['script', '-qec', `bun ${MAIN} prefetch dev-a dev-b`, '/dev/null'], { cwd: dir, stdout: 'pipe', stderr: 'pipe' });
  const out = p.stdout.toString();
  expect(p.exitCode).toBe(0);
  expect(out).toContain('\r\x1b[2K[------------------------------] 0/2');
  expect(out).toContain('[##############################] 2/2');
  expect(out).toContain('2 of 2 devices cached (3700 bytes)');
}, 60_000);

test('a leading otaflux word is the command name, as in `podman run IMAGE otaflux --registry-url …`', async () => {
  const { fw } = setup();
  const { freePort } = await import('../support/ports.ts');
  for (const first of ['otaflux', '/usr/local/bin/otaflux']) {
    const port = await freePort();
    const child = Bun.spawn([process.execPath, MAIN, first, '--firmware-dir', fw.root, '--listen-addr', `127.0.0.1:${port}`, '--metrics-listen-addr', '127.0.0.1:0', '--cache-dir', tempDir()], {
      cwd: tempDir(), stdout: 'ignore', stderr: 'pipe', env: { ...process.env, LOG_LEVEL: 'off' },
    });
    let body = '';
    for (let i = 0; i < 150 && !body; i++) {
      body = await fetch(`http://127.0.0.1:${port}/version?device=dev-a`).then((r) => (r.ok ? r.text() : ''), () => '');
      if (!body) await Bun.sleep(100);
    }
    child.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    expect(body.split('\n')[0]).toBe('2.0.0');
    expect(await new Response(child.stderr).text()).toBe('');
  }
  // And before a command: `otaflux check-config`.
  const check = Bun.spawnSync([process.execPath, MAIN, 'otaflux', 'check-config', '--firmware-dir', fw.root, '--cache-dir', tempDir()], { cwd: tempDir(), stdout: 'pipe', stderr: 'pipe', env: { ...process.env, LOG_LEVEL: 'off' } });
  expect(check.exitCode).toBe(0);
  expect(check.stdout.toString()).toStartWith('no config file (flags and env vars): ok\n');
}, 60_000);
