/**
 * `auth.token`: per-device bearer tokens, stored hashed (`otaflux hash-token`). A device presents
 * `Authorization: Bearer <token>`, or `?token=<token>` when it cannot set headers. A gateway token
 * is valid for every device this authenticator is attached to (a gateway proxying a fleet).
 *
 *   devices: { 'linux-gw-*': { auth: token({ devices: { 'linux-gw-1': 'sha256:…' }, gateway: ['sha256:…'] }) } }
 */
import { PLUGIN_API_VERSION, type AuthDecision, type AuthenticatorPlugin, type AuthRequest } from '../../plugin.ts';
import { parseTokenHash, tokenMatches, type TokenHash } from './token-hash.ts';

export interface TokenOptions {
  /** Device id → token hash (or several, for rotation). */
  devices?: Record<string, string | string[]>;
  /** Hashes of gateway tokens that may fetch for any device this authenticator applies to. */
  gateway?: string | string[];
  /** Query parameter read when there is no Authorization header; `false` turns it off. Default `token`. */
  queryParam?: string | false;
}

const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

export function token(opts: TokenOptions): AuthenticatorPlugin {
  const perDevice = new Map<string, TokenHash[]>();
  for (const [device, hashes] of Object.entries(opts.devices ?? {})) {
    perDevice.set(device, list(hashes).map((h, i) => parseTokenHash(h, `auth.token: devices[${JSON.stringify(device)}]${Array.isArray(hashes) ? `[${i}]` : ''}`)));
  }
  const gateway = list(opts.gateway).map((h, i) => parseTokenHash(h, `auth.token: gateway${Array.isArray(opts.gateway) ? `[${i}]` : ''}`));
  if (perDevice.size === 0 && gateway.length === 0) throw new Error('auth.token: give devices: { "<device id>": "<hash>" } and/or gateway: "<hash>" (hashes from otaflux hash-token)');
  const queryParam = opts.queryParam === undefined ? 'token' : opts.queryParam;

  return {
    kind: 'authenticator',
    id: 'auth.token',
    apiVersion: PLUGIN_API_VERSION,
    authenticate(req: AuthRequest): AuthDecision {
      const presented = presentedToken(req, queryParam);
      if (presented === undefined) return { outcome: 'skip' };
      if (presented === '') return { outcome: 'deny', status: 401, reason: 'empty or malformed bearer token' };
      const own = perDevice.get(req.deviceId) ?? [];
      // Check every candidate (no early exit) so timing does not tell which list matched.
      let ownMatch = false;
      for (const h of own) ownMatch = tokenMatches(presented, h) || ownMatch;
      let gatewayMatch = false;
      for (const h of gateway) gatewayMatch = tokenMatches(presented, h) || gatewayMatch;
      if (ownMatch) return { outcome: 'allow', identity: `token:${req.deviceId}` };
      if (gatewayMatch) return { outcome: 'allow', identity: 'token:gateway' };
      // Whose token it is only turns a 401 into a 403; a rate-limited address gets 429 either way,
      // so its wrong tokens are not hashed against every device's.
      const owner = req.rateLimited ? undefined : ownerOf(presented, perDevice);
      if (owner) return { outcome: 'deny', status: 403, reason: `token of device '${owner}' used for '${req.deviceId}'`, presented: `token of ${owner}` };
      return { outcome: 'deny', status: 401, reason: 'unknown token' };
    },
  };
}

/** The token from `Authorization: Bearer`, else from the query; '' when malformed; undefined when absent. */
function presentedToken(req: AuthRequest, queryParam: string | false): string | undefined {
  const h = req.headers.authorization;
  if (h !== undefined) {
    const m = /^Bearer[ ]+([\x21-\x7e]+)\s*$/i.exec(h);
    return m ? (m[1] as string) : /^Bearer\b/i.test(h) ? '' : undefined;
  }
  if (queryParam === false) return undefined;
  const q = req.query.get(queryParam);
  return q === null ? undefined : q;
}

/** Which other device this token belongs to (for a 403 instead of a 401). */
function ownerOf(presented: string, perDevice: Map<string, TokenHash[]>): string | undefined {
  for (const [device, hashes] of perDevice) if (hashes.some((h) => tokenMatches(presented, h))) return device;
  return undefined;
}
