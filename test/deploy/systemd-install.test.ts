/**
 * The Raspberry Pi notes and the systemd unit together, tried as a new operator would. systemd
 * cannot run as PID 1 here, so the test stands in for it, reading the unit file:
 *
 * 1. a scratch root (the host's /usr read-only, its own /etc, /var, /run, /tmp) in a private mount
 *    namespace, where the shell blocks of raspberry-pi.md sections 1 and 2 run as root, verbatim
 *    (`sudo` is a no-op); the operator then fills in the registry address;
 * 2. what the unit asks systemd for: ConfigurationDirectory= (and the mode systemd sets on it),
 *    CacheDirectory= under /var/cache/private owned by the service's user, LoadCredential= /
 *    SetCredential= copied into /run/credentials/otaflux.service (0400, that user's), the env file
 *    read as root, Environment= (%d expanded), UMask=, ProtectSystem=strict (everything read-only
 *    but the cache and /tmp), and WorkingDirectory= entered as the service's user;
 * 3. the real compiled binary started there as a dynamic-range uid with no groups, against a real
 *    registry (Basic auth, the password only in a credential) serving a cosign-signed image.
 */
import { directives } from './unit-directives.ts';
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { chmodSync, chownSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { tempDir } from '../support/tmp.ts';
import { freePort } from '../support/ports.ts';
import { pushArtifact, startRegistry, type TestRegistry } from '../support/registry.ts';
import { nodeKeyPair, signLegacyWith } from '../support/cosign.ts';
import { compiledBinary } from '../build/binary.ts';

const ROOT = join(import.meta.dir, '../..');
const UNIT = readFileSync(join(ROOT, 'deploy/systemd/otaflux.service'), 'utf8');
const NOTES = readFileSync(join(ROOT, 'deploy/raspberry-pi.md'), 'utf8');
/** A uid from systemd's DynamicUser= range: no passwd entry, no groups, owns nothing. */
const SERVICE_UID = 61184;
const CREDENTIALS = '/run/credentials/otaflux.service';
const canRun = process.getuid?.() === 0 && Bun.which('unshare') !== null && Bun.which('setpriv') !== null;


/** The shell blocks of the notes an operator runs on the Pi: sections 1 and 2, not the build machine's. */
function operatorCommands(): string {
  const part = NOTES.slice(NOTES.indexOf('## 1.'), NOTES.indexOf('## 3.'));
  const blocks = [...part.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string).filter((b) => !b.includes('bun run build'));
  if (blocks.length < 3) throw new Error('raspberry-pi.md: expected the shell blocks of sections 1 and 2');
  return blocks.join('\n');
}

/** An env file as systemd reads it: KEY=VALUE lines, comments, no expansion. */
function envFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m && !line.trimStart().startsWith('#')) out[m[1] as string] = (m[2] as string).replace(/^"(.*)"$/, '$1');
  }
  return out;
}

const octal = (v: string | undefined, fallback: number) => (v === undefined ? fallback : parseInt(v, 8));

/** A scratch root: the host's /usr (read-only at run time), and its own etc, var, run, tmp. */
function scratchRoot(): string {
  const root = tempDir('otaflux-sysroot-');
  chmodSync(root, 0o755);
  for (const d of ['usr/bin', 'usr/lib', 'usr/lib64', 'usr/sbin', 'usr/share', 'usr/local/bin', 'etc', 'var/cache', 'run', 'dev', 'proc', 'home/pi']) mkdirSync(join(root, d), { recursive: true });
  for (const l of ['bin', 'lib', 'lib64', 'sbin']) symlinkSync(`usr/${l}`, join(root, l));
  mkdirSync(join(root, 'tmp'));
  chmodSync(join(root, 'tmp'), 0o1777);
  return root;
}

/** Shell lines that bind the host's /usr read-only, /dev and /proc into the root (inside `unshare -m`). */
function mounts(root: string): string {
  return [
    ...['usr/bin', 'usr/lib', 'usr/lib64', 'usr/sbin', 'usr/share'].map((d) => `mount --bind -o ro /${d} '${root}/${d}'`),
    `mount --rbind /dev '${root}/dev'`,
    `mount -t proc proc '${root}/proc' 2>/dev/null || mount --rbind /proc '${root}/proc'`,
  ].join('\n');
}

