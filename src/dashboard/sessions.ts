/**
 * Dashboard sessions: a random id in an HttpOnly, SameSite=Strict cookie (Secure over TLS), a CSRF
 * token per session, and two deadlines: idle (SESSION_IDLE_MS since the last request) and absolute
 * (SESSION_MAX_MS since sign-in). They are kept in the fleet store when fleet control is on (a
 * restart keeps them, every replica on the same store knows them), else in memory. A session also
 * keeps a fingerprint of the token signed in with: once that token is removed from the config or
 * replaced, the session is refused and deleted.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { OperatorCredentials, OperatorIdentity } from '../http/admin-auth.ts';
import type { SessionRows } from '../fleet/session-table.ts';
import { STORE_DEADLINE_MS } from '../fleet/service.ts';

export const SESSION_IDLE_MS = 30 * 60_000;
export const SESSION_MAX_MS = 12 * 3600_000;
/** Sessions kept at most; signing in beyond that ends the oldest. */
export const MAX_SESSIONS = 1000;
/** The last use is written at most this often (a page view is then a read, not a write). */
export const TOUCH_EVERY_MS = 60_000;
export const SESSION_COOKIE = 'otaflux_session';

export interface Flash {
  kind: 'ok' | 'error';
  text: string;
}

export interface Session {
  id: string;
  operator: OperatorIdentity;
  csrf: string;
  createdAt: number;
  lastUsedAt: number;
  /** One message shown on the next page (the result of a change). */
  flash?: Flash;
}

/** The store that keeps the sessions failed or did not answer within STORE_DEADLINE_MS. */
export class SessionsUnavailable extends Error {}

export class Sessions {
  constructor(
    private readonly rows: SessionRows,
    private readonly credentials: OperatorCredentials,
    private readonly now: () => number = Date.now,
  ) {}

  async open(operator: OperatorIdentity): Promise<Session> {
    const credential = this.credentials.fingerprint(operator);
    if (credential === undefined) throw new Error(`no credential configured for ${operator.name}`);
    const t = this.now();
    const s: Session = { id: randomBytes(32).toString('base64url'), operator, csrf: randomBytes(32).toString('base64url'), createdAt: t, lastUsedAt: t };
    await this.bounded(this.rows.insert(
      { id_hash: idHash(s.id), operator: operator.name, role: operator.role, shared: operator.shared ? 1 : 0, credential, csrf: s.csrf, created_at: t, last_used_at: t, flash: null },
      this.expiredBefore(t),
      MAX_SESSIONS,
    ));
    return s;
  }

  /**
   * The live session of a cookie value, its idle deadline moved on and its flash message taken;
   * undefined when unknown, expired, or its token is no longer configured (the row is then deleted).
   */
  async get(id: string | undefined): Promise<Session | undefined> {
    if (!id) return undefined;
    const key = idHash(id);
    const row = await this.bounded(this.rows.find(key));
    if (!row) return undefined;
    const t = this.now();
    const operator = this.credentials.recheck({ name: row.operator, shared: row.shared === 1 }, row.credential);
    if (t - row.last_used_at > SESSION_IDLE_MS || t - row.created_at > SESSION_MAX_MS || !operator) {
      await this.bounded(this.rows.delete(key));
      return undefined;
    }
    if (t - row.last_used_at >= TOUCH_EVERY_MS) await this.bounded(this.rows.touch(key, t));
    if (row.flash !== null) await this.bounded(this.rows.setFlash(key, null));
    const flash = row.flash === null ? undefined : (JSON.parse(row.flash) as Flash);
    return { id, operator, csrf: row.csrf, createdAt: row.created_at, lastUsedAt: t, ...(flash ? { flash } : {}) };
  }

  /** Keeps a message for the session's next page. */
  async flash(session: Session, flash: Flash): Promise<void> {
    await this.bounded(this.rows.setFlash(idHash(session.id), JSON.stringify(flash)));
  }

  async close(id: string): Promise<void> {
    await this.bounded(this.rows.delete(idHash(id)));
  }

  /** Deletes every expired session; returns how many. */
  async purge(): Promise<number> {
    return this.bounded(this.rows.purge(this.expiredBefore(this.now())));
  }

  async count(): Promise<number> {
    return this.bounded(this.rows.count());
  }

  /** A call to the rows, failing as SessionsUnavailable when the store fails or hangs. */
  private bounded<T>(p: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${STORE_DEADLINE_MS / 1000} s`)), STORE_DEADLINE_MS);
    });
    return Promise.race([p, late])
      .catch((e: unknown) => {
        throw new SessionsUnavailable(`the fleet store, which keeps the dashboard sessions, failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
      })
      .finally(() => clearTimeout(timer));
  }

  private expiredBefore(t: number): { idle: number; max: number } {
    return { idle: t - SESSION_IDLE_MS, max: t - SESSION_MAX_MS };
  }
}

/** The key a session is stored under: the SHA-256 of its id. */
function idHash(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
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
