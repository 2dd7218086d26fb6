/**
 * Token hashes as stored in the config: `sha256:<salt>:<digest>` (base64url), digest = SHA-256 of
 * salt ‖ token. Salted SHA-256, not scrypt: tokens are random 256-bit secrets (`otaflux hash-token`
 * makes them), so a leaked hash cannot be brute-forced whatever the hash's cost, and a per-request
 * check must stay cheap on a gateway (scrypt at a safe cost is ~50 ms of CPU per request: a denial
 * of service with every poll). Short, human-chosen tokens are refused for that reason.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Shortest token accepted: 128 bits as base64url. */
export const MIN_TOKEN_LENGTH = 22;

export interface TokenHash { salt: Buffer; digest: Buffer }

/** Makes a new random token (32 bytes, base64url). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Hashes a token for the config, with a fresh random salt. */
export function hashToken(token: string): string {
  if (token.length < MIN_TOKEN_LENGTH) throw new Error(`token too short: use at least ${MIN_TOKEN_LENGTH} random characters (otaflux hash-token makes one)`);
  const salt = randomBytes(16);
  return `sha256:${salt.toString('base64url')}:${digestOf(salt, token).toString('base64url')}`;
}

/** Parses a stored hash; throws with the expected form. */
export function parseTokenHash(s: string, where: string): TokenHash {
  const m = /^sha256:([A-Za-z0-9_-]{16,}):([A-Za-z0-9_-]{43})$/.exec(s);
  if (!m) throw new Error(`${where}: expected a token hash 'sha256:<salt>:<digest>' as printed by otaflux hash-token (never the token itself)`);
  return { salt: Buffer.from(m[1] as string, 'base64url'), digest: Buffer.from(m[2] as string, 'base64url') };
}

/** Whether `token` hashes to `h`; the digest comparison takes the same time whatever the input. */
export function tokenMatches(token: string, h: TokenHash): boolean {
  return timingSafeEqual(digestOf(h.salt, token), h.digest);
}

function digestOf(salt: Buffer, token: string): Buffer {
  return createHash('sha256').update(salt).update(token, 'utf8').digest();
}