async function run(cmd: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn(cmd, { stdout: 'pipe', stderr: 'pipe', env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin', ...env } });
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code, out, err };
}

/** Runs the notes' commands as root inside the root, from /home/pi (where cosign.pub was copied). */
async function followNotes(root: string): Promise<void> {
  writeFileSync(join(root, 'notes.sh'), `set -e\nexport PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin\nsudo() { "$@"; }\ncd /home/pi\n${operatorCommands()}\n`);
  const script = `set -e\n${mounts(root)}\nexec chroot '${root}' /bin/sh /notes.sh\n`;
  const r = await run(['unshare', '-m', '--propagation', 'private', 'sh', '-c', script]);
  if (r.code !== 0) throw new Error(`the notes' commands failed (${r.code}): ${r.err}`);
  expect(r.out).toMatch(/^otaflux \d+\.\d+\.\d+ /m);
}

/** Sets up what the unit asks systemd for, as systemd does; returns the service's environment. */
function systemdSetup(root: string, unitText: string): { env: Record<string, string>; workdir: string; umask: string; exec: string[] } {
  const d = directives(unitText);
  const one = (k: string) => d.get(k)?.at(-1);
  // ConfigurationDirectory=: root's, and systemd sets the configured mode at every start.
  for (const name of d.get('ConfigurationDirectory') ?? []) {
    const dir = join(root, 'etc', name);
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, octal(one('ConfigurationDirectoryMode'), 0o755));
  }
  // CacheDirectory= with DynamicUser=: /var/cache/private/<name>, the user's, and a symlink to it.
  for (const name of d.get('CacheDirectory') ?? []) {
    const priv = join(root, 'var/cache/private');
    mkdirSync(join(priv, name), { recursive: true });
    chmodSync(priv, 0o700);
    chownSync(join(priv, name), SERVICE_UID, SERVICE_UID);
    chmodSync(join(priv, name), octal(one('CacheDirectoryMode'), 0o755));
    if (!existsSync(join(root, 'var/cache', name))) symlinkSync(`private/${name}`, join(root, 'var/cache', name));
  }
  // LoadCredential=, with SetCredential= as the fallback when the file cannot be read.
  const creds = join(root, CREDENTIALS);
  mkdirSync(creds, { recursive: true });
  const fallback = new Map((d.get('SetCredential') ?? []).map((x) => [x.slice(0, x.indexOf(':')), x.slice(x.indexOf(':') + 1).replace(/\\n/g, '\n')]));
  for (const x of d.get('LoadCredential') ?? []) {
    const [id = '', path = ''] = x.split(/:(.*)/s);
    let data: Buffer;
    try {
      data = readFileSync(join(root, path));
    } catch (e) {
      if (!fallback.has(id)) throw new Error(`systemd would fail: credential ${id}: ${(e as Error).message}`);
      data = Buffer.from(fallback.get(id) as string);
    }
    fallback.delete(id);
    writeFileSync(join(creds, id), data, { mode: 0o400 });
    chownSync(join(creds, id), SERVICE_UID, SERVICE_UID);
  }
  // SetCredential= alone sets the credential.
  for (const [id, data] of fallback) {
    writeFileSync(join(creds, id), data, { mode: 0o400 });
    chownSync(join(creds, id), SERVICE_UID, SERVICE_UID);
  }
  chownSync(creds, SERVICE_UID, SERVICE_UID);
  chmodSync(creds, 0o500);

  const env: Record<string, string> = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin', HOME: '/', LANG: 'C.UTF-8' };
  for (const line of d.get('Environment') ?? []) {
    for (const kv of line.split(/\s+/)) {
      const i = kv.indexOf('=');
      env[kv.slice(0, i)] = kv.slice(i + 1).replaceAll('%d', CREDENTIALS);
    }
  }
  for (const f of d.get('EnvironmentFile') ?? []) {
    const path = join(root, f.replace(/^-/, ''));
    if (existsSync(path)) Object.assign(env, envFile(readFileSync(path, 'utf8')));
    else if (!f.startsWith('-')) throw new Error(`systemd would fail: EnvironmentFile ${f} is missing`);
  }
  env.CREDENTIALS_DIRECTORY = CREDENTIALS;
  return { env, workdir: one('WorkingDirectory') ?? '/', umask: one('UMask') ?? '0022', exec: (one('ExecStart') ?? '').split(/\s+/) };
}

interface Service { pid: number; exited: Promise<number>; stderr: () => string }

