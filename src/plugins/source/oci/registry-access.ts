/**
 * Where a registry is and how to sign in to it, as the pull client (client.ts) and the push session
 * of `otaflux push` / `otaflux sign` (src/oci-push/session.ts) both take it: the address, the
 * credentials when any are given, an extra CA, and the Authenticator that answers the registry's 401
 * challenges (Basic, or a Bearer token per scope) over a Transport to the registry's own origin.
 */
import { Authenticator, type Credentials } from './auth.ts';
import { parseRegistryUrl } from './registry-url.ts';
import { Transport, type TransportOptions } from './transport.ts';

export interface RegistryAccessOptions {
  /** `host:port`, `https://host` or `http://host:port`. */
  url: string;
  /** Plain HTTP when `url` has no scheme. */
  insecure?: boolean;
  username?: string;
  password?: string;
  /** Extra trusted CA certificates (PEM text, not a path). */
  ca?: string;
}

export interface RegistryAccess {
  /** `host[:port]`. */
  host: string;
  /** `https://host[:port]` (or `http://`): the only origin credentials are sent to. */
  origin: string;
  transport: Transport;
  auth: Authenticator;
  /** Whether a username or a password was given (a 401 then means they were refused, not missing). */
  hasCredentials: boolean;
}

/** The address, transport and authenticator of a registry; throws the address parser's error for a bad `url`. */
export function registryAccess(o: RegistryAccessOptions, transport: Omit<TransportOptions, 'ca'>): RegistryAccess {
  const address = parseRegistryUrl(o.url, o.insecure ?? false);
  const t = new Transport(address.origin, { ...transport, ...(o.ca ? { ca: o.ca } : {}) });
  const credentials: Credentials | undefined = o.username !== undefined || o.password !== undefined ? { username: o.username ?? '', password: o.password ?? '' } : undefined;
  return { host: address.host, origin: address.origin, transport: t, auth: new Authenticator(t, address.host, credentials), hasCredentials: credentials !== undefined };
}
