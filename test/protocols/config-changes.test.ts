/**
 * The device protocols across restarts of the real process (src/main.ts as a child) after the config
 * changed, on one cache folder: a `protocols.*` section added turns its routes on, changed (tenant,
 * stream map) moves them, removed turns them back to the documented `404 Not Found`; a stream's
 * source switched to another folder or a registry never gets the old source's cached bytes served
 * under the new name (README "The cache", Provenance), nor an unsigned release once a key is
 * configured, nor anything while the new source is down. Every protocol is asked: native `/firmware`,
 * Arduino HTTPUpdate (stream by STA MAC), RAUC streaming (Range reads) and its manifest, and hawkBit
 * DDI (poll, deployment, artifact).
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { firmwareDir } from '../support/firmware-dir.ts';
import { tempDir } from '../support/tmp.ts';
import { pushArtifact, startRegistry, type TestRegistry } from '../support/registry.ts';
import { nodeKeyPair } from '../support/cosign.ts';
import { restartableServer, type RestartableServer } from './restartable-server.ts';

// Child processes and a registry on a shared 2-core machine.
setDefaultTimeout(120_000);

const STREAM = 'cfg-board';
const MAC = '24:0A:C4:12:34:56';
const COMPATIBLE = 'Cfg Test Board';
const OTHER = 'cfg-other';
/** The protocols section: every client of STREAM, or (`changed`) another tenant and Arduino MACs moved to OTHER. */
const protocolsSection = (changed = false) => `protocols: {
    ddi: { ${changed ? "tenant: 'acme', " : ''}streams: { 'ctl-*': '${STREAM}' } },
    arduino: { streams: { '24:0A:C4:*': '${changed ? OTHER : STREAM}' } },
    rauc: { streams: { 'Cfg *': '${STREAM}' } },
  },`;

const folderA = firmwareDir({ [STREAM]: { '1.0.0.bin': 6000 }, [OTHER]: { '2.0.0.bin': 3000 } });
const folderB = firmwareDir({ [STREAM]: { '1.0.0.bin': 7000 } });
const folderEmpty = tempDir('otaflux-cfg-empty-');
mkdirSync(join(folderEmpty, STREAM));
const fromRegistry = new Uint8Array(randomBytes(5000));
const key = nodeKeyPair('p256');
const configPath = join(tempDir('otaflux-cfg-'), 'otaflux.config.ts');
let reg: TestRegistry;
let server: RestartableServer;

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const SHA_A = sha(folderA.bytes(STREAM, '1.0.0.bin'));
const SHA_B = sha(folderB.bytes(STREAM, '1.0.0.bin'));
const SHA_R = sha(fromRegistry);
const SHA_OTHER = sha(folderA.bytes(OTHER, '2.0.0.bin'));

/** Writes the config: one source (TypeScript text) for every device, a verifier, the protocols or not. */
function writeConfig(o: { source: string; verifier?: string; protocols: boolean | 'changed' }) {
  writeFileSync(configPath, `import { defineConfig, dir, oci, cosign, none } from 'otaflux';
export default defineConfig({
  server: { adminToken: 'config-changes-admin-token-0123' },
  defaults: { source: ${o.source}, verifier: ${o.verifier ?? 'none()'}, extract: 'raw' },
  cache: { refreshInterval: 0 },
  fleet: { refreshInterval: 0.2 },
  ${o.protocols ? protocolsSection(o.protocols === 'changed') : ''}
});
`);
}
const dirSource = (root: string) => `dir({ root: ${JSON.stringify(root)} })`;
const registrySource = () => `oci({ url: 'http://${reg.host}', prefix: 'fw' })`;

beforeAll(async () => {
  reg = await startRegistry();
  await pushArtifact(reg, `fw/${STREAM}`, '1.0.0', [{ name: 'fw.bin', data: fromRegistry, mediaType: 'application/octet-stream' }]);
  writeConfig({ source: dirSource(folderA.root), protocols: false });
  server = restartableServer(configPath);
  await server.start();
});
afterAll(async () => {
  await server?.stop();
  await reg?.close();
});

/** One protocol's answer: the status, the SHA-256 of the bytes served (2xx with a body), the body when short. */
interface Served { status: number; sha256?: string; text?: string }

async function answer(r: Response): Promise<Served> {
  const body = new Uint8Array(await r.arrayBuffer());
  const out: Served = { status: r.status };
  if (r.status >= 200 && r.status < 300 && body.length > 0) out.sha256 = sha(body);
  if (r.status >= 300) out.text = new TextDecoder().decode(body);
  return out;
}

async function native(): Promise<Served> {
  return answer(await fetch(`${server.url}/firmware?device=${STREAM}`));
}