/** Starts ExecStart in the root as the service's user, the file system read-only but the cache and /tmp. */
function startService(root: string, s: ReturnType<typeof systemdSetup>): Service {
  const envArgs = Object.entries(s.env).map(([k, v]) => `${k}=${v}`);
  const hold = tempDir('otaflux-cache-hold-');
  const script = [
    'set -e',
    `mount --bind '${root}' '${root}'`,
    mounts(root),
    // DynamicUser=: /var/cache/private stays 0700 on disk; in the service's namespace it is a
    // 0755 tmpfs holding only the service's own cache folder, bound in.
    `mount --bind '${root}/var/cache/private/otaflux' '${hold}'`,
    `mount -t tmpfs -o mode=0755 tmpfs '${root}/var/cache/private'`,
    `mkdir '${root}/var/cache/private/otaflux'`,
    `mount --bind '${hold}' '${root}/var/cache/private/otaflux'`,
    `mount --bind '${root}/tmp' '${root}/tmp'`,
    `mount -o remount,bind,ro '${root}'`,
    `exec chroot '${root}' setpriv --reuid=${SERVICE_UID} --regid=${SERVICE_UID} --clear-groups --no-new-privs env -i "$@"`,
  ].join('\n');
  const p = Bun.spawn(['unshare', '-m', '--propagation', 'private', 'sh', '-c', script, 'sh', ...envArgs,
    'sh', '-c', `umask ${s.umask}; cd '${s.workdir}' || exit 200; exec "$@"`, 'exec', ...s.exec], { stdout: 'pipe', stderr: 'pipe' });
  let err = '';
  void (async () => { for await (const c of p.stderr as ReadableStream<Uint8Array>) err += new TextDecoder().decode(c); })();
  return { pid: p.pid, exited: p.exited, stderr: () => err };
}

/** SIGTERM, as systemctl stop sends; a service that already exited is left alone. */
function stop(svc: Service): void {
  try {
    process.kill(svc.pid, 'SIGTERM');
  } catch {
    // Already gone: the test's own assertions say why.
  }
}

async function waitForHealth(url: string, svc: Service, timeoutMs = 30_000): Promise<void> {
  let exited: number | undefined;
  void svc.exited.then((c) => (exited = c));
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (exited !== undefined) throw new Error(`the service exited ${exited}:\n${svc.stderr()}`);
    try {
      if ((await fetch(`${url}/health`)).status === 200) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > until) throw new Error(`no answer on ${url} within ${timeoutMs} ms:\n${svc.stderr()}`);
    await Bun.sleep(200);
  }
}

