/**
 * Events the core emits, for metrics, notifications (MQTT), the status API and later features
 * (rollouts, check-ins). Listeners must not throw and must be quick.
 */
import { EventEmitter } from 'node:events';
import type { Release } from './release.ts';

export interface CoreEvents {
  /** A device's latest release changed (or was first found). */
  'release-changed': [{ device: string; release: Release; previous?: Release }];
  /** A version was refused by the verifier; emitted once per (device, digest). */
  'verify-rejected': [{ device: string; version: string; digest: string; verifier: string; reason: string }];
  /** A refresh failed and the last good release (if any) is being served. */
  'refresh-failed': [{ device: string; error: string; stale: boolean }];
  /** A firmware image was served from memory or disk (cache hit) or had to be fetched (miss). */
  'cache-lookup': [{ device: string; hit: boolean }];
  /** A blob left the disk cache to keep it within its bound (`bytes` or `entries`). */
  'cache-evicted': [{ sha256: string; size: number; bound: 'bytes' | 'entries' }];
  /** A device asked for its version or firmware. */
  'device-seen': [{ device: string; route: 'version' | 'firmware'; release?: Release; remoteAddress: string }];
  /** An HTTP request was answered (any listener). `route` is the route template, never the raw path. */
  'http-request': [HttpRequestDone];
  /** A call to a source finished (listing versions, pinning one, opening its bytes); for registry latency and error metrics. */
  'upstream-request': [UpstreamRequestDone];
  /** A device credential was refused: at the TLS handshake (bad, revoked, expired certificate) or by the device's authenticators. */
  'auth-failed': [AuthFailed];
}

export class CoreEventBus extends EventEmitter<CoreEvents> {}

export interface HttpRequestDone {
  method: string;
  route: string;
  status: number;
  /** Body bytes sent. */
  bytes: number;
  durationMs: number;
  device?: string;
  remoteAddress: string;
  /** Short code of a device error (`no-firmware`, `unauthorized`). */
  errorCode?: string;
  /** The device protocol answered (`native`, `arduino`, `esp-idf`, `rauc`); absent for other routes. */
  protocol?: string;
  /** A firmware body that is not a download's end by itself (a Range that stops before the last byte; a RAUC read). */
  partial?: boolean;
}

/** One source operation (for `source.oci`: the registry requests behind it). */
export interface UpstreamRequestDone {
  /** Plugin id (`source.oci`): bounded, safe as a metric label. */
  source: string;
  /** `versions`, `resolve` or `open` (time until the byte stream is ready), or a source-specific short name. */
  operation: string;
  ok: boolean;
  durationMs: number;
  /** HTTP status, when the source knows it. */
  status?: number;
  /** Short error class on failure (`UpstreamUnavailable`, `RegistryError`), never a message with secrets. */
  errorKind?: string;
}

/** One refused credential. `presented` names what was shown (certificate CN/serial, token owner), never a secret. */
export interface AuthFailed {
  remoteAddress: string;
  /** `tls`: refused at the handshake; `request`: refused by the device's authenticators; `rate-limited`: refused unseen. */
  stage: 'tls' | 'request' | 'rate-limited';
  reason: string;
  device?: string;
  /** 401, 403 or 429 for `request`/`rate-limited`; absent for `tls` (the connection is closed). */
  status?: number;
  presented?: string;
  /**
   * The authenticator that refused (`auth.token`), or the list of them (`auth.token, auth.mtls`) when
   * none had credentials to judge; absent for `tls`, where the handshake refused.
   */
  plugin?: string;
}