/** ESP32 HTTPUpdate without `device`: the stream comes from its STA MAC (protocols.arduino). */
async function arduino(): Promise<Served> {
  return answer(await fetch(`${server.url}/firmware`, { headers: { 'user-agent': 'ESP32-http-Update', 'x-esp32-sta-mac': MAC, 'x-esp32-version': '0.0.1', 'x-esp32-mode': 'sketch' } }));
}

/** RAUC streaming: `bytes=0-3` with its headers, then the rest on the same URL; the whole bundle's hash. */
async function rauc(): Promise<Served> {
  const first = await fetch(`${server.url}/firmware?device=${STREAM}`, { headers: { range: 'bytes=0-3', 'rauc-serial': 'cfg-unit-1', 'rauc-boot-id': 'boot-1' } });
  if (first.status !== 206) return answer(first);
  const head = new Uint8Array(await first.arrayBuffer());
  const rest = await fetch(`${server.url}/firmware?device=${STREAM}`, { headers: { range: 'bytes=4-' } });
  if (rest.status !== 206) return answer(rest);
  const all = new Uint8Array([...head, ...new Uint8Array(await rest.arrayBuffer())]);
  return { status: 206, sha256: sha(all) };
}

/** The RAUC manifest's answer: its status, and the sha256 it names. */
async function manifest(): Promise<Served> {
  const r = await fetch(`${server.url}/api/v1/manifest.json?compatible=${encodeURIComponent(COMPATIBLE)}`);
  if (r.status !== 200) return answer(r);
  return { status: 200, sha256: ((await r.json()) as { sha256: string }).sha256 };
}

/** DDI: poll; follow deploymentBase to the artifact; its bytes must match the sha256 the deployment names. */
async function ddi(controller = 'ctl-1'): Promise<Served & { deployment?: boolean }> {
  const poll = await fetch(`${server.url}/DEFAULT/controller/v1/${controller}`);
  if (poll.status !== 200) return answer(poll);
  const links = ((await poll.json()) as { _links: Record<string, { href: string }> })._links;
  if (!links.deploymentBase) return { status: 200, deployment: false };
  const d = (await (await fetch(links.deploymentBase.href)).json()) as { deployment: { chunks: { artifacts: { hashes: { sha256: string }; _links: { download: { href: string } } }[] }[] } };
  const art = d.deployment.chunks[0]!.artifacts[0]!;
  const bytes = await answer(await fetch(art._links.download.href));
  expect(bytes.sha256).toBe(art.hashes.sha256);
  return { ...bytes, deployment: true };
}

/** The deployment and artifact paths ctl-1 is offered now. */
async function ddiPaths(): Promise<{ deployment: string; artifact: string }> {
  const links = ((await (await fetch(`${server.url}/DEFAULT/controller/v1/ctl-1`)).json()) as { _links: Record<string, { href: string }> })._links;
  const d = (await (await fetch(links.deploymentBase!.href)).json()) as { deployment: { chunks: { artifacts: { _links: { download: { href: string } } }[] }[] } };
  return { deployment: new URL(links.deploymentBase!.href).pathname, artifact: new URL(d.deployment.chunks[0]!.artifacts[0]!._links.download.href).pathname };
}

async function everyProtocol() {
  return { native: await native(), arduino: await arduino(), rauc: await rauc(), manifest: await manifest(), ddi: await ddi() };
}

/**
 * What every protocol says when the stream has nothing it may serve: the device API's short answer
 * (`status`, `text`); RAUC `rauc` (204 when nothing is published: nothing offered to that system);
 * the DDI poll stays 200 with no deployment, so clients keep polling.
 */
function nothingServed(all: Awaited<ReturnType<typeof everyProtocol>>, status: number, text: string, rauc: Served = { status, text }) {
  expect(all).toEqual({ native: { status, text }, arduino: { status, text }, rauc, manifest: { status, text }, ddi: { status: 200, deployment: false } });
}

test('a protocols section added turns its routes on, changed moves them, removed they answer 404 Not Found again', async () => {
  // No protocols: DDI and the manifest are unknown routes; an Arduino request without `device` names no stream.
  const off = async () => {
    expect(await ddi()).toEqual({ status: 404, text: 'Not Found' });
    expect(await answer(await fetch(`${server.url}/DEFAULT/controller/v1/ctl-1/deploymentBase/1`))).toEqual({ status: 404, text: 'Not Found' });
    expect(await manifest()).toEqual({ status: 404, text: 'Not Found' });
    expect(await answer(await fetch(`${server.url}/api/v1/manifest/${encodeURIComponent(COMPATIBLE)}.json`))).toEqual({ status: 404, text: 'Not Found' });
    expect(await arduino()).toEqual({ status: 400, text: "Missing required query parameter: 'device'" });
    expect(await native()).toEqual({ status: 200, sha256: SHA_A });
  };
  await off();

  writeConfig({ source: dirSource(folderA.root), protocols: true });
  await server.restart();
  expect(await everyProtocol()).toEqual({
    native: { status: 200, sha256: SHA_A },
    arduino: { status: 200, sha256: SHA_A },
    rauc: { status: 206, sha256: SHA_A },
    manifest: { status: 200, sha256: SHA_A },
    ddi: { status: 200, sha256: SHA_A, deployment: true },
  });

  // Changed: another tenant (the old one is an unknown route), the Arduino MACs moved to another stream.
  writeConfig({ source: dirSource(folderA.root), protocols: 'changed' });
  await server.restart();
  expect(await ddi()).toEqual({ status: 404, text: 'Not Found' });
  const acme = await fetch(`${server.url}/acme/controller/v1/ctl-1`);
  expect(acme.status).toBe(200);
  expect(((await acme.json()) as { _links: Record<string, { href: string }> })._links.deploymentBase?.href).toContain('/acme/controller/v1/ctl-1/deploymentBase/');
  expect(await arduino()).toEqual({ status: 200, sha256: SHA_OTHER });
  expect(await rauc()).toEqual({ status: 206, sha256: SHA_A });

  writeConfig({ source: dirSource(folderA.root), protocols: false });
  await server.restart();
  await off();
});