describe.skipIf(!canRun)('the Pi notes and the systemd unit, installed in a scratch root', () => {
  let reg: TestRegistry;
  let binary: string;
  const image = randomBytes(150_000);
  const expected = `1.4.2\n${Bun.hash.crc32(image) >>> 0}\n${image.length}`;
  const key = nodeKeyPair('p256');

  beforeAll(async () => {
    binary = (await compiledBinary('linux-x64')).path;
    // The notes' account: robot$otaflux with the password they put in the credential file.
    reg = await startRegistry({ auth: 'htpasswd', username: 'robot$otaflux', password: 'change-me' });
    const digest = await pushArtifact(reg, 'my-project/esp32-demo', '1.4.2', [{ name: 'firmware.bin', data: image, mediaType: 'application/vnd.espressif.esp32.firmware.v1+binary' }]);
    await signLegacyWith(reg, key.privateKey, 'my-project/esp32-demo', digest);
    // Unsigned, newer: never served when the key is read.
    await pushArtifact(reg, 'my-project/esp32-demo', '1.5.0', [{ name: 'firmware.bin', data: randomBytes(1000), mediaType: 'application/vnd.espressif.esp32.firmware.v1+binary' }]);
  }, 300_000);
  afterAll(async () => {
    await reg?.close();
  });

  /** A root where the notes were followed, the binary copied to /tmp/otaflux first. */
  async function installed(): Promise<{ root: string; port: number }> {
    const root = scratchRoot();
    try {
      linkSync(binary, join(root, 'tmp/otaflux'));
    } catch {
      copyFileSync(binary, join(root, 'tmp/otaflux'));
    }
    writeFileSync(join(root, 'home/pi/cosign.pub'), key.pubPem);
    await followNotes(root);
    // The operator fills in their registry and, for this test, free ports.
    const port = await freePort();
    const envPath = join(root, 'etc/otaflux/otaflux.env');
    const text = readFileSync(envPath, 'utf8')
      .replace(/^REGISTRY_URL=.*$/m, `REGISTRY_URL=${reg.url}`)
      .replace(/^LISTEN_ADDR=.*$/m, `LISTEN_ADDR=127.0.0.1:${port}`)
      .replace(/^METRICS_LISTEN_ADDR=.*$/m, 'METRICS_LISTEN_ADDR=127.0.0.1:0');
    writeFileSync(envPath, text);
    return { root, port };
  }

  test('the notes leave config, key and secret with the owners and modes they promise', async () => {
    const { root } = await installed();
    const mode = (p: string) => statSync(join(root, p)).mode & 0o7777;
    expect(mode('usr/local/bin/otaflux')).toBe(0o755);
    expect(mode('etc/otaflux')).toBe(0o755);
    expect(mode('etc/otaflux/otaflux.env')).toBe(0o600);
    expect(mode('etc/otaflux/cosign.pub')).toBe(0o644);
    expect(mode('etc/otaflux/credentials')).toBe(0o700);
    expect(mode('etc/otaflux/credentials/registry-password')).toBe(0o600);
    expect(readFileSync(join(root, 'etc/otaflux/otaflux.env'), 'utf8')).not.toContain('change-me');
    for (const p of ['etc/otaflux', 'etc/otaflux/otaflux.env', 'etc/otaflux/credentials/registry-password']) expect(statSync(join(root, p)).uid).toBe(0);
  }, 120_000);

  test('the service reads config, key and credential as its own user, caches and serves the signed image', async () => {
    const { root, port } = await installed();
    const svc = startService(root, systemdSetup(root, UNIT));
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitForHealth(url, svc);
      const v = await fetch(`${url}/version?device=esp32-demo`);
      expect(v.status).toBe(200);
      expect(await v.text()).toBe(expected);
      const fw = await fetch(`${url}/firmware?device=esp32-demo`);
      expect(Buffer.from(await fw.arrayBuffer()).equals(image)).toBe(true);
      expect((await fetch(`${url}/ready`)).status).toBe(200);
      // The cache is the service user's, private, and holds the image.
      const cache = join(root, 'var/cache/private/otaflux');
      const files = readdirSync(cache, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
      expect(files.length).toBeGreaterThan(0);
      expect(files.some((f) => statSync(f).size === image.length)).toBe(true);
      for (const f of files) {
        expect(statSync(f).uid).toBe(SERVICE_UID);
        expect(statSync(f).mode & 0o077).toBe(0);
      }
    } finally {
      stop(svc);
    }
    expect(await svc.exited).toBe(0);
    // Nothing secret reached the journal.
    expect(svc.stderr()).not.toContain('change-me');
  }, 120_000);

  test('a config file named in otaflux.env is loaded by the service (TypeScript, read-only system, its own user)', async () => {
    const { root, port } = await installed();
    // The file in /etc/otaflux (0644); naming it with OTAFLUX_CONFIG as well must change nothing.
    writeFileSync(join(root, 'etc/otaflux/otaflux.config.ts'), "import { defineConfig } from 'otaflux';\nexport default defineConfig({ server: { adminToken: 'token-from-the-config-file', adminListenAddr: false, adminOnDevicePort: true } });\n", { mode: 0o644 });
    const envPath = join(root, 'etc/otaflux/otaflux.env');
    writeFileSync(envPath, `${readFileSync(envPath, 'utf8')}OTAFLUX_CONFIG=/etc/otaflux/otaflux.config.ts\n`);
    const svc = startService(root, systemdSetup(root, UNIT));
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitForHealth(url, svc);
      expect((await fetch(`${url}/api/status`)).status).toBe(401);
      expect((await fetch(`${url}/api/status`, { headers: { authorization: 'Bearer token-from-the-config-file' } })).status).toBe(200);
      expect(await (await fetch(`${url}/version?device=esp32-demo`)).text()).toBe(expected);
    } finally {
      stop(svc);
    }
    expect(await svc.exited).toBe(0);
  }, 120_000);

  test('with /etc/otaflux at 0750 the service user cannot enter it: the service does not start', async () => {
    const { root } = await installed();
    const svc = startService(root, systemdSetup(root, UNIT.replace(/^ConfigurationDirectoryMode=.*$/m, 'ConfigurationDirectoryMode=0750')));
    expect(await svc.exited).toBe(200);
    expect(svc.stderr()).toContain("can't cd to /etc/otaflux");
  }, 120_000);

  test('without the password credential the registry refuses it and nothing is served', async () => {
    const { root, port } = await installed();
    const s = systemdSetup(root, UNIT.replace(/^LoadCredential=registry-password:.*$/m, ''));
    expect(readFileSync(join(root, CREDENTIALS, 'registry-password'), 'utf8')).toBe('\n');
    const svc = startService(root, s);
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitForHealth(url, svc);
      const v = await fetch(`${url}/version?device=esp32-demo`);
      expect(v.status).toBe(503);
      expect(await v.text()).toBe("Firmware source unavailable for device 'esp32-demo', retry later");
    } finally {
      stop(svc);
    }
    expect(await svc.exited).toBe(0);
    void dirname;
  }, 120_000);
});
