/**
 * source.oci through the whole server (flags as the Rust server takes them → core resolver → HTTP):
 * a crowd of first downloads causes one blob GET, the last good copy is served while the registry
 * is down, also after a restart from the disk cache, and a never-cached device gets 503 fast.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pushArtifact, startRegistry, type TestRegistry } from '../support/registry.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/tmp.ts';
import { FW_TYPE, randomFirmware } from './helpers.ts';
import type { FlagValues } from '../../src/cli/flags.ts';

let reg: TestRegistry;
const servers: TestServer[] = [];
beforeAll(async () => { reg = await startRegistry({ auth: 'htpasswd' }); });
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await reg.close();
});

function flags(extra: FlagValues = {}): FlagValues {
  return {
    'registry-url': reg.host,
    'registry-insecure': true,
    'repository-prefix': 'fw/',
    'registry-username': reg.username!,
    'registry-password': reg.password!,
    'refresh-interval': 0,
    ...extra,
  };
}

async function serve(extra: FlagValues = {}): Promise<TestServer> {
  const s = await startTestServer({ flags: flags(extra) });
  servers.push(s);
  return s;
}

test('120 concurrent first downloads cause one blob GET and get identical, exact bytes', async () => {
  const fw = randomFirmware(1 << 20);
  const digest = await pushArtifact(reg, 'fw/crowd', '1.4.0', [{ name: 'firmware.bin', data: fw, mediaType: FW_TYPE }]);
  const layer = ((await (await reg.fetch(`/v2/fw/crowd/manifests/${digest}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).json()) as { layers: { digest: string }[] }).layers[0]!.digest;
  const s = await serve({ 'refresh-interval': 60 });
  const bodies = await Promise.all(
    Array.from({ length: 120 }, async () => {
      const r = await fetch(`${s.url}/firmware?device=crowd`);
      expect(r.status).toBe(200);
      return Buffer.from(await r.arrayBuffer());
    }),
  );
  for (const b of bodies) expect(Buffer.compare(b, fw)).toBe(0);
  expect(await reg.blobGets({ digest: layer })).toBe(1);
  const v = await (await fetch(`${s.url}/version?device=crowd`)).text();
  expect(v).toBe(`1.4.0\n${Bun.hash.crc32(fw) >>> 0}\n${fw.byteLength}`);
}, 60_000);

test('registry down: last good copy served, also after a restart from disk; never-cached device → 503', async () => {
  const fw = randomFirmware(300_000);
  await pushArtifact(reg, 'fw/staley', 'v2.1.0', [{ name: 'firmware.bin', data: fw, mediaType: FW_TYPE }]);
  const cacheDir = tempDir('otaflux-oci-cache-');
  const first = await serve({ 'cache-dir': cacheDir });
  const expected = `2.1.0\n${Bun.hash.crc32(fw) >>> 0}\n${fw.byteLength}`;
  expect(await (await fetch(`${first.url}/version?device=staley`)).text()).toBe(expected);

  await reg.stop();
  try {
    const r = await fetch(`${first.url}/version?device=staley`);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe(expected);
    expect(first.logs.some((l) => l.includes('serving last good release') && l.includes('unreachable'))).toBe(true);
    await first.close();
    servers.splice(servers.indexOf(first), 1);

    const second = await serve({ 'cache-dir': cacheDir });
    const v = await fetch(`${second.url}/version?device=staley`);
    expect(v.status).toBe(200);
    expect(await v.text()).toBe(expected);
    const body = Buffer.from(await (await fetch(`${second.url}/firmware?device=staley`)).arrayBuffer());
    expect(Buffer.compare(body, fw)).toBe(0);

    const t0 = performance.now();
    const never = await fetch(`${second.url}/version?device=never-seen`);
    expect(never.status).toBe(503);
    expect(performance.now() - t0).toBeLessThan(5000);
  } finally {
    await reg.start();
  }
}, 60_000);

test('a blob corrupted in the registry is never cached nor served; repaired, it is stored under its layer digest', async () => {
  const fw = randomFirmware(200_000);
  const digest = await pushArtifact(reg, 'fw/rotten', '1.0.0', [{ name: 'firmware.bin', data: fw, mediaType: FW_TYPE }]);
  const layer = ((await (await reg.fetch(`/v2/fw/rotten/manifests/${digest}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).json()) as { layers: { digest: string }[] }).layers[0]!.digest;
  const stored = reg.blobPath(layer);
  const rotten = Buffer.from(fw);
  rotten[1234] = rotten[1234]! ^ 0xff; // same size: only the digest check at the end of the stream can tell
  writeFileSync(stored, rotten);
  const cacheDir = tempDir('otaflux-oci-rotten-');
  const s = await serve({ 'cache-dir': cacheDir });
  const bad = await fetch(`${s.url}/firmware?device=rotten`);
  expect(bad.status).toBe(502);
  expect(await bad.text()).toBe("Firmware for device 'rotten' could not be prepared");
  expect(readdirSync(join(cacheDir, 'blobs', 'sha256'))).toEqual([]);

  writeFileSync(stored, fw);
  s.runtime.resolver.invalidate('rotten');
  const good = await fetch(`${s.url}/firmware?device=rotten`);
  expect(good.status).toBe(200);
  expect(good.headers.get('etag')).toBe(`"${layer.slice(7)}"`);
  expect(Buffer.compare(Buffer.from(await good.arrayBuffer()), fw)).toBe(0);
  const blob = join(cacheDir, 'blobs', 'sha256', layer.slice(7));
  expect(new Bun.CryptoHasher('sha256').update(readFileSync(blob)).digest('hex')).toBe(layer.slice(7));
}, 60_000);

test('TLS registry with a private CA and bearer tokens, configured by flags only', async () => {
  const tlsReg = await startRegistry({ tls: true, auth: 'bearer' });
  try {
    const fw = randomFirmware(50_000);
    await pushArtifact(tlsReg, 'fw/secure', 'v1.0.0', [{ name: 'firmware.bin', data: fw, mediaType: FW_TYPE }]);
    const s = await serve({
      'registry-url': `https://${tlsReg.host}`,
      'registry-insecure': false,
      'registry-ca-cert-path': tlsReg.caFile!,
      'registry-username': tlsReg.username!,
      'registry-password': tlsReg.password!,
    });
    const v = await fetch(`${s.url}/version?device=secure`);
    expect(v.status).toBe(200);
    expect(await v.text()).toBe(`1.0.0\n${Bun.hash.crc32(fw) >>> 0}\n${fw.byteLength}`);
    expect(s.logs.join('\n')).not.toContain(tlsReg.password!);
  } finally {
    await tlsReg.close();
  }
}, 60_000);
