/**
 * Fakes of what the host hands a plugin: a logger that keeps its lines, a plugin context with a
 * state folder in a fresh temp folder and an abort signal, a device and a device request.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceRequest, DeviceRef, Logger, PeerCertificate, PluginContext } from '../plugin.ts';

export type LogLevelName = 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** One line a plugin logged, with the fields of the logger it was logged through. */
export interface LoggedLine {
  level: LogLevelName;
  msg: string;
  fields: Record<string, unknown>;
}

/** A logger that keeps every line in `lines` (children share it). */
export interface CapturingLogger extends Logger {
  readonly lines: LoggedLine[];
}

export function fakeLogger(fields: Record<string, unknown> = {}, lines: LoggedLine[] = []): CapturingLogger {
  const at = (level: LogLevelName) => (msg: string, more?: Record<string, unknown>) => {
    lines.push({ level, msg, fields: { ...fields, ...more } });
  };
  return {
    lines,
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    trace: at('trace'),
    child: (extra) => fakeLogger({ ...fields, ...extra }, lines),
  };
}

/** A plugin context for tests; `abort()` is the server shutting down, `cleanup()` removes the temp folder. */
export interface FakeContext extends PluginContext {
  logger: CapturingLogger;
  abort(): void;
  cleanup(): void;
}

export function fakeContext(o: { pluginId?: string; configDir?: string } = {}): FakeContext {
  const root = mkdtempSync(join(tmpdir(), 'otaflux-plugin-test-'));
  const controller = new AbortController();
  return {
    logger: fakeLogger(o.pluginId ? { plugin: o.pluginId } : {}),
    configDir: o.configDir ?? root,
    stateDir: root,
    signal: controller.signal,
    abort: () => controller.abort(),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

export function fakeDevice(id: string, o: { allowPrerelease?: boolean; options?: Record<string, unknown> } = {}): DeviceRef {
  return { id, allowPrerelease: o.allowPrerelease ?? false, options: o.options ?? {} };
}

/** A device's request as an authenticator sees it (header names are lower-cased, as the host does; `GET /version` unless given). */
export function fakeRequest(
  deviceId: string,
  o: { method?: string; path?: string; headers?: Record<string, string>; query?: Record<string, string>; remoteAddress?: string; peerCertificate?: PeerCertificate; rateLimited?: boolean } = {},
): DeviceRequest {
  const headers = Object.fromEntries(Object.entries(o.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    deviceId,
    method: o.method ?? 'GET',
    path: o.path ?? '/version',
    headers,
    query: new URLSearchParams({ device: deviceId, ...o.query }),
    remoteAddress: o.remoteAddress ?? '127.0.0.1',
    ...(o.peerCertificate ? { peerCertificate: o.peerCertificate } : {}),
    ...(o.rateLimited ? { rateLimited: true } : {}),
  };
}
