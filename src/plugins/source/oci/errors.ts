/**
 * Errors of the registry client. Every message names what was being done, the registry and the
 * repository, and the status: `fetching manifest 1.2.3 from 127.0.0.1:5000/fw/dev1: 401 unauthorized`.
 * They never carry credentials or tokens.
 *
 * - `RegistryError` is an answer that retrying will not change (401, 403, 404, a digest mismatch,
 *   a malformed manifest, a TLS certificate the client does not trust): the `code` says which.
 *   Those the operator must fix in the configuration (credentials refused, access denied, an
 *   untrusted certificate, a registry that speaks plain HTTP) carry `sourceUnavailable` (devices
 *   get 503, as for an unreachable registry, not 502) and a one-line `summary` naming the flag to change.
 * - `UpstreamUnavailable` (from the public SDK helpers) is everything that may pass: connection refused or reset,
 *   timeouts, 5xx and 429 after the retries. The core then serves its last good copy.
 */
import { UpstreamUnavailable } from '../../../sdk/index.ts';

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
  | 'tls'
  | 'plain-http';

/** What the operator changes for each configuration error: one line, led by the flag. */
const SUMMARIES: Partial<Record<RegistryErrorCode, string>> = {
  unauthorized: 'the registry refused the credentials: check --registry-username and --registry-password',
  denied: 'the registry denied access to the repository: give the --registry-username account pull rights',
  tls: "the registry's TLS certificate is not trusted: pass its CA with --registry-ca-cert-path",
  'plain-http': 'the registry answered plain HTTP to HTTPS: use an http:// --registry-url, or --registry-insecure with a bare host:port',
};

export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  /** The operator must fix the configuration; devices get 503 ("source unavailable"), not 502. */
  readonly sourceUnavailable: boolean;
  /** One line saying what to change, for configuration errors. */
  readonly summary: string | undefined;
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    /** HTTP status when the error is an answer of the registry. */
    readonly status?: number,
    options?: ErrorOptions & { summary?: string },
  ) {
    super(message, options);
    this.summary = options?.summary ?? SUMMARIES[code];
    this.sourceUnavailable = code === 'unauthorized' || code === 'denied' || code === 'tls' || code === 'plain-http';
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
