// Flags and env vars overlay otaflux.config.ts, never replace it: the file in the working folder is
// read even when --registry-url/--firmware-dir (or their env vars) are given, its admin token and
// device entries stay, and the flags replace only what they name in `defaults`. Start-up logs which
// file was loaded.
import { expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromEnv, parseArgs } from '../../src/cli/flags.ts';
import { resolveSettings, type Settings } from '../../src/config/settings.ts';
import { createLogger } from '../../src/log.ts';
import { startServer } from '../../src/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { freePort } from '../support/ports.ts';
import { tempDir } from '../support/tmp.ts';

const MAIN = join(import.meta.dir, '../../src/main.ts');
const TOKEN = 'overlay-admin-token-0123456789';

/** A working folder with an otaflux.config.ts, and two firmware folders (the file's and the flag's). */
function setup(configBody: (fileFw: string) => string) {
  const cwd = tempDir('otaflux-overlay-');
  const fileFw = firmwareDir({ dev: { '0.1.0.bin': 5 }, 'lab-1': { '0.1.0.bin': 5 }, 'own-1': { '0.9.0.bin': 5 } }).root;
  const flagFw = firmwareDir({ dev: { '1.0.0.bin': 5, '2.0.0-rc.1.bin': 5 }, 'lab-1': { '1.0.0.bin': 5, '2.0.0-rc.1.bin': 5 }, 'own-1': { '1.0.0.bin': 5 } }).root;
  writeFileSync(join(cwd, 'otaflux.config.ts'), `import { defineConfig, dir, raw } from 'otaflux';\n${configBody(fileFw)}\n`);
  return { cwd, fileFw, flagFw };
}

const STANDARD = (fileFw: string) => `export default defineConfig({
  server: { adminToken: ${JSON.stringify(TOKEN)} },
  defaults: { source: dir({ root: ${JSON.stringify(fileFw)} }), extract: 'raw', auth: 'none' },
  devices: {
    'lab-*': { allowPrerelease: true },
    'own-*': { source: dir({ root: ${JSON.stringify(fileFw)} }) },
  },
});`;

function settings(cwd: string, argv: string[], env: Record<string, string> = {}): Promise<Settings> {
  return resolveSettings(fromEnv(env, parseArgs(argv).flags), cwd);
}

