/**
 * A simulated fleet for the fleet tests: instances of a few streams that poll a running OtaFlux over
 * real sockets, each the way one kind of client does (instance=, ?current=, X-Firmware-Version,
 * a device token), and the expected rollout placement computed here from the bucket formula,
 * independently of src/fleet.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.ts';

export type Kind = 'plain' | 'current' | 'header' | 'token';

export interface SimInstance {
  stream: string;
  /** The instance id OtaFlux should derive. */
  id: string;
  kind: Kind;
  /** Version it runs (reporters send it). */
  running: string;
  bootId: string;
  token?: string;
}

/** bucket = first 4 bytes of SHA-256(salt + ":" + instance), big-endian, mod 10000. */
export function expectedBucket(salt: string, instance: string): number {
  return createHash('sha256').update(`${salt}:${instance}`).digest().readUInt32BE(0) % 10000;
}

export function fleetOf(streams: readonly string[], perStream: number): SimInstance[] {
  const out: SimInstance[] = [];
  const kinds: Kind[] = ['plain', 'current', 'header'];
  for (const stream of streams) {
    for (let i = 0; i < perStream; i++) {
      const kind = kinds[i % kinds.length] as Kind;
      out.push({ stream, id: `${stream}-unit-${i}`, kind, running: '1.0.0', bootId: `boot-${stream}-${i}-0` });
    }
  }
  return out;
}

/** The query and headers an instance sends on a poll. */
export function request(inst: SimInstance, route: 'version' | 'firmware', extraHeaders: Record<string, string> = {}): { path: string; headers: Record<string, string> } {
  const q = new URLSearchParams({ device: inst.stream });
  const headers: Record<string, string> = { ...extraHeaders };
  if (inst.kind === 'plain') q.set('instance', inst.id);
  if (inst.kind === 'current') {
    q.set('instance', inst.id);
    q.set('current', inst.running);
    headers['x-boot-id'] = inst.bootId;
  }
  if (inst.kind === 'header') {
    headers['x-device-instance'] = inst.id;
    headers['x-firmware-version'] = inst.running;
    headers['x-boot-id'] = inst.bootId;
  }
  if (inst.kind === 'token') headers.authorization = `Bearer ${inst.token}`;
  return { path: `/${route}?${q}`, headers };
}

/** Polls `/version` for every instance (a few at a time) and returns instance id → version offered (or the status). */
export async function pollAll(url: string, fleet: readonly SimInstance[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const queue = [...fleet];
  const worker = async () => {
    for (let inst = queue.shift(); inst; inst = queue.shift()) {
      const { path, headers } = request(inst, 'version');
      const r = await fetch(`${url}${path}`, { headers });
      const body = await r.text();
      out.set(inst.id, r.status === 200 ? (body.split('\n')[0] as string) : `status ${r.status}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return out;
}

/** Downloads the firmware the instance is offered; returns the version header. */
export async function download(url: string, inst: SimInstance): Promise<string> {
  const { path, headers } = request(inst, 'firmware');
  const r = await fetch(`${url}${path}`, { headers });
  const bytes = await r.arrayBuffer();
  if (r.status !== 200 || bytes.byteLength === 0) throw new Error(`download for ${inst.id}: ${r.status}`);
  return r.headers.get('x-firmware-version') as string;
}

/** A firmware folder with `versions` of each stream, plus a function to publish more later. */
export function fleetFirmware(streams: readonly string[], versions: readonly string[]): { root: string; publish(stream: string, version: string): void; bytes(stream: string, version: string): Buffer } {
  const root = tempDir('otaflux-fleet-fw-');
  const bytes = (stream: string, version: string) => Buffer.from(`${stream} firmware ${version} `.repeat(40));
  const publish = (stream: string, version: string) => {
    mkdirSync(join(root, stream), { recursive: true });
    writeFileSync(join(root, stream, `${version}.bin`), bytes(stream, version));
  };
  for (const s of streams) for (const v of versions) publish(s, v);
  return { root, publish, bytes };
}

/** Writes an otaflux.config.ts serving `root` with a fleet section (TypeScript text). */
export function fleetConfigFile(root: string, fleet: string, extra = '', defaults = ''): string {
  const dir = tempDir('otaflux-fleet-config-');
  const path = join(dir, 'otaflux.config.ts');
  writeFileSync(path, `import { defineConfig, dir, token } from 'otaflux';
export default defineConfig({
  server: { adminToken: ${JSON.stringify(ADMIN_TOKEN)} },
  defaults: { ${defaults}source: dir({ root: ${JSON.stringify(root)} }) },
  ${extra}
  fleet: ${fleet},
});
`);
  return path;
}

export const ADMIN_TOKEN = 'fleet-test-admin-token-5e1f';

export function api(url: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${url}/api${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', 'x-operator': 'test-operator' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

export { until } from '../support/until.ts';
