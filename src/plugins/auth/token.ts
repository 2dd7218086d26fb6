/**
 * `auth.token`: per-device bearer tokens, stored hashed (`otaflux hash-token`). A device presents
 * `Authorization: Bearer <token>`, or `?token=<token>` when it cannot set headers. A gateway token
 * is valid for every device this authenticator is attached to (a gateway proxying a fleet). An
 * instance token belongs to one instance of the streams it is attached to: it is valid only on a
 * request that names that instance (`instance=`, `X-Device-Instance`; a DDI controller is named
 * `ddi:<controllerId>` by its URL), so controllers sharing a stream each have their own.
 *
 *   devices: { 'linux-gw-*': { auth: token({ devices: { 'linux-gw-1': 'sha256:…' }, gateway: ['sha256:…'] }) } }
 *   devices: { gateway: { auth: token({ instances: { 'ddi:gw-1': 'sha256:…', 'ddi:gw-2': 'sha256:…' } }) } }
 */
import { PLUGIN_API_VERSION, type AuthDecision, type AuthenticatorPlugin, type DeviceRequest } from '../../plugin.ts';
import { parseTokenHash, tokenMatches, type TokenHash } from './token-hash.ts';

export interface TokenOptions {
  /** Device id → token hash (or several, for rotation). */
  devices?: Record<string, string | string[]>;
  /** Hashes of gateway tokens that may fetch for any device this authenticator applies to. */
  gateway?: string | string[];
  /** Instance id → token hash (or several): valid only on requests that name that instance. */
  instances?: Record<string, string | string[]>;
  /** Query parameter read when there is no Authorization header; `false` turns it off. Default `token`. */
  queryParam?: string | false;
}

const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

export function token(opts: TokenOptions): AuthenticatorPlugin {
  const perDevice = new Map<string, TokenHash[]>();
  for (const [device, hashes] of Object.entries(opts.devices ?? {})) {
    perDevice.set(device, list(hashes).map((h, i) => parseTokenHash(h, `auth.token: devices[${JSON.stringify(device)}]${Array.isArray(hashes) ? `[${i}]` : ''}`)));
  }
  const perInstance = new Map<string, TokenHash[]>();
  for (const [instance, hashes] of Object.entries(opts.instances ?? {})) {
    if (instance === '' || instance.length > 200) throw new Error(`auth.token: instances: expected instance ids of 1 to 200 characters, got ${JSON.stringify(instance.slice(0, 40))}`);
    perInstance.set(instance, list(hashes).map((h, i) => parseTokenHash(h, `auth.token: instances[${JSON.stringify(instance)}]${Array.isArray(hashes) ? `[${i}]` : ''}`)));
  }
  const gateway = list(opts.gateway).map((h, i) => parseTokenHash(h, `auth.token: gateway${Array.isArray(opts.gateway) ? `[${i}]` : ''}`));
  if (perDevice.size === 0 && gateway.length === 0 && perInstance.size === 0) throw new Error('auth.token: give devices: { "<device id>": "<hash>" }, gateway: "<hash>" and/or instances: { "<instance id>": "<hash>" } (hashes from otaflux hash-token)');
  const queryParam = opts.queryParam === undefined ? 'token' : opts.queryParam;

  return {
    kind: 'authenticator',
    id: 'auth.token',
    apiVersion: PLUGIN_API_VERSION,
    authenticate(req: DeviceRequest): AuthDecision {
      const presented = presentedToken(req, queryParam);
      if (presented === undefined) return { outcome: 'skip' };
      if (presented === '') return { outcome: 'deny', status: 401, reason: 'empty or malformed bearer token' };
      const own = perDevice.get(req.deviceId) ?? [];
      // Check every candidate (no early exit) so timing does not tell which list matched.
      let ownMatch = false;
      for (const h of own) ownMatch = tokenMatches(presented, h) || ownMatch;
      let gatewayMatch = false;
      for (const h of gateway) gatewayMatch = tokenMatches(presented, h) || gatewayMatch;
      const claimed = req.query.get('instance') || req.headers['x-device-instance'];
      let instanceMatch = false;
      for (const h of (claimed && perInstance.get(claimed)) || []) instanceMatch = tokenMatches(presented, h) || instanceMatch;
      if (ownMatch) return { outcome: 'allow', identity: `token:${req.deviceId}` };
      if (gatewayMatch) return { outcome: 'allow', identity: 'token:gateway' };
      // The request names the instance; the identity does not repeat it as a `token:` one.
      if (instanceMatch) return { outcome: 'allow', identity: `instance-token:${claimed}` };
      // Whose token it is only turns a 401 into a 403; a rate-limited address gets 429 either way,
      // so its wrong tokens are not hashed against every device's.
      const owner = req.rateLimited ? undefined : ownerOf(presented, perDevice);
      if (owner) return { outcome: 'deny', status: 403, reason: `token of device '${owner}' used for '${req.deviceId}'`, presented: `token of ${owner}` };
      const instance = req.rateLimited ? undefined : ownerOf(presented, perInstance);
      if (instance) return { outcome: 'deny', status: 403, reason: `token of instance '${instance}' used for ${claimed ? `'${claimed}'` : 'a request naming no instance'}`, presented: `token of ${instance}` };
      return { outcome: 'deny', status: 401, reason: 'unknown token' };
    },
  };
}

/** The token from `Authorization: Bearer`, else from the query; '' when malformed; undefined when absent. */
function presentedToken(req: DeviceRequest, queryParam: string | false): string | undefined {
  const h = req.headers.authorization;
  if (h !== undefined) {
    const m = /^Bearer[ ]+([\x21-\x7e]+)\s*$/i.exec(h);
    return m ? (m[1] as string) : /^Bearer\b/i.test(h) ? '' : undefined;
  }
  if (queryParam === false) return undefined;
  const q = req.query.get(queryParam);
  return q === null ? undefined : q;
}

/** Which other device (or instance) this token belongs to (for a 403 instead of a 401). */
function ownerOf(presented: string, owners: Map<string, TokenHash[]>): string | undefined {
  for (const [owner, hashes] of owners) if (hashes.some((h) => tokenMatches(presented, h))) return owner;
  return undefined;
}
