/**
 * Reads `--registry-url` the ways people write it: `host:port`, `https://host`, `http://host:port`
 * (a path, query or credentials in it are refused). Without a scheme the registry is HTTPS, or
 * plain HTTP when `insecure` is set (the Rust server's `--registry-insecure`); an explicit scheme wins.
 */
export interface RegistryAddress {
  /** `https://ghcr.io`, `http://127.0.0.1:5000`: no trailing slash. */
  origin: string;
  /** `ghcr.io`, `127.0.0.1:5000`: host with the port when it is not the scheme's default. */
  host: string;
  secure: boolean;
}

export function parseRegistryUrl(url: string, insecure = false): RegistryAddress {
  const raw = url.trim();
  if (raw === '') throw new TypeError('registry url is empty: pass host:port, https://host or http://host:port');
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw);
  let parsed: URL;
  try {
    parsed = new URL(hasScheme ? raw : `${insecure ? 'http' : 'https'}://${raw}`);
  } catch {
    throw new TypeError(`registry url '${raw}' is not host:port, https://host or http://host:port`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new TypeError(`registry url '${raw}': scheme must be http or https`);
  }
  if (parsed.username || parsed.password) throw new TypeError('registry url must not carry credentials: use username/password');
  if ((parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search || parsed.hash) {
    throw new TypeError(`registry url '${raw}' must be only a host (and port), without a path`);
  }
  return { origin: parsed.origin, host: parsed.host, secure: parsed.protocol === 'https:' };
}
