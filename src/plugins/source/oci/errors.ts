/**
 * Errors of the registry client. Every message names what was being done, the registry and the
 * repository, and the status: `fetching manifest 1.2.3 from 127.0.0.1:5000/fw/dev1: 401 unauthorized`.
 * They never carry credentials or tokens.
 *
 * - `RegistryError` is an answer that retrying will not change (401, 403, 404, a digest mismatch,
 *   a malformed manifest, a TLS certificate the client does not trust): the `code` says which.
 * - `UpstreamUnavailable` (from the core) is everything that may pass: connection refused or reset,
 *   timeouts, 5xx and 429 after the retries. The core then serves its last good copy.
 */
import { UpstreamUnavailable } from '../../../core/errors.ts';

export { UpstreamUnavailable };

export type RegistryErrorCode =
  | 'unauthorized'
  | 'denied'
  | 'not-found'
  | 'rejected'
  | 'digest-mismatch'
  | 'too-large'
  | 'bad-response'
  | 'no-match'
  | 'tls';

export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    /** HTTP status when the error is an answer of the registry. */
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The error for a non-success HTTP status that retrying will not fix. */
export function statusError(what: string, status: number, detail?: string): RegistryError {
  const suffix = detail ? ` (${detail})` : '';
  if (status === 401) return new RegistryError('unauthorized', `${what}: 401 unauthorized${suffix}`, status);
  if (status === 403) return new RegistryError('denied', `${what}: 403 denied${suffix}`, status);
  if (status === 404) return new RegistryError('not-found', `${what}: 404 not found${suffix}`, status);
  return new RegistryError('rejected', `${what}: ${status}${suffix}`, status);
}

export function isRegistryError(e: unknown, code?: RegistryErrorCode): e is RegistryError {
  return e instanceof RegistryError && (code === undefined || e.code === code);
}
