/** What `protocols.arduino` and `protocols.rauc` in otaflux.config.ts may hold (plain types: part of the public config API). */

export interface ArduinoConfig {
  /** STA MAC (`24:0A:C4:12:34:56`) or a pattern with `*` (`24:0A:C4:*`) → stream (device id), for update URLs without `device`. */
  streams?: Record<string, string>;
}

export interface RaucConfig {
  /** RAUC compatible (or a pattern with `*`) → stream (device id), for the RAUC simple server's manifest endpoints. */
  streams?: Record<string, string>;
}