test('a source switched to another folder, an empty one, an unsigned registry, a registry that is down: never the old bytes; the good cached copy while its own source is down', async () => {
  writeConfig({ source: dirSource(folderA.root), protocols: true });
  await server.restart();
  const a = await everyProtocol();
  expect([a.native, a.arduino, a.rauc, a.manifest, a.ddi].map((x) => x.sha256)).toEqual([SHA_A, SHA_A, SHA_A, SHA_A, SHA_A]);
  const oldDdi = await ddiPaths();

  // Another folder with the same version, other bytes: those bytes, with their own hashes, everywhere.
  writeConfig({ source: dirSource(folderB.root), protocols: true });
  await server.restart();
  const b = await everyProtocol();
  expect([b.native, b.arduino, b.rauc, b.manifest, b.ddi].map((x) => x.sha256)).toEqual([SHA_B, SHA_B, SHA_B, SHA_B, SHA_B]);
  // A controller still holding A's deployment links gets neither A's bytes nor B's under A's action id.
  expect((await ddiPaths()).deployment).not.toBe(oldDdi.deployment);
  expect(await answer(await fetch(`${server.url}${oldDdi.deployment}`))).toEqual({ status: 404, text: 'No such deployment for this controller' });
  expect(await answer(await fetch(`${server.url}${oldDdi.artifact}`))).toEqual({ status: 404, text: 'No such artifact for this controller' });
  expect(await answer(await fetch(`${server.url}${oldDdi.artifact}`, { headers: { range: 'bytes=0-3' } }))).toEqual({ status: 404, text: 'No such artifact for this controller' });

  // A folder with nothing for the stream: nothing, although A and B are both in the cache.
  writeConfig({ source: dirSource(folderEmpty), protocols: true });
  await server.restart();
  nothingServed(await everyProtocol(), 404, `No firmware for device '${STREAM}'`, { status: 204 });

  // A registry whose release is unsigned, with a key configured: nothing unverified is served.
  writeConfig({ source: registrySource(), verifier: `cosign({ keys: [${JSON.stringify(key.pub)}] })`, protocols: true });
  await server.restart();
  nothingServed(await everyProtocol(), 404, `No verified firmware for device '${STREAM}'`);

  // The registry down, no verifier: the folders' cached releases are not the registry's (503).
  await reg.stop();
  try {
    writeConfig({ source: registrySource(), protocols: true });
    await server.restart();
    nothingServed(await everyProtocol(), 503, `Firmware source unavailable for device '${STREAM}', retry later`);
  } finally {
    await reg.start();
  }
  // Back: the registry's own bytes, everywhere.
  const r = await everyProtocol();
  expect([r.native, r.arduino, r.rauc, r.manifest, r.ddi].map((x) => x.sha256)).toEqual([SHA_R, SHA_R, SHA_R, SHA_R, SHA_R]);

  // The registry down across a restart, same config: the good cached copy is served, by every protocol.
  await reg.stop();
  await server.restart();
  const cached = await everyProtocol();
  expect([cached.native, cached.arduino, cached.rauc, cached.manifest, cached.ddi].map((x) => x.sha256)).toEqual([SHA_R, SHA_R, SHA_R, SHA_R, SHA_R]);

  // And switched back to folder A with the registry gone: A's bytes (its cached release matches again).
  writeConfig({ source: dirSource(folderA.root), protocols: true });
  await server.restart();
  const back = await everyProtocol();
  expect([back.native, back.arduino, back.rauc, back.manifest, back.ddi].map((x) => x.sha256)).toEqual([SHA_A, SHA_A, SHA_A, SHA_A, SHA_A]);
  await reg.start();
  // No log line of any run holds a stack frame.
  expect(server.logs().filter((l) => /\n\s+at\s/.test(l))).toEqual([]);
});
