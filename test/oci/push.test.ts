// `otaflux push` against Debian's docker-registry: the manifest has the shape `oras push` writes and
// the OCI source reads; chunked uploads of large files with progress; an existing version is refused
// unless --force; non-semver versions, unreachable registries, refused credentials and untrusted
// certificates each give one line on stderr. Every flag and env var of the command is exercised here
// or in sign.test.ts.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createHash } from 'node:crypto';
import { startRegistry, freePort, type TestRegistry } from '../support/registry.ts';
import { ociFor, device, readAll } from './helpers.ts';
import { firmwareFile, oneLine, otaflux, pushedDigest } from './publish-cli.ts';
import { byteProgress } from '../../src/cli/commands/byte-progress.ts';

let plain: TestRegistry;
let secure: TestRegistry;

beforeAll(async () => {
  [plain, secure] = await Promise.all([startRegistry(), startRegistry({ auth: 'htpasswd', tls: true })]);
}, 60_000);
afterAll(async () => {
  await plain?.close();
  await secure?.close();
});

async function manifestOf(reg: TestRegistry, repository: string, tag: string): Promise<Record<string, any>> {
  const res = await reg.fetch(`/v2/${repository}/manifests/${tag}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } }, repository);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, any>;
}

const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('a plain registry', () => {
  test('pushes the oras 1.1 shape, which the OCI source resolves to the same bytes', async () => {
    const fw = firmwareFile('a 1.0.0', 5000, 'esp32-app.bin');
    const r = await otaflux(['push', fw.path, '--device', 'esp32-a', '--version', '1.0.0', '--registry', `http://${plain.host}`, '--prefix', 'fw']);
    expect(r.code).toBe(0);
    const digest = pushedDigest(r);
    expect(r.stdout).toContain(`pushed ${plain.host}/fw/esp32-a:1.0.0 ${digest} (5000 bytes)`);
    expect(r.stderr).toContain(`otaflux sign ${plain.host}/fw/esp32-a@${digest}`);
    const m = await manifestOf(plain, 'fw/esp32-a', '1.0.0');
    expect(m.artifactType).toBe('application/vnd.unknown.artifact.v1');
    expect(m.config).toEqual({ mediaType: 'application/vnd.oci.empty.v1+json', digest: sha(new TextEncoder().encode('{}')), size: 2, data: 'e30=' });
    expect(m.layers).toEqual([{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(fw.bytes), size: 5000, annotations: { 'org.opencontainers.image.title': 'esp32-app.bin' } }]);
    expect(m.annotations['org.opencontainers.image.created']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const source = await ociFor(plain);
    const [v] = await source.versions(device('esp32-a'));
    const artifact = await source.resolve(device('esp32-a'), v!);
    expect(artifact.digest).toBe(digest);
    expect(artifact.name).toBe('esp32-app.bin');
    expect(await readAll(await artifact.open())).toEqual(fw.bytes);
  }, 30_000);

  test('--media-type sets the layer media type; a device with a / is a repository path, and --prefix is not used', async () => {
    const fw = firmwareFile('media type');
    const r = await otaflux(['push', fw.path, '--device', 'other/board-7', '--version', 'v2.1.0-rc.1', '--registry', plain.host, '--insecure', '--prefix', 'fw', '--media-type', 'application/vnd.espressif.esp32.firmware.v1+binary']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${plain.host}/other/board-7:v2.1.0-rc.1`);
    expect((await manifestOf(plain, 'other/board-7', 'v2.1.0-rc.1')).layers[0].mediaType).toBe('application/vnd.espressif.esp32.firmware.v1+binary');
  }, 30_000);

  test('an existing version is refused unless it holds the same file; --force replaces it and says what it was', async () => {
    const args = (f: string) => ['push', f, '--device', 'esp32-b', '--version', '3.0.0', '--registry', `http://${plain.host}`, '--prefix', 'fw'];
    const first = await otaflux(args(firmwareFile('b one').path));
    const before = pushedDigest(first);
    const again = await otaflux(args(firmwareFile('b two').path));
    expect(again.code).toBe(1);
    expect(oneLine(again)).toBe(`otaflux: ${plain.host}/fw/esp32-b:3.0.0 already exists (${before}) with other content: a published version is not overwritten; push a new version, or pass --force to replace it`);
    // The same file again (a pipeline run twice) succeeds and writes nothing; the same bytes under another media type do not.
    const same = await otaflux(args(firmwareFile('b one').path));
    expect(same.code).toBe(0);
    expect(same.stdout).toBe(`unchanged ${plain.host}/fw/esp32-b:3.0.0 ${before} (4096 bytes)\n`);
    expect(same.stderr).toBe('the version already holds this file: nothing was written\n');
    const otherType = await otaflux([...args(firmwareFile('b one').path), '--media-type', 'application/octet-stream']);
    expect(otherType.code).toBe(1);
    expect((await manifestOf(plain, 'fw/esp32-b', '3.0.0')).layers[0].digest).toBe(sha(firmwareFile('b one').bytes));

    const forced = await otaflux([...args(firmwareFile('b two').path), '--force']);
    expect(forced.code).toBe(0);
    expect(forced.stderr).toContain(`replaced ${plain.host}/fw/esp32-b:3.0.0 (was ${before})`);
    expect(pushedDigest(forced)).not.toBe(before);
    expect((await manifestOf(plain, 'fw/esp32-b', '3.0.0')).layers[0].digest).toBe(sha(firmwareFile('b two').bytes));
  }, 30_000);

  test('a file the registry already has is not uploaded again', async () => {
    const fw = firmwareFile('same bytes');
    expect((await otaflux(['push', fw.path, '--device', 'esp32-c', '--version', '1.0.0', '--registry', `http://${plain.host}`, '--prefix', 'fw'])).code).toBe(0);
    const r = await otaflux(['push', fw.path, '--device', 'esp32-c', '--version', '1.0.1', '--registry', `http://${plain.host}`, '--prefix', 'fw']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('the registry already had the bytes of');
  }, 30_000);

  test('a large file goes up in chunks with progress on stderr, and arrives whole', async () => {
    const fw = firmwareFile('large image', 20 * 1024 * 1024 + 123, 'rootfs.swu');
    const r = await otaflux(['push', fw.path, '--device', 'gateway', '--version', '4.0.0', '--registry', `http://${plain.host}`, '--prefix', 'fw']);
    expect(r.code).toBe(0);
    const progress = r.stderr.split('\n').filter((l) => l.startsWith('uploading rootfs.swu: '));
    expect(progress).toEqual(['uploading rootfs.swu: 39 % (8.0 of 20.0 MiB)', 'uploading rootfs.swu: 79 % (16.0 of 20.0 MiB)', 'uploading rootfs.swu: 100 % (20.0 of 20.0 MiB)']);
    // Three PATCH requests (8 + 8 + 4 MiB) in the registry's access log, then the whole blob back.
    expect(plain.accessLog().filter((l) => l.includes('"PATCH /v2/fw/gateway/blobs/uploads/')).length).toBe(3);
    const res = await plain.fetch(`/v2/fw/gateway/blobs/${sha(fw.bytes)}`, {}, 'fw/gateway');
    expect(sha(new Uint8Array(await res.arrayBuffer()))).toBe(sha(fw.bytes));
  }, 60_000);

  test('a version that is not semver is refused before anything is sent (exit 2)', async () => {
    for (const version of ['latest', '1.2', 'sha256-abc.sig']) {
      const r = await otaflux(['push', firmwareFile('x').path, '--device', 'esp32-d', '--version', version, '--registry', `http://${plain.host}`]);
      expect(r.code).toBe(2);
      expect(oneLine(r)).toContain(`--version '${version}' is not semver`);
    }
    expect(plain.accessLog().some((l) => l.includes('/fw/esp32-d/') || l.includes(' /v2/esp32-d/'))).toBe(false);
  }, 30_000);

  test('otaflux --help lists push and sign; push --help lists its flags with their env vars', async () => {
    const main = await otaflux(['--help']);
    expect(main.stdout).toContain('otaflux push <file> --device D --version V');
    expect(main.stdout).toContain('otaflux sign <host>/<repo>:<tag> --key K');
    const own = await otaflux(['push', '--help']);
    expect(own.code).toBe(0);
    expect(own.stdout).toContain('--registry <value>');
    expect(own.stdout).toContain('[env: REGISTRY_URL]');
  }, 30_000);

  test('missing file, missing flags and unknown flags are usage errors', async () => {
    const base = ['--device', 'esp32-d', '--version', '1.0.0', '--registry', `http://${plain.host}`];
    expect(oneLine(await otaflux(['push', '/nonexistent/fw.bin', ...base]))).toBe('otaflux: push: /nonexistent/fw.bin is not a readable file');
    expect(oneLine(await otaflux(['push', firmwareFile('y').path, '--version', '1.0.0', '--registry', plain.host]))).toContain('--device is required');
    expect(oneLine(await otaflux(['push', firmwareFile('y').path, '--device', 'd', '--version', '1.0.0']))).toContain('--registry is required (or env REGISTRY_URL)');
    const unknown = await otaflux(['push', firmwareFile('y').path, ...base, '--tag', 'x']);
    expect(unknown.code).toBe(2);
    expect(oneLine(unknown)).toContain('push: unknown flag --tag');
  }, 30_000);

  test('an unreachable registry is one line naming it', async () => {
    const port = await freePort();
    const r = await otaflux(['push', firmwareFile('z').path, '--device', 'esp32-e', '--version', '1.0.0', '--registry', `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(oneLine(r)).toMatch(new RegExp(`^otaflux: checking tag 1\\.0\\.0 in 127\\.0\\.0\\.1:${port}/esp32-e: cannot reach 127\\.0\\.0\\.1:${port} \\(.+\\): check --registry and that the registry runs$`));
  }, 30_000);

  test('plain HTTP registry given as https: the message says to use http:// or --insecure', async () => {
    const r = await otaflux(['push', firmwareFile('z').path, '--device', 'esp32-e', '--version', '1.0.0', '--registry', plain.host]);
    expect(r.code).toBe(1);
    expect(oneLine(r)).toContain(`if the registry speaks plain HTTP, give http://${plain.host} or --insecure`);
  }, 30_000);
});

test('on a terminal, progress is one line redrawn in place and cleared at the end', () => {
  const written: string[] = [];
  const p = byteProgress({ isTTY: true, write: (x: string) => written.push(x) }, 'rootfs.swu');
  p.start(20 << 20);
  p.update(8 << 20);
  p.update(20 << 20);
  p.done();
  expect(written).toEqual([
    '\r\x1b[2Kuploading rootfs.swu: 0 % (0.0 of 20.0 MiB)',
    '\r\x1b[2Kuploading rootfs.swu: 40 % (8.0 of 20.0 MiB)',
    '\r\x1b[2Kuploading rootfs.swu: 100 % (20.0 of 20.0 MiB)',
    '\r\x1b[2K',
  ]);
});

describe('a registry with Bearer tokens', () => {
  test('asks the token server for pull,push on the repository, and pushes', async () => {
    const reg = await startRegistry({ auth: 'bearer', anonymousPull: true });
    try {
      const fw = firmwareFile('bearer');
      const anonymous = await otaflux(['push', fw.path, '--device', 'fw/esp32-t', '--version', '1.0.0', '--registry', `http://${reg.host}`]);
      expect(anonymous.code).toBe(1);
      expect(oneLine(anonymous)).toContain('401 unauthorized: the registry wants credentials');
      const r = await otaflux(['push', fw.path, '--device', 'fw/esp32-t', '--version', '1.0.0', '--registry', `http://${reg.host}`], { REGISTRY_USERNAME: reg.username as string, REGISTRY_PASSWORD: reg.password as string });
      expect(r.code).toBe(0);
      expect(reg.tokenServer?.scopes).toContain('repository:fw/esp32-t:pull,push');
      expect((await manifestOf(reg, 'fw/esp32-t', '1.0.0')).layers[0].digest).toBe(sha(fw.bytes));
    } finally {
      await reg.close();
    }
  }, 60_000);
});

describe('a registry with a password and a private CA', () => {
  const fw = () => firmwareFile('secure 1.0.0', 3000);
  const flags = () => ['--registry', secure.url, '--ca-cert', secure.caFile as string, '--prefix', 'fw'];

  test('without credentials: 401, with what to do', async () => {
    const r = await otaflux(['push', fw().path, '--device', 'esp32-s', '--version', '1.0.0', ...flags()]);
    expect(r.code).toBe(1);
    expect(oneLine(r)).toBe(`otaflux: checking tag 1.0.0 in ${secure.host}/fw/esp32-s: 401 unauthorized: the registry wants credentials: pass --username and --password (env REGISTRY_USERNAME, REGISTRY_PASSWORD)`);
  }, 30_000);

  test('a wrong password: 401, the credentials were refused', async () => {
    const r = await otaflux(['push', fw().path, '--device', 'esp32-s', '--version', '1.0.0', ...flags(), '--username', secure.username as string, '--password', 'wrong-password']);
    expect(r.code).toBe(1);
    expect(oneLine(r)).toContain('401 unauthorized: the registry refused the credentials: check --username and --password');
    expect(r.stderr).not.toContain('wrong-password');
  }, 30_000);

  test('without the CA: the certificate is not trusted, pass --ca-cert', async () => {
    const r = await otaflux(['push', fw().path, '--device', 'esp32-s', '--version', '1.0.0', '--registry', secure.url, '--username', secure.username as string, '--password', secure.password as string]);
    expect(r.code).toBe(1);
    expect(oneLine(r)).toContain(`the TLS certificate of ${secure.host} is not trusted`);
    expect(r.stderr).toContain("pass the registry's CA with --ca-cert");
  }, 30_000);

  test('flags: --username, --password, --ca-cert, --prefix push it', async () => {
    const r = await otaflux(['push', fw().path, '--device', 'esp32-s', '--version', '1.0.0', ...flags(), '--username', secure.username as string, '--password', secure.password as string]);
    expect(r.code).toBe(0);
    expect((await manifestOf(secure, 'fw/esp32-s', '1.0.0')).layers[0].digest).toBe(sha(fw().bytes));
  }, 30_000);

  test('env vars: REGISTRY_URL, REPOSITORY_PREFIX, REGISTRY_USERNAME, REGISTRY_PASSWORD, REGISTRY_CA_CERT_PATH (flags win)', async () => {
    const env = { REGISTRY_URL: secure.url, REPOSITORY_PREFIX: 'envfw', REGISTRY_USERNAME: secure.username as string, REGISTRY_PASSWORD: secure.password as string, REGISTRY_CA_CERT_PATH: secure.caFile as string };
    const r = await otaflux(['push', fw().path, '--device', 'esp32-env', '--version', '1.0.0'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`pushed ${secure.host}/envfw/esp32-env:1.0.0`);
    // Each env var matters: without it the push fails the way it names.
    for (const [name, failure] of [['REGISTRY_USERNAME', 'refused the credentials'], ['REGISTRY_PASSWORD', 'refused the credentials'], ['REGISTRY_CA_CERT_PATH', 'not trusted'], ['REGISTRY_URL', '--registry is required']] as const) {
      const without: Record<string, string> = { ...env };
      delete without[name];
      const f = await otaflux(['push', fw().path, '--device', 'esp32-env', '--version', '1.0.1'], without);
      expect(f.code).not.toBe(0);
      expect(oneLine(f)).toContain(failure);
    }
    // A flag beats its env var.
    const flagWins = await otaflux(['push', fw().path, '--device', 'esp32-env', '--version', '1.0.2', '--prefix', 'flagfw'], env);
    expect(flagWins.stdout).toContain(`${secure.host}/flagfw/esp32-env:1.0.2`);
  }, 60_000);
});
