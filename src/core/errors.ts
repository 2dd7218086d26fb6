/**
 * Device-facing failures. Each class carries the HTTP status and the short body a device gets;
 * the body never holds a stack trace, an internal path or a secret. Any other failure becomes
 * `InternalError` in one place (`deviceFailure`); the reply is made from it in one place
 * (src/http/device-api.ts `errorReply`); the table is in README.md ("Status codes").
 */
import type { Logger } from '../plugin.ts';
import { FirmwareNotFound, UpstreamUnavailable, errorMessage } from '../sdk/errors.ts';

export abstract class DeviceError extends Error {
  abstract readonly status: number;
  /** Stable machine-readable code, also used as a metric label. */
  abstract readonly code: string;
  /** Body sent to the device. */
  abstract readonly body: string;
  /** Extra response headers. */
  readonly headers: Record<string, string> = {};
  /** The validated device id the request was for, once known (for the request log line and metrics). */
  device?: string;
}

export class MissingDevice extends DeviceError {
  readonly status = 400;
  readonly code = 'missing-device';
  readonly body = "Missing required query parameter: 'device'";
  constructor() { super("missing required query parameter 'device'"); }
}

export class InvalidDevice extends DeviceError {
  readonly status = 400;
  readonly code = 'invalid-device';
  readonly body = "Invalid device id: use lowercase letters, digits, '.', '_', '-' and '/' (at most 255 characters with the repository prefix)";
  constructor(readonly reason: string) { super(`invalid device id: ${reason}`); }
}

export class NoFirmware extends DeviceError {
  readonly status = 404;
  readonly code = 'no-firmware';
  readonly body: string;
  /**
   * `detail` says why, when the source knows (`repository firmware/esp32-x does not exist on …`), and
   * `summary` what the operator may have to change; both are logged, never sent to the device.
   */
  constructor(device: string, readonly detail?: string, readonly summary?: string) {
    super(`no firmware for device '${device}'${detail ? `: ${detail}` : ''}`);
    this.body = `No firmware for device '${device}'`;
  }
}

/**
 * "Nothing published for this device", from the core (`NoFirmware`) or from a source
 * (`FirmwareNotFound`): an answer, not a failure of the source.
 */
export function isNoFirmware(e: unknown): e is NoFirmware | FirmwareNotFound {
  return e instanceof NoFirmware || e instanceof FirmwareNotFound;
}

/** A source's `FirmwareNotFound` as the device error it becomes; anything else as it is. */
export function asDeviceFailure(deviceId: string, e: unknown): unknown {
  return e instanceof FirmwareNotFound ? new NoFirmware(deviceId, e.detail, e.summary) : e;
}

export class NoVerifiedFirmware extends DeviceError {
  readonly status = 404;
  readonly code = 'no-verified-firmware';
  readonly body: string;
  constructor(device: string, readonly reasons: string[]) {
    super(`no verified firmware for device '${device}': ${reasons.join('; ')}`);
    this.body = `No verified firmware for device '${device}'`;
  }
}

export class SourceUnavailable extends DeviceError {
  readonly status = 503;
  readonly code = 'source-unavailable';
  readonly body: string;
  override readonly headers = { 'retry-after': '30' };
  constructor(device: string, cause: unknown) {
    super(`firmware source unavailable for device '${device}': ${errorMessage(cause)}`, { cause });
    this.body = `Firmware source unavailable for device '${device}', retry later`;
  }
}

export class SourceFailed extends DeviceError {
  readonly status = 502;
  readonly code = 'source-failed';
  readonly body: string;
  constructor(device: string, cause: unknown) {
    super(`firmware for device '${device}' could not be prepared: ${errorMessage(cause)}`, { cause });
    this.body = `Firmware for device '${device}' could not be prepared`;
  }
}

/** Refused credentials; `by` names the authenticator(s) that decided, `challenge` is its `WWW-Authenticate`. */
export class Unauthorized extends DeviceError {
  readonly status = 401;
  readonly code = 'unauthorized';
  readonly body = 'Unauthorized';
  override readonly headers: Record<string, string>;
  constructor(readonly reason: string, readonly by?: string, challenge = 'Bearer realm="otaflux"') {
    super(`unauthorized${by ? ` by ${by}` : ''}: ${reason}`);
    this.headers = { 'www-authenticate': challenge };
  }
}

export class Forbidden extends DeviceError {
  readonly status = 403;
  readonly code = 'forbidden';
  readonly body = 'Forbidden';
  constructor(readonly reason: string, readonly by?: string) { super(`forbidden${by ? ` by ${by}` : ''}: ${reason}`); }
}

/** An authenticator threw (or answered outside the contract): 503, retry later; logged naming it. */
export class AuthenticatorFailed extends DeviceError {
  readonly status = 503;
  readonly code = 'authenticator-failed';
  readonly body = 'Authentication unavailable, retry later';
  override readonly headers = { 'retry-after': '30' };
  constructor(device: string, readonly by: string, readonly error: string) {
    super(`authenticator ${by} failed for device '${device}': ${error}`);
    this.device = device;
  }
}

/** Too many refused credentials from one address: the request is refused unseen until `retryAfter` seconds pass. */
export class TooManyAttempts extends DeviceError {
  readonly status = 429;
  readonly code = 'rate-limited';
  readonly body = 'Too many failed attempts, retry later';
  override readonly headers: Record<string, string>;
  constructor(readonly retryAfter: number) {
    super(`too many failed authentication attempts: retry after ${retryAfter}s`);
    this.headers = { 'retry-after': String(retryAfter) };
  }
}

/** `e`, when a device error that names no device yet, naming the validated id `deviceId`; anything else as it is. */
export function ofDevice(e: unknown, deviceId: string): unknown {
  if (e instanceof DeviceError && e.device === undefined) e.device = deviceId;
  return e;
}

/** A failure that is not a device's answer: a defect of ours. The device learns nothing more than this. */
export class InternalError extends DeviceError {
  readonly status = 500;
  readonly code = 'internal';
  readonly body = 'Internal error';
  constructor(cause: unknown) { super(`internal error: ${errorMessage(cause)}`, { cause }); }
}

/**
 * The one mapping of a failure to what a device is told: a DeviceError as it is, anything else an
 * `InternalError`, logged here with its stack (and `fields`, e.g. the device id) since the device
 * gets none of it.
 */
export function deviceFailure(e: unknown, logger: Logger, fields: Record<string, unknown> = {}): DeviceError {
  if (e instanceof DeviceError) return e;
  logger.error('unexpected error in device API', { ...fields, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  return new InternalError(e);
}

// What plugins throw is part of the public SDK helpers; the core maps it to device errors.
export { UpstreamUnavailable, FirmwareNotFound, errorMessage };

/**
 * Whether a source failure means "the source cannot be used now" (503, retry later) rather than
 * "the source sent something unusable" (502): unreachable, timeouts, 5xx, and errors that say so
 * with `sourceUnavailable: true` (a registry refusing the credentials, an untrusted certificate).
 */
export function isSourceUnavailable(err: unknown): boolean {
  if (err instanceof UpstreamUnavailable) return true;
  if (!(err instanceof Error)) return false;
  return err.name === 'UpstreamUnavailable' || err.name === 'TimeoutError' || (err as { sourceUnavailable?: unknown }).sourceUnavailable === true;
}

/** The one line an error carries for the operator (`summary`: what to change), if any. */
export function operatorSummary(err: unknown): string | undefined {
  const s = (err as { summary?: unknown } | null)?.summary;
  return typeof s === 'string' && s ? s : undefined;
}