/** /version of each device, from a real server on the settings. */
async function versions(s: Settings, devices: string[]): Promise<Record<string, string>> {
  s.listenAddr = '127.0.0.1:0';
  s.metricsListenAddr = false;
  s.admin.listenAddr = false;
  s.admin.onDevicePort = true;
  s.cache.dir = tempDir('otaflux-overlay-cache-');
  const server = await startServer(s, createLogger({ level: 'off' }));
  try {
    const out: Record<string, string> = {};
    for (const d of devices) {
      const r = await fetch(`http://127.0.0.1:${server.ports.http}/version?device=${d}`);
      out[d] = r.status === 200 ? ((await r.text()).split('\n')[0] as string) : `status ${r.status}`;
    }
    const api = await fetch(`http://127.0.0.1:${server.ports.http}/api/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
    out.api = String(api.status);
    return out;
  } finally {
    await server.close();
  }
}

for (const way of ['--firmware-dir', 'FIRMWARE_DIR'] as const) {
  test(`${way} overlays the file: its admin token, device entries and the rest of defaults stay`, async () => {
    const { cwd, flagFw } = setup(STANDARD);
    const s = way === '--firmware-dir' ? await settings(cwd, ['--firmware-dir', flagFw]) : await settings(cwd, [], { FIRMWARE_DIR: flagFw });
    expect(s.configFile).toBe(join(cwd, 'otaflux.config.ts'));
    expect(s.adminToken).toBe(TOKEN);
    const defaults = s.composer.all().find((c) => c.matchedBy === 'defaults');
    expect(defaults?.extract).not.toBe('auto'); // the file's extract: 'raw' stayed
    // dev: the flag's folder (1.0.0, no prereleases); lab-1: the flag's folder with the entry's
    // allowPrerelease; own-1: the entry's own source (the file's folder, 0.9.0).
    expect(await versions(s, ['dev', 'lab-1', 'own-1'])).toEqual({ dev: '1.0.0', 'lab-1': '2.0.0-rc.1', 'own-1': '0.9.0', api: '200' });
  }, 30_000);
}

test('--allow-prerelease and ALLOW_PRERELEASE overlay defaults.allowPrerelease; an entry that sets its own keeps it', async () => {
  const { cwd, flagFw } = setup((fileFw) => `export default defineConfig({
  server: { adminToken: ${JSON.stringify(TOKEN)} },
  defaults: { source: dir({ root: ${JSON.stringify(fileFw)} }), allowPrerelease: false },
  devices: { 'lab-*': { allowPrerelease: false } },
});`);
  const base = ['--firmware-dir', flagFw];
  expect(await versions(await settings(cwd, base), ['dev', 'lab-1'])).toEqual({ dev: '1.0.0', 'lab-1': '1.0.0', api: '200' });
  expect(await versions(await settings(cwd, [...base, '--allow-prerelease']), ['dev', 'lab-1'])).toEqual({ dev: '2.0.0-rc.1', 'lab-1': '1.0.0', api: '200' });
  expect(await versions(await settings(cwd, base, { ALLOW_PRERELEASE: '1' }), ['dev'])).toMatchObject({ dev: '2.0.0-rc.1' });
  // The flag beats the env var, in both directions.
  expect(await versions(await settings(cwd, [...base, '--allow-prerelease=false'], { ALLOW_PRERELEASE: 'true' }), ['dev'])).toMatchObject({ dev: '1.0.0' });
});

test('--allow-prerelease=false overrides a file whose defaults allow prereleases', async () => {
  const { cwd, flagFw } = setup((fileFw) => `export default defineConfig({ defaults: { source: dir({ root: ${JSON.stringify(fileFw)} }), allowPrerelease: true } });`);
  expect(await versions(await settings(cwd, ['--firmware-dir', flagFw]), ['dev'])).toMatchObject({ dev: '2.0.0-rc.1' });
  expect(await versions(await settings(cwd, ['--firmware-dir', flagFw, '--allow-prerelease=false']), ['dev'])).toMatchObject({ dev: '1.0.0' });
});

test('--allow-prerelease with a file that has devices but no defaults applies to those devices', async () => {
  const { cwd, flagFw } = setup(() => '');
  writeFileSync(join(cwd, 'otaflux.config.ts'), `import { defineConfig, dir } from 'otaflux';\nexport default defineConfig({ devices: { dev: { source: dir({ root: ${JSON.stringify(flagFw)} }) } } });\n`);
  const s = await settings(cwd, ['--allow-prerelease']);
  expect(s.composer.for('dev')?.allowPrerelease).toBe(true);
  expect(s.composer.for('other')).toBeUndefined();
});

test('--cosign-pub-key-path sets the verifier of defaults and of entries without their own', async () => {
  const { cwd, flagFw } = setup((fileFw) => `import { none } from 'otaflux';
export default defineConfig({
  defaults: { source: dir({ root: ${JSON.stringify(fileFw)} }) },
  devices: { 'lab-*': {}, 'own-*': { verifier: none() } },
});`);
  const s = await settings(cwd, ['--firmware-dir', flagFw, '--cosign-pub-key-path', 'cosign.pub']);
  const by = Object.fromEntries(s.composer.all().map((c) => [c.matchedBy, c.verifier.id]));
  expect(by).toEqual({ defaults: 'verifier.cosign', 'lab-*': 'verifier.cosign', 'own-*': 'verifier.none' });
});

async function startupLines(cwd: string, args: string[]): Promise<Record<string, unknown>[]> {
  const port = await freePort();
  const child = Bun.spawn([process.execPath, MAIN, ...args, '--listen-addr', `127.0.0.1:${port}`, '--metrics-listen-addr', '127.0.0.1:0', '--log-format', 'json', '--cache-dir', tempDir()], {
    cwd, stdout: 'ignore', stderr: 'pipe', env: { PATH: process.env.PATH ?? '', HOME: cwd },
  });
  const stderr = new Response(child.stderr).text();
  for (let i = 0; i < 150; i++) {
    if (await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false)) break;
    await Bun.sleep(100);
  }
  child.kill('SIGTERM');
  expect(await child.exited).toBe(0);
  return (await stderr).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('start-up logs the config file it loaded, also when --firmware-dir is given, or that there is none', async () => {
  const { cwd, flagFw } = setup(STANDARD);
  const withFile = await startupLines(cwd, ['--firmware-dir', flagFw]);
  expect(withFile.filter((l) => l.msg === 'config file loaded')).toEqual([expect.objectContaining({ level: 'info', path: join(cwd, 'otaflux.config.ts') })]);
  const empty = tempDir('otaflux-overlay-none-');
  const without = await startupLines(empty, ['--firmware-dir', flagFw]);
  expect(without.filter((l) => String(l.msg).includes('config file'))).toEqual([expect.objectContaining({ level: 'info', msg: 'no config file: flags, env vars and defaults only' })]);
}, 60_000);
