/**
 * RAUC streaming reads a bundle with many Range requests on one URL, and sends its `RAUC-*` headers
 * on the first one only. A session, per client address and URL, keeps what the first request was
 * offered (so every later range reads the same bundle, whatever rollout placement an anonymous
 * request would get) and which bytes were read: the download is whole once every byte was read.
 * A new first request (`Range: bytes=0-3` or `RAUC-*` headers) opens a new session.
 */
import type { Release } from '../../core/release.ts';

export interface RaucSession {
  release: Release;
  instance: string;
  stream: string;
  bootId?: string;
  /** Byte ranges read so far, merged and sorted: [start, end] inclusive. */
  read: [number, number][];
  /** Every byte was read (reported once). */
  whole: boolean;
  lastUsed: number;
}

/** A session not asked for this long is forgotten (RAUC's installs read continuously). */
export const SESSION_IDLE_MS = 10 * 60_000;
const MAX_SESSIONS = 10_000;

export class RaucSessions {
  private readonly sessions = new Map<string, RaucSession>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The open session of this client and URL, if any. */
  get(address: string, url: string): RaucSession | undefined {
    const key = `${address} ${url}`;
    const s = this.sessions.get(key);
    if (!s) return undefined;
    if (this.now() - s.lastUsed > SESSION_IDLE_MS) {
      this.sessions.delete(key);
      return undefined;
    }
    s.lastUsed = this.now();
    return s;
  }

  open(address: string, url: string, s: Omit<RaucSession, 'read' | 'whole' | 'lastUsed'>): RaucSession {
    const key = `${address} ${url}`;
    const session: RaucSession = { ...s, read: [], whole: false, lastUsed: this.now() };
    this.sessions.delete(key);
    this.sessions.set(key, session);
    if (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value as string);
    return session;
  }

  /** Records bytes `start..end` as read; true exactly once: when the last missing byte arrived. */
  readBytes(s: RaucSession, start: number, end: number): boolean {
    if (s.whole || end < start) return false;
    const merged: [number, number][] = [];
    let [a, b] = [start, end];
    for (const [x, y] of s.read) {
      if (y + 1 < a || x > b + 1) merged.push([x, y]);
      else [a, b] = [Math.min(a, x), Math.max(b, y)];
    }
    merged.push([a, b]);
    merged.sort((p, q) => p[0] - q[0]);
    s.read = merged;
    const first = merged[0];
    if (merged.length === 1 && first && first[0] === 0 && first[1] >= s.release.size - 1) return (s.whole = true);
    return false;
  }
}
