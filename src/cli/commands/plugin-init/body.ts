/** What each kind's template gives `otaflux plugin init`. */
export interface Body {
  plugin: string;
  test: string;
  /** A line of a config using it. */
  use: string;
}

/** `acmeIndex` → `AcmeIndex`: the options type's name. */
export function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
