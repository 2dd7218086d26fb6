/**
 * RAUC against `/firmware` and the RAUC simple server's manifest endpoints. Real RAUC bundles are
 * built with Debian 12's `rauc` (1.8) and `mksquashfs`, and `rauc info <OtaFlux URL>` checks one
 * (1.8 downloads the bundle whole for `info`; its streaming install needs the kernel's nbd device and
 * it has no polling, so those are tested byte for byte with the requests RAUC ≥ 1.16 sends, from
 * `src/nbd.c` and `src/polling.c`: first `Range: bytes=0-3` with the `RAUC-*` headers and, when
 * polling, `If-None-Match`; then Range reads on the same URL without them).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { startTestServer, type TestServer } from '../support/server.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { openSocket, readOneResponse, type RawResponse } from '../support/raw-http.ts';
import { scrapeMetrics } from '../support/metrics.ts';

const ADMIN = 'rauc-test-admin-token-0123456789';
const COMPATIBLE = 'OtaFlux Test Board';
const work = tempDir('otaflux-rauc-');
let server: TestServer;
let fw: ReturnType<typeof firmwareDir>;
const bundle = (version: string) => Buffer.from(fw.bytes('rauc-board', `${version}.raucb`));

/** Builds a signed verity bundle of `version` with the real `rauc bundle`. */
function raucBundle(version: string): Uint8Array {
  const content = join(work, `content-${version}`);
  mkdirSync(content, { recursive: true });
  writeFileSync(join(content, 'rootfs.img'), randomBytes(96 * 1024));
  writeFileSync(join(content, 'manifest.raucm'), `[update]\ncompatible=${COMPATIBLE}\nversion=${version}\n\n[bundle]\nformat=verity\n\n[image.rootfs]\nfilename=rootfs.img\n`);
  const out = join(work, `bundle-${version}.raucb`);
  const r = Bun.spawnSync(['rauc', 'bundle', `--cert=${join(work, 'cert.pem')}`, `--key=${join(work, 'key.pem')}`, content, out], { stderr: 'pipe' });
  if (r.exitCode !== 0) throw new Error(`rauc bundle failed: ${r.stderr.toString()}`);
  return readFileSync(out);
}

beforeAll(async () => {
  const cert = Bun.spawnSync(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(work, 'key.pem'), '-out', join(work, 'cert.pem'), '-days', '2', '-subj', '/CN=otaflux-rauc-test'], { stderr: 'pipe' });
  if (cert.exitCode !== 0) throw new Error(cert.stderr.toString());
  fw = firmwareDir({ 'rauc-board': { '1.0.0.raucb': raucBundle('1.0.0'), '2.0.0.raucb': raucBundle('2.0.0') }, 'rauc-none': { '1.0.0.raucb': 4096 } });
  writeFileSync(join(work, 'system.conf'), `[system]\ncompatible=${COMPATIBLE}\nbootloader=noop\nbundle-formats=verity\n\n[keyring]\npath=${join(work, 'cert.pem')}\n\n[slot.rootfs.0]\ndevice=${join(work, 'slot0')}\ntype=raw\nbootname=A\n`);
  const config = join(work, 'otaflux.config.ts');
  writeFileSync(config, `import { defineConfig, dir } from 'otaflux';
export default defineConfig({
  server: { adminToken: ${JSON.stringify(ADMIN)} },
  defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }), extract: 'raw' },
  fleet: {
    refreshInterval: 0.2,
    rollouts: [
      // 2.0.0 goes to two systems only: everyone else (an anonymous request too) gets 1.0.0.
      { id: 'board-2', streams: 'rauc-board', version: '2.0.0', instances: ['serial:unit-a', 'serial:unit-poll', 'serial:unit-m'], steps: [{ percent: 100 }] },
      { id: 'none-1', streams: 'rauc-none', version: '1.0.0', instances: ['serial:nobody'], steps: [{ percent: 100 }] },
    ],
  },
  protocols: { rauc: { streams: { 'OtaFlux *': 'rauc-board' } } },
});
`);
  server = await startTestServer({ config });
}, 60_000);
afterAll(() => server?.close());

