/**
 * Registry authentication: the `WWW-Authenticate` challenge of a 401, HTTP Basic, and the Bearer
 * token flow (realm, service, scope) with tokens cached per scope until shortly before they expire.
 * Credentials are optional: anonymous tokens are asked for without them. Nothing here logs or
 * puts a credential or a token into an error message.
 */
import { RegistryError, statusError } from './errors.ts';
import type { Transport } from './transport.ts';

export interface Credentials {
  username: string;
  password: string;
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses the first challenge of a `WWW-Authenticate` header: `Bearer realm="…",service="…",scope="…"`. */
export function parseChallenge(header: string | null): Challenge | null {
  if (!header) return null;
  const m = /^\s*([A-Za-z][\w-]*)\s*(.*)$/s.exec(header);
  if (!m) return null;
  const params: Record<string, string> = {};
  const re = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/g;
  for (let p = re.exec(m[2] ?? ''); p; p = re.exec(m[2] ?? '')) {
    if (p[0] === '') break;
    params[(p[1] ?? '').toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
  }
  return { scheme: (m[1] ?? '').toLowerCase(), params };
}

interface CachedToken {
  value: string;
  expiresAt: number;
}

/** Holds what the registry asked for and the tokens it granted, per scope. */
export class Authenticator {
  /** Set once the registry asked for Basic: later requests send it up front. */
  private basic = false;
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<CachedToken>>();
  /** Number of token requests made (for tests and metrics). */
  tokenRequests = 0;

  constructor(
    private readonly transport: Transport,
    private readonly registry: string,
    private readonly credentials?: Credentials,
    private readonly now: () => number = Date.now,
  ) {}

  /** The Authorization header to send for `scope` before any challenge, if one is known. */
  header(scope: string): string | undefined {
    if (this.basic && this.credentials) return basicHeader(this.credentials);
    const t = this.tokens.get(scope);
    if (t && t.expiresAt > this.now()) return `Bearer ${t.value}`;
    if (t) this.tokens.delete(scope);
    return undefined;
  }

  /**
   * Answers a 401's challenge: returns the header to retry with, or throws a RegistryError that
   * says why there is none (no credentials for Basic, token server refused, unknown scheme).
   */
  async answer(res: Response, scope: string, what: string, signal?: AbortSignal): Promise<string> {
    const challenge = parseChallenge(res.headers.get('www-authenticate'));
    if (!challenge) throw new RegistryError('unauthorized', `${what}: 401 unauthorized (no challenge)`, 401);
    if (challenge.scheme === 'basic') {
      if (!this.credentials) {
        throw new RegistryError('unauthorized', `${what}: 401 unauthorized (the registry wants a username and password: set --registry-username and --registry-password)`, 401, {
          summary: 'the registry wants credentials: set --registry-username and --registry-password',
        });
      }
      this.basic = true;
      return basicHeader(this.credentials);
    }
    if (challenge.scheme !== 'bearer') throw new RegistryError('unauthorized', `${what}: 401 unauthorized (unsupported scheme '${challenge.scheme}')`, 401);
    this.tokens.delete(scope);
    const token = await this.token(challenge, scope, what, signal);
    return `Bearer ${token.value}`;
  }

  /** Forgets a token the registry refused (revoked, or granted fewer actions than needed). */
  forget(scope: string): void {
    this.tokens.delete(scope);
  }

  private token(ch: Challenge, scope: string, what: string, signal?: AbortSignal): Promise<CachedToken> {
    const running = this.pending.get(scope);
    if (running) return running;
    const p = this.fetchToken(ch, scope, what, signal).finally(() => this.pending.delete(scope));
    this.pending.set(scope, p);
    return p;
  }

  private async fetchToken(ch: Challenge, scope: string, what: string, signal?: AbortSignal): Promise<CachedToken> {
    const realm = ch.params.realm;
    if (!realm) throw new RegistryError('unauthorized', `${what}: 401 unauthorized (bearer challenge without realm)`, 401);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError('bad-response', `${what}: bearer realm is not a URL`);
    }
    if (ch.params.service) url.searchParams.set('service', ch.params.service);
    const scopes = (ch.params.scope ?? scope).split(' ').filter(Boolean);
    for (const s of scopes) url.searchParams.append('scope', s);
    const headers = new Headers({ accept: 'application/json' });
    if (this.credentials) headers.set('authorization', basicHeader(this.credentials));
    const ctx = { what: `fetching token from ${url.host} for ${this.registry} (${scopes.join(' ') || 'no scope'})`, ...(signal ? { signal } : {}) };
    this.tokenRequests++;
    const ex = await this.transport.send(url.href, { headers }, ctx);
    if (!ex.res.ok) {
      await ex.res.body?.cancel().catch(() => {});
      throw statusError(ctx.what, ex.res.status, this.credentials ? 'the token server refused the credentials: check --registry-username and --registry-password' : 'anonymous');
    }
    const body = await this.transport.readAll(ex, 1 << 20, ctx);
    let json: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      json = JSON.parse(new TextDecoder().decode(body));
    } catch {
      throw new RegistryError('bad-response', `${ctx.what}: answer is not JSON`);
    }
    const value = typeof json.token === 'string' && json.token ? json.token : typeof json.access_token === 'string' ? json.access_token : '';
    if (!value) throw new RegistryError('bad-response', `${ctx.what}: answer holds no token`);
    // The distribution spec's default lifetime is 60 s; renew a little early.
    const lifetime = typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : 60;
    const margin = Math.min(30, Math.max(1, lifetime * 0.1));
    const token = { value, expiresAt: this.now() + (lifetime - margin) * 1000 };
    this.tokens.set(scope, token);
    return token;
  }
}

function basicHeader(c: Credentials): string {
  return 'Basic ' + Buffer.from(`${c.username}:${c.password}`).toString('base64');
}
