/** Small helpers shared by the operator API's route files. */
import { createHash } from 'node:crypto';

/** Elysia hands the wildcard still percent-encoded; a malformed escape is kept as given. */
export function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** SHA-256 of a credential, so that two can be compared in constant time whatever their lengths. */
export function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