/** RAUC's first request (curl: Host, Accept; no User-Agent), with the `send-headers` it is configured for. */
function firstRequest(path: string, headers: Record<string, string>): string {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${server.ports.http}\r\nRange: bytes=0-3\r\nAccept: */*\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}
const rangeRequest = (path: string, start: number, end: number) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${server.ports.http}\r\nRange: bytes=${start}-${end}\r\nAccept: */*\r\n\r\n`;

function raucHeaders(serial: string, version: string, boot: string): Record<string, string> {
  return {
    'RAUC-Boot-ID': boot,
    'RAUC-Machine-ID': createHash('md5').update(serial).digest('hex'),
    'RAUC-System-Version': version,
    'RAUC-Serial': serial,
    'RAUC-Variant': 'default',
    'RAUC-Transaction-ID': crypto.randomUUID(),
    'RAUC-Uptime': '1234',
  };
}

async function exchange(s: Socket, request: string): Promise<RawResponse> {
  s.write(request);
  return (await readOneResponse(s)).response;
}

async function checkin(instance: string): Promise<{ route: string; reported_version: string; boot_id: string; downloaded_version: string | null }> {
  await server.runtime.fleet?.flush();
  const r = await fetch(`${server.url}/api/devices/rauc-board?instance=${encodeURIComponent(instance)}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  return ((await r.json()) as { fleet: { checkin: never } }).fleet.checkin;
}

test('the real rauc 1.8 reads and verifies the bundle OtaFlux serves (rauc info over HTTP)', async () => {
  // Asynchronous: the server answers from this process.
  const p = Bun.spawn(['rauc', 'info', `--conf=${join(work, 'system.conf')}`, `--keyring=${join(work, 'cert.pem')}`, `http://127.0.0.1:${server.ports.http}/firmware?device=rauc-board`], { stdout: 'pipe', stderr: 'pipe' });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  const out = stdout + stderr;
  expect(code).toBe(0);
  expect(out).toContain(`Compatible: \t'${COMPATIBLE}'`);
  // An anonymous client is outside the 2.0.0 rollout.
  expect(out).toContain(`Version:    \t'1.0.0'`);
  expect(out).toContain('otaflux-rauc-test');
});

