/**
 * The operator API client behind `otaflux rollout …` and `otaflux device …`: talks to a running
 * OtaFlux (`--server URL`, env OTAFLUX_SERVER; `--admin-token`, env ADMIN_TOKEN), sends who acts
 * (`X-Operator: cli:<user>`), and turns any refusal into one line.
 */
import { userInfo } from 'node:os';
import { UsageError, type FlagValues } from '../flags.ts';

export class OperatorError extends Error {
  override readonly name = 'OperatorError';
}

export interface OperatorClient {
  call(method: string, path: string, body?: unknown): Promise<unknown>;
}

export function operatorClient(flags: FlagValues): OperatorClient {
  const server = (typeof flags.server === 'string' ? flags.server : 'http://127.0.0.1:8081').replace(/\/$/, '');
  const token = typeof flags['admin-token'] === 'string' ? flags['admin-token'] : undefined;
  if (!token) throw new UsageError('the operator commands need the admin token: --admin-token or ADMIN_TOKEN');
  if (!/^https?:\/\//.test(server)) throw new UsageError(`--server: expected http://host:port or https://host:port, got '${server}'`);
  let who = 'cli';
  try {
    who = `cli:${userInfo().username}`;
  } catch {
    // no user name: plain 'cli'
  }
  return {
    async call(method, path, body) {
      let r: Response;
      try {
        r = await fetch(`${server}/api${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, 'x-operator': who, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      } catch (e) {
        throw new OperatorError(`cannot reach ${server}: ${e instanceof Error ? e.message : String(e)} (is OtaFlux running there? --server)`);
      }
      const text = await r.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON: keep the text
      }
      if (r.status === 404 && !(parsed as { error?: string })?.error) throw new OperatorError(`${server} has no ${path}: is the admin token set there (server.adminToken) and fleet control on?`);
      if (!r.ok) throw new OperatorError(`${method} ${path}: ${r.status} ${(parsed as { error?: string })?.error ?? text}`);
      return parsed;
    },
  };
}

/** `key=value` words after a command (`steps=10,50,100 reason="soak ok"`). */
export function keyValues(words: readonly string[], allowed: readonly string[], command: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const w of words) {
    const at = w.indexOf('=');
    const key = at > 0 ? w.slice(0, at) : '';
    if (!allowed.includes(key)) throw new UsageError(`${command}: expected key=value with a key among ${allowed.join(', ')}, got '${w}'`);
    out[key] = w.slice(at + 1);
  }
  return out;
}

export const list = (v: string | undefined): string[] | undefined => (v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter(Boolean));

export function number(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`${what}: expected a number, got '${v}'`);
  return n;
}
