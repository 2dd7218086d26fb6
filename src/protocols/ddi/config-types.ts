/** What `protocols.ddi` in otaflux.config.ts may hold (plain types: part of the public config API). */
export interface DdiConfig {
  /** The tenant in the URL, matched case-insensitively. Default `DEFAULT`. */
  tenant?: string;
  /** Controller id (or pattern with `*`) → the firmware stream it follows. Unmatched: the controller id itself. */
  streams?: Record<string, string>;
  /** Seconds between polls, sent as `config.polling.sleep` (`HH:MM:SS`). Default 60. */
  pollSleep?: number;
  /**
   * Scheme, host and port written into the links (`https://ota.example.com`), for clients behind TLS
   * or a proxy. Default: `http://` and the request's Host header.
   */
  publicUrl?: string;
}