test('streaming: 206 with Content-Range bytes 0-3/<total>, then every later range on the same URL reads the same bundle; downloaded once every byte was read', async () => {
  const v2 = bundle('2.0.0');
  const path = '/firmware?device=rauc-board';
  const s = await openSocket(server.ports.http as number);
  const first = await exchange(s, firstRequest(path, raucHeaders('unit-a', '1.0.0', 'boot-1')));
  expect(first.status).toBe(206);
  expect(first.headers['content-range']).toBe(`bytes 0-3/${v2.length}`);
  expect(first.body.toString('latin1')).toBe('hsqs');
  expect(first.headers.etag).toBe(`"${createHash('sha256').update(v2).digest('hex')}"`);
  const fleet = server.runtime.fleet;
  const state = () => fleet?.outcomesOf('serial:unit-a').find((o) => o.version === '2.0.0')?.state;
  expect(state()).toBe('downloading');
  // RAUC reads the end (the signature) early, then the payload: in 16 KiB pieces, no RAUC-* headers.
  const tail = await exchange(s, rangeRequest(path, v2.length - 4096, v2.length - 1));
  expect(tail.status).toBe(206);
  expect(Buffer.compare(tail.body, v2.subarray(v2.length - 4096))).toBe(0);
  await Bun.sleep(20);
  expect(state()).toBe('downloading');
  const pieces: Buffer[] = [];
  for (let start = 0; start < v2.length - 4096; start += 16384) {
    const end = Math.min(start + 16384, v2.length - 4096) - 1;
    const r = await exchange(s, rangeRequest(path, start, end));
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes ${start}-${end}/${v2.length}`);
    pieces.push(r.body);
  }
  s.destroy();
  expect(Buffer.compare(Buffer.concat([...pieces, tail.body]), v2)).toBe(0);
  await Bun.sleep(20);
  expect(state()).toBe('downloaded');
  const row = await checkin('serial:unit-a');
  expect(row.route).toBe('rauc:firmware');
  expect(row.boot_id).toBe('boot-1');
  expect(row.downloaded_version).toBe('2.0.0');
  // After the reboot, the next first request reports 2.0.0 from a new boot: verified.
  const s2 = await openSocket(server.ports.http as number);
  expect((await exchange(s2, firstRequest(path, raucHeaders('unit-a', '2.0.0', 'boot-2')))).status).toBe(206);
  s2.destroy();
  expect(state()).toBe('verified');
  expect((await checkin('serial:unit-a')).reported_version).toBe('2.0.0');
});

test('polling: the bundle with its ETag, 304 for If-None-Match of the same bundle, 204 when nothing is offered', async () => {
  const path = '/firmware?device=rauc-board';
  const s = await openSocket(server.ports.http as number);
  const poll = await exchange(s, firstRequest(path, raucHeaders('unit-poll', '1.0.0', 'boot-p')));
  expect(poll.status).toBe(206);
  const etag = poll.headers.etag as string;
  const again = await exchange(s, firstRequest(path, { ...raucHeaders('unit-poll', '1.0.0', 'boot-p'), 'If-None-Match': etag }));
  expect(again.status).toBe(304);
  expect(again.body.length).toBe(0);
  // A stale ETag (another bundle): the new bundle.
  const stale = await exchange(s, firstRequest(path, { ...raucHeaders('unit-poll', '1.0.0', 'boot-p'), 'If-None-Match': `"${'0'.repeat(64)}"` }));
  expect(stale.status).toBe(206);
  // rauc-none's only release goes to serial:nobody: nothing for this system (which runs none of it).
  const none = await exchange(s, firstRequest('/firmware?device=rauc-none', raucHeaders('unit-poll', '0.9.0', 'boot-p')));
  expect(none.status).toBe(204);
  expect(none.headers['content-length']).toBeUndefined();
  expect(none.body.length).toBe(0);
  s.destroy();
  const m = await scrapeMetrics(server.ports.metrics as number);
  expect(m.get('otaflux_device_protocol_requests_total{protocol="rauc",status="304"}')).toBe(1);
  expect(m.get('otaflux_device_protocol_requests_total{protocol="rauc",status="204"}')).toBe(1);
});

test('manifest endpoints: {compatible}.json, ?compatible= and X-RAUC-Compatible; bundle_url serves the bundle the manifest names', async () => {
  const v2 = bundle('2.0.0');
  const headers = { 'RAUC-Serial': 'unit-m' };
  const byPath = await fetch(`${server.url}/api/v1/manifest/${encodeURIComponent(COMPATIBLE)}.json`, { headers });
  expect(byPath.status).toBe(200);
  expect(byPath.headers.get('content-length')).toBe(String((await byPath.clone().text()).length));
  const m = (await byPath.json()) as Record<string, unknown>;
  expect(m).toMatchObject({ compatible: COMPATIBLE, version: '2.0.0', size: v2.length, sha256: createHash('sha256').update(v2).digest('hex'), bundle_url: `http://127.0.0.1:${server.ports.http}/firmware?device=rauc-board` });
  expect(typeof m.filename).toBe('string');
  expect(Number.isNaN(Date.parse(m.released_at as string))).toBe(false);
  const byQuery = (await (await fetch(`${server.url}/api/v1/manifest.json?compatible=${encodeURIComponent(COMPATIBLE)}`)).json()) as Record<string, unknown>;
  // Anonymous: outside the rollout, the older bundle.
  expect(byQuery.version).toBe('1.0.0');
  const byHeader = (await (await fetch(`${server.url}/api/v1/manifest.json`, { headers: { 'X-RAUC-Compatible': COMPATIBLE, ...headers } })).json()) as Record<string, unknown>;
  expect(byHeader.version).toBe('2.0.0');
  const got = await fetch(m.bundle_url as string, { headers });
  expect(Buffer.compare(Buffer.from(await got.arrayBuffer()), v2)).toBe(0);
  // No compatible, and one no stream answers to.
  expect((await fetch(`${server.url}/api/v1/manifest.json`)).status).toBe(400);
  expect((await fetch(`${server.url}/api/v1/manifest/${encodeURIComponent('Other Board')}.json`)).status).toBe(404);
});
