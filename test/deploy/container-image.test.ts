/**
 * deploy/Containerfile built for real with deploy/build-image.sh and podman (no base image, no
 * registry), then run as a new operator would: read-only root filesystem, the image's non-root
 * user, the cache on a named volume. amd64 serves /version byte-exact; arm64 is built from the
 * arm64 binary and run through qemu-user inside the container (this machine registers no binfmt
 * handler, so the kernel alone cannot start an arm64 image).
 *
 * Ulimits: podman asks the runtime for RLIMIT_NOFILE 1048576 and the host's RLIMIT_NPROC by
 * default; without CAP_SYS_RESOURCE (this machine's containers lack it) runc fails with
 * "error setting rlimit type 7/6: operation not permitted", with --ulimit host too. Explicit
 * limits at or below what this process may set work, so the test passes them. crun fails
 * whatever the limits ("cgroups in hybrid mode not supported", or the same setrlimit error with
 * --cgroups=disabled), so the test runs podman with runc.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pkg from '../../package.json' with { type: 'json' };
import { tempDir } from '../support/tmp.ts';
import { freePort } from '../support/ports.ts';
import { compiledBinary } from '../build/binary.ts';

const ROOT = join(import.meta.dir, '../..');
const podman = Bun.which('podman');
const runc = Bun.which('runc');
/** podman with runc: crun (Debian's default once installed) fails here with "cgroups in hybrid mode not supported". */
const PODMAN = ['podman', '--runtime', 'runc'];
const qemu = Bun.which('qemu-aarch64-static');
const RUN = `otaflux-test-${process.pid}-${Date.now().toString(36)}`;
const made = { images: [] as string[], containers: [] as string[], volumes: [] as string[] };

async function sh(cmd: string[], timeoutMs = 300_000): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn(cmd, { stdout: 'pipe', stderr: 'pipe', timeout: timeoutMs });
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code, out, err };
}
async function must(cmd: string[], timeoutMs?: number): Promise<string> {
  const r = await sh(cmd, timeoutMs);
  if (r.code !== 0) throw new Error(`${cmd.join(' ')}: exit ${r.code}: ${r.err.slice(-1500)}`);
  return r.out;
}

/** Hard limits this process has, capped: what a container may be given without CAP_SYS_RESOURCE. */
function ulimits(): string[] {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const hard = (name: string) => Number(new RegExp(`^${name}\\s+\\S+\\s+(\\d+)`, 'm').exec(limits)?.[1] ?? 1024);
  const nofile = Math.min(hard('Max open files'), 16384);
  const nproc = Math.min(hard('Max processes'), 4096);
  return ['--ulimit', `nofile=${nofile}:${nofile}`, '--ulimit', `nproc=${nproc}:${nproc}`];
}

async function buildImage(arch: 'amd64' | 'arm64'): Promise<string> {
  const bin = (await compiledBinary(arch === 'amd64' ? 'linux-x64' : 'linux-arm64')).path;
  const tag = `localhost/${RUN}:${arch}`;
  made.images.push(tag);
  await must(['sh', join(ROOT, 'deploy/build-image.sh'), '--arch', arch, '--binary', bin, '--tag', tag, '--engine', 'podman']);
  return tag;
}

function firmwareFolder(): { dir: string; image: Buffer; expected: string } {
  const dir = tempDir('otaflux-image-fw-');
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'esp32-lab'), { mode: 0o755 });
  const image = randomBytes(70_000);
  writeFileSync(join(dir, 'esp32-lab', '2.4.1.bin'), image, { mode: 0o644 });
  return { dir, image, expected: `2.4.1\n${Bun.hash.crc32(image) >>> 0}\n${image.length}` };
}

async function waitFor(url: string, timeoutMs: number): Promise<Response> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fetch(url);
    } catch (e) {
      if (Date.now() > until) throw e;
      await Bun.sleep(250);
    }
  }
}

/** Starts the image detached: read-only, its own user, a new named volume on the cache. */
async function serve(tag: string, fw: string, port: number, extra: string[] = [], entry: string[] = []): Promise<{ name: string; volume: string }> {
  const name = `${RUN}-${port}`;
  const volume = `${name}-cache`;
  made.containers.push(name);
  made.volumes.push(volume);
  await must(['podman', 'volume', 'create', volume]);
  await must([
    ...PODMAN, 'run', '-d', '--name', name, '--read-only', '--network', 'host', ...ulimits(),
    '-v', `${volume}:/var/cache/otaflux`, '-v', `${fw}:/srv/firmware:ro`, ...extra, tag,
    ...entry, 'serve', '--firmware-dir', '/srv/firmware', '--listen-addr', `127.0.0.1:${port}`, '--metrics-listen-addr', '127.0.0.1:0',
  ]);
  return { name, volume };
}

afterAll(async () => {
  for (const c of made.containers) await sh(['podman', 'rm', '-f', '-t', '2', c]);
  for (const v of made.volumes) await sh(['podman', 'volume', 'rm', '-f', v]);
  for (const i of made.images) await sh(['podman', 'rmi', '-f', i]);
}, 60_000);

