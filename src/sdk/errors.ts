/**
 * Errors a plugin throws to tell the host what kind of failure it met. Anything else a source throws
 * is "the source sent something unusable" (devices get 502, or the last good copy).
 */

/**
 * The upstream cannot be reached or answers 5xx (also: timeouts, refused credentials): devices get
 * the last good copy, or 503 with Retry-After, and the host asks again later.
 */
export class UpstreamUnavailable extends Error {
  override readonly name = 'UpstreamUnavailable';
}

/**
 * The source has nothing at all for this device (a repository or folder that does not exist).
 * Devices get 404 `No firmware for device '<id>'`; `detail` (why) and `summary` (what the operator
 * may have to change) are logged, never sent to the device. Returning an empty list from
 * `versions()` says the same without a reason.
 */
export class FirmwareNotFound extends Error {
  override readonly name = 'FirmwareNotFound';
  constructor(readonly detail: string, readonly summary?: string) {
    super(detail);
  }
}

/** The message of anything thrown. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
