/**
 * Dashboard sessions, in memory: a random id in an HttpOnly, SameSite=Strict cookie (Secure over
 * TLS), a CSRF token per session, and two deadlines: idle (SESSION_IDLE_MS since the last request)
 * and absolute (SESSION_MAX_MS since sign-in). A restart signs everyone out; each replica keeps its own.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { OperatorIdentity } from '../http/admin-auth.ts';

export const SESSION_IDLE_MS = 30 * 60_000;
export const SESSION_MAX_MS = 12 * 3600_000;
/** Sessions kept at most; signing in beyond that ends the oldest. */
export const MAX_SESSIONS = 1000;
export const SESSION_COOKIE = 'otaflux_session';

export interface Session {
  id: string;
  operator: OperatorIdentity;
  csrf: string;
  createdAt: number;
  lastUsedAt: number;
  /** One message shown on the next page (the result of a change). */
  flash?: { kind: 'ok' | 'error'; text: string };
}

export class Sessions {
  private readonly byId = new Map<string, Session>();

  constructor(private readonly now: () => number = Date.now) {}

  open(operator: OperatorIdentity): Session {
    const t = this.now();
    if (this.byId.size >= MAX_SESSIONS) this.byId.delete(this.byId.keys().next().value as string);
    const s: Session = { id: randomBytes(32).toString('base64url'), operator, csrf: randomBytes(32).toString('base64url'), createdAt: t, lastUsedAt: t };
    this.byId.set(s.id, s);
    return s;
  }

  /** The live session of a cookie value, its idle deadline moved on; undefined when unknown or expired. */
  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const s = this.byId.get(id);
    if (!s) return undefined;
    const t = this.now();
    if (t - s.lastUsedAt > SESSION_IDLE_MS || t - s.createdAt > SESSION_MAX_MS) {
      this.byId.delete(id);
      return undefined;
    }
    s.lastUsedAt = t;
    return s;
  }

  close(id: string): void {
    this.byId.delete(id);
  }

  get size(): number {
    return this.byId.size;
  }
}

/** Whether a form's CSRF token is the session's (constant time). */
export function csrfMatches(session: Session, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(session.csrf);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The value of one cookie in a `Cookie` header. */
export function cookieValue(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** The `Set-Cookie` of a session (or, with no session, the one that removes it). */
export function sessionCookie(session: Session | undefined, secure: boolean): string {
  const attrs = `Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
  return session ? `${SESSION_COOKIE}=${session.id}; ${attrs}; Max-Age=${Math.floor(SESSION_MAX_MS / 1000)}` : `${SESSION_COOKIE}=; ${attrs}; Max-Age=0`;
}

/**
 * Whether a state-changing request comes from a page of this origin: `Origin` (else `Referer`) must
 * name the very host and port the request was sent to (one port speaks one scheme). Neither:
 * refused (every browser sends one of them on a form post; scripts use the API with a bearer token).
 */
export function sameOrigin(request: Request): boolean {
  const host = request.headers.get('host') ?? new URL(request.url).host;
  const from = request.headers.get('origin') ?? request.headers.get('referer');
  if (from === null || from === 'null') return false;
  try {
    return new URL(from).host === host;
  } catch {
    return false;
  }
}
