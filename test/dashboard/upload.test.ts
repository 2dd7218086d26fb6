// Upload into the local folder source through the dashboard (real sockets): the release lands whole
// under <root>/<device>/<version>.bin with the hashes reported, devices are served it; an existing
// version is never replaced (also by two uploads racing), the version must be semver, the device
// group must be served from a folder, and server.uploadMaxBytes bounds the size.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { join } from 'node:path';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { freePort } from '../support/ports.ts';
import { flash, post, signIn, type Signed } from './sign-in.ts';

const ADMIN = 'admin-token-upload-test-01';
const LIMIT = 4096;
let s: TestServer;
let base: string;
let root: string;
let admin: Signed;

beforeAll(async () => {
  const fw = firmwareDir({ 'esp32-a': { '1.0.0.bin': 32 } });
  root = fw.root;
  const closed = await freePort();
  const config = join(tempDir('otaflux-upload-'), 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir, oci } from 'otaflux';
export default defineConfig({
  server: { adminToken: ${JSON.stringify(ADMIN)}, uploadMaxBytes: ${LIMIT} },
  devices: {
    'esp32-*': { source: dir({ root: ${JSON.stringify(root)} }) },
    'oci-*': { source: oci({ url: 'http://127.0.0.1:${closed}', prefix: 'fw' }) },
  },
});
`);
  s = await startTestServer({ config, flags: { 'admin-on-device-port': false } });
  base = s.adminUrl as string;
  admin = await signIn(base, ADMIN);
}, 60_000);
afterAll(() => s?.close());

function image(n: number, seed: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
}

function upload(stream: string, version: string, bytes: Uint8Array, name = 'app.bin'): Promise<Response> {
  const form = new FormData();
  form.set('stream', stream);
  form.set('version', version);
  form.set('file', new File([bytes], name));
  return post(base, '/ui/releases/upload', admin, form);
}

const leftovers = (device: string) => readdirSync(join(root, device)).filter((n) => n.startsWith('.upload-'));

test('an upload is written whole, hashed, audited, and served to devices', async () => {
  const bytes = image(3000, 7);
  const r = await upload('esp32-a', '1.2.0', bytes);
  expect(r.status).toBe(303);
  const sha = createHash('sha256').update(bytes).digest('hex');
  const crc = Bun.hash.crc32(bytes);
  expect(await flash(base, admin, '/ui/releases')).toBe(`Uploaded esp32-a 1.2.0: 3000 bytes, SHA-256 ${sha}, CRC-32 ${crc}`);
  expect(new Uint8Array(readFileSync(join(root, 'esp32-a', '1.2.0.bin')))).toEqual(new Uint8Array(bytes));
  expect(leftovers('esp32-a')).toEqual([]);
  expect(await (await fetch(`${s.url}/version?device=esp32-a`)).text()).toBe(`1.2.0\n${crc}\n3000`);
  const audit = await (await fetch(`${base}/api/audit`, { headers: { authorization: `Bearer ${ADMIN}` } })).json() as { actor: string; action: string; target: string; detail: { sha256: string } }[];
  expect(audit[0]).toMatchObject({ actor: 'admin', action: 'release.upload', target: 'esp32-a@1.2.0', detail: { sha256: sha } });
  // The releases page lists it with its hash, once a device asked for it.
  expect(await (await fetch(`${base}/ui/releases`, { headers: { cookie: admin.cookie } })).text()).toContain(sha);
});

test('an existing version is never replaced, also when two uploads of it race', async () => {
  const before = readFileSync(join(root, 'esp32-a', '1.0.0.bin'));
  expect((await upload('esp32-a', '1.0.0', image(100, 1))).status).toBe(303);
  expect(await flash(base, admin, '/ui/releases')).toBe('esp32-a 1.0.0 exists already: a published version is never replaced; upload a new version');
  expect(await flash(base, admin, '/ui/releases')).toBe('');
  expect(readFileSync(join(root, 'esp32-a', '1.0.0.bin'))).toEqual(before);
  // 'v1.0.0' names the same version.
  await upload('esp32-a', 'v1.0.0', image(100, 1));
  expect(await flash(base, admin, '/ui/releases')).toContain('exists already');

  // Two sessions upload 1.5.0 with different bytes at once: exactly one file, one of the two images whole.
  const other = await signIn(base, ADMIN);
  const a = image(2000, 11);
  const b = image(2000, 99);
  const formOf = (bytes: Uint8Array, csrf: string) => {
    const f = new FormData();
    f.set('stream', 'esp32-a'); f.set('version', '1.5.0'); f.set('file', new File([bytes], 'x.bin')); f.set('_csrf', csrf);
    return f;
  };
  await Promise.all([post(base, '/ui/releases/upload', admin, formOf(a, admin.csrf)), post(base, '/ui/releases/upload', other, formOf(b, other.csrf))]);
  const results = [await flash(base, admin, '/ui/releases'), await flash(base, other, '/ui/releases')].sort();
  expect(results[0]).toStartWith('Uploaded esp32-a 1.5.0: 2000 bytes');
  // Found by the source's list, or (both past that check) by the link that never replaces a file.
  expect(results[1]).toStartWith('esp32-a 1.5.0 exists already: a published version is never replaced');
  const written = new Uint8Array(readFileSync(join(root, 'esp32-a', '1.5.0.bin')));
  expect(Bun.deepEquals(written, a) || Bun.deepEquals(written, b)).toBe(true);
  expect(leftovers('esp32-a')).toEqual([]);
});

test('the version must be semver, the device group a folder source, the id valid', async () => {
  await upload('esp32-a', '1.2', image(10, 1));
  expect(await flash(base, admin, '/ui/releases')).toBe("version '1.2': expected semver such as 1.2.0 or 1.3.0-beta.2");
  await upload('oci-x', '1.0.0', image(10, 1));
  expect(await flash(base, admin, '/ui/releases')).toBe("'oci-x' is served by source.oci, not a local folder: push to the registry instead (oras push, otaflux push)");
  await upload('../esp32-a', '9.0.0', image(10, 1));
  expect(await flash(base, admin, '/ui/releases')).toBe('invalid device id: not an OCI repository name');
  await upload('nobody', '1.0.0', image(10, 1));
  expect(await flash(base, admin, '/ui/releases')).toBe("no entry of the config serves 'nobody'");
  expect(readdirSync(join(root, 'esp32-a')).sort()).toEqual(['1.0.0.bin', '1.2.0.bin', '1.5.0.bin']);
});

test('server.uploadMaxBytes: a file at the limit is taken, one byte more is refused, a far larger body is cut off unread', async () => {
  expect((await upload('esp32-a', '2.0.0', image(LIMIT, 3))).status).toBe(303);
  expect(await flash(base, admin, '/ui/releases')).toStartWith(`Uploaded esp32-a 2.0.0: ${LIMIT} bytes`);
  await upload('esp32-a', '2.0.1', image(LIMIT + 1, 3));
  expect(await flash(base, admin, '/ui/releases')).toBe(`the file is ${LIMIT + 1} bytes, over the upload limit of ${LIMIT} (server.uploadMaxBytes)`);
  const huge = await upload('esp32-a', '2.0.2', image(512 * 1024, 3));
  expect(huge.status).toBe(413);
  expect(readdirSync(join(root, 'esp32-a')).filter((n) => n.startsWith('2.0.')).sort()).toEqual(['2.0.0.bin']);
  expect(leftovers('esp32-a')).toEqual([]);
});
