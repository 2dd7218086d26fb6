/**
 * Who may use the operator routes: the admin token (`--admin-token`, an operator named `admin`) and
 * the per-person tokens of `server.operators` (hashes from `otaflux hash-token`, each with a role:
 * `viewer` reads, `operator` also changes). The API takes them as `Authorization: Bearer <token>`;
 * the dashboard takes them once at sign-in (src/dashboard/sessions.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { parseTokenHash, tokenMatches, type TokenHash } from '../plugins/auth/token-hash.ts';
import { digest } from './operator-helpers.ts';

export type OperatorRole = 'viewer' | 'operator';

export interface OperatorIdentity {
  name: string;
  role: OperatorRole;
  /** Signed in with the shared admin token (the API then takes the `X-Operator` header as the name). */
  shared: boolean;
}

export class OperatorCredentials {
  private readonly admin: Buffer | undefined;
  private readonly people: { name: string; role: OperatorRole; hash: TokenHash; fingerprint: string }[];

  constructor(adminToken: string | undefined, operators: readonly { name: string; role: OperatorRole; token: string }[]) {
    this.admin = adminToken ? digest(adminToken) : undefined;
    this.people = operators.map((o, i) => ({ name: o.name, role: o.role, hash: parseTokenHash(o.token, `server.operators[${i}].token`), fingerprint: fingerprintOf(`operator:${o.name}:${o.token}`) }));
  }

  /**
   * A fingerprint of the credential an identity signed in with (the admin token, or the person's
   * token hash in the config), or undefined when it is no longer configured. A stored session keeps
   * it, so that removing or replacing a token ends the sessions opened with it.
   */
  fingerprint(who: Pick<OperatorIdentity, 'name' | 'shared'>): string | undefined {
    if (who.shared) return this.admin ? fingerprintOf(`admin:${this.admin.toString('base64url')}`) : undefined;
    return this.people.find((p) => p.name === who.name)?.fingerprint;
  }

  /** The identity of a stored session as the config says now (its role may have changed), or undefined when its credential is gone. */
  recheck(who: Pick<OperatorIdentity, 'name' | 'shared'>, fingerprint: string): OperatorIdentity | undefined {
    const now = this.fingerprint(who);
    if (now === undefined || !timingSafeEqual(digest(now), digest(fingerprint))) return undefined;
    if (who.shared) return { name: 'admin', role: 'operator', shared: true };
    const p = this.people.find((x) => x.name === who.name);
    return p ? { name: p.name, role: p.role, shared: false } : undefined;
  }

  /** Whether anyone can sign in at all: without credentials the operator routes do not exist. */
  get configured(): boolean {
    return this.admin !== undefined || this.people.length > 0;
  }

  /** The operator a token belongs to, or undefined. Every person is checked, so timing tells nothing of which. */
  identify(token: string): OperatorIdentity | undefined {
    let found: OperatorIdentity | undefined;
    if (this.admin && timingSafeEqual(digest(token), this.admin)) found = { name: 'admin', role: 'operator', shared: true };
    for (const p of this.people) if (tokenMatches(token, p.hash) && !found) found = { name: p.name, role: p.role, shared: false };
    return found;
  }

  /** The operator of a request's `Authorization: Bearer <token>`, or undefined. */
  fromRequest(request: Request): OperatorIdentity | undefined {
    const m = /^Bearer\s+(.+?)\s*$/i.exec(request.headers.get('authorization') ?? '');
    return m ? this.identify(m[1] as string) : undefined;
  }
}

function fingerprintOf(s: string): string {
  return createHash('sha256').update(s).digest('base64url');
}

/** The API's answer to a request without valid credentials. */
export function unauthorized(): Response {
  return new Response(JSON.stringify({ error: 'unauthorized: send Authorization: Bearer <admin token>' }), {
    status: 401,
    headers: { 'content-type': 'application/json', 'www-authenticate': 'Bearer realm="otaflux-admin"' },
  });
}

/** The API's answer to a viewer asking for a change. */
export function forbiddenForViewer(name: string): Response {
  return new Response(JSON.stringify({ error: `forbidden: ${name} is a viewer; changes need the operator role` }), {
    status: 403,
    headers: { 'content-type': 'application/json' },
  });
}