describe.skipIf(!podman || !runc)('container image (podman)', () => {
  let amd64 = '';
  beforeAll(async () => {
    amd64 = await buildImage('amd64');
  }, 300_000);

  test('amd64: non-root, its own files only, and a cache volume', async () => {
    const [info] = JSON.parse(await must(['podman', 'image', 'inspect', amd64])) as any[];
    expect(info.Architecture).toBe('amd64');
    expect(info.Config.User).toBe('65532:65532');
    expect(info.Config.Entrypoint).toEqual(['/usr/local/bin/otaflux']);
    expect(info.Config.Cmd).toEqual(['serve']);
    expect(Object.keys(info.Config.Volumes ?? {})).toEqual(['/var/cache/otaflux']);
    expect(info.Config.StopSignal).toBe('SIGTERM');
    expect(info.RootFS.Layers.length).toBe(1);
    const mount = (await must(['podman', 'image', 'mount', amd64])).trim();
    try {
      const files = readdirSync(mount, { recursive: true, withFileTypes: true }).filter((e) => !e.isDirectory()).map((e) => join(e.parentPath, e.name).slice(mount.length)).sort();
      expect(files).toEqual([
        '/etc/group', '/etc/passwd', '/lib/x86_64-linux-gnu/libc.so.6', '/lib/x86_64-linux-gnu/libdl.so.2', '/lib/x86_64-linux-gnu/libm.so.6',
        '/lib/x86_64-linux-gnu/libpthread.so.0', '/lib64/ld-linux-x86-64.so.2', '/usr/local/bin/otaflux',
      ]);
      expect(statSync(join(mount, 'var/cache/otaflux')).uid).toBe(65532);
      expect(statSync(join(mount, 'usr/local/bin/otaflux')).uid).toBe(0);
    } finally {
      await sh(['podman', 'image', 'unmount', amd64]);
    }
  }, 60_000);

  test('amd64: serves /version byte-exact and /firmware from a read-only container, caching on the volume', async () => {
    const fw = firmwareFolder();
    const port = await freePort();
    const c = await serve(amd64, fw.dir, port);
    try {
      const res = await waitFor(`http://127.0.0.1:${port}/version?device=esp32-lab`, 30_000);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(await res.text()).toBe(fw.expected);
      const bin = await fetch(`http://127.0.0.1:${port}/firmware?device=esp32-lab`);
      expect(Buffer.from(await bin.arrayBuffer()).equals(fw.image)).toBe(true);
      expect((await fetch(`http://127.0.0.1:${port}/ready`)).status).toBe(200);

      const [ins] = JSON.parse(await must(['podman', 'container', 'inspect', c.name])) as any[];
      expect(ins.HostConfig.ReadonlyRootfs).toBe(true);
      expect(ins.Config.User).toBe('65532:65532');
      const top = await must(['podman', 'top', c.name, 'huser', 'args']);
      expect(top).toMatch(/65532\s+\/usr\/local\/bin\/otaflux serve/);
      // The image went into the named volume, written by the image's user.
      const [vol] = JSON.parse(await must(['podman', 'volume', 'inspect', c.volume])) as any[];
      const blobs = readdirSync(join(vol.Mountpoint, 'blobs'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
      expect(blobs.length).toBeGreaterThan(0);
      expect(blobs.map((e) => statSync(join(e.parentPath, e.name)).uid)).toEqual(blobs.map(() => 65532));
      // Writing anywhere else fails: the root filesystem is read-only.
      const w = await sh([...PODMAN, 'exec', c.name, '/usr/local/bin/otaflux', 'prefetch', '--firmware-dir', '/srv/firmware', '--cache-dir', '/etc/otaflux/cache', 'esp32-lab']);
      expect(w.code).not.toBe(0);
      expect(w.err).toMatch(/EROFS|read-only/i);
      // SIGTERM (podman stop) drains and exits 0.
      await must([...PODMAN, 'stop', '-t', '20', c.name]);
      const [stopped] = JSON.parse(await must(['podman', 'container', 'inspect', c.name])) as any[];
      expect(stopped.State.ExitCode).toBe(0);
    } finally {
      await sh(['podman', 'rm', '-f', c.name]);
    }
  }, 120_000);

  test.skipIf(!qemu)('arm64: built from the arm64 binary; serves /version byte-exact under qemu-user (Cortex-A53)', async () => {
    const arm64 = await buildImage('arm64');
    const [info] = JSON.parse(await must(['podman', 'image', 'inspect', arm64])) as any[];
    expect(info.Architecture).toBe('arm64');
    const qemuIn = ['-v', `${qemu}:/qemu-aarch64-static:ro`, '--entrypoint', '/qemu-aarch64-static'];
    const version = await must([...PODMAN, 'run', '--rm', '--read-only', ...ulimits(), ...qemuIn, arm64, '-cpu', 'cortex-a53', '/usr/local/bin/otaflux', '--version'], 120_000);
    expect(version).toBe(`otaflux ${pkg.version} (bun ${Bun.version}, linux-arm64)\n`);

    const fw = firmwareFolder();
    const port = await freePort();
    const c = await serve(arm64, fw.dir, port, qemuIn, ['-cpu', 'cortex-a53', '/usr/local/bin/otaflux']);
    try {
      const res = await waitFor(`http://127.0.0.1:${port}/version?device=esp32-lab`, 90_000);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(fw.expected);
    } finally {
      await sh(['podman', 'rm', '-f', '-t', '2', c.name]);
    }
  }, 400_000);
});
