/** Shared bits of the OCI tests: a `source.oci` pointed at a test registry, device refs, stream reading. */
import { oci, type OciOptions } from '../../src/plugins/source/oci/index.ts';
import type { DeviceRef, PluginContext, SourcePlugin } from '../../src/plugin.ts';
import type { TestRegistry } from '../support/registry.ts';

export function device(id: string, options: Record<string, unknown> = {}): DeviceRef {
  return { id, allowPrerelease: false, options };
}

/** A set-up `source.oci` for the registry (its credentials and CA), with fast timeouts. */
export async function ociFor(reg: TestRegistry, extra: Partial<OciOptions> = {}): Promise<SourcePlugin> {
  const plugin = oci({
    url: reg.options.tls ? reg.url : reg.host,
    insecure: !reg.options.tls,
    prefix: 'fw',
    ...(reg.username ? { username: reg.username, password: reg.password } : {}),
    ...(reg.caFile ? { caFile: reg.caFile } : {}),
    timeoutMs: 2000,
    retries: 1,
    ...extra,
  });
  await plugin.setup?.(testContext());
  return plugin;
}

export function testContext(): PluginContext {
  const noop = () => {};
  const logger = { error: noop, warn: noop, info: noop, debug: noop, trace: noop, child: () => logger };
  return { logger, configDir: process.cwd(), stateDir: '/nonexistent', signal: new AbortController().signal };
}

export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export const FW_TYPE = 'application/vnd.espressif.esp32.firmware.v1+binary';

export function randomFirmware(size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(size, i + 65536)));
  return b;
}
