/**
 * RegistrySession sends the requests of a push (HEAD, GET, POST, PATCH, PUT with bodies) to one
 * registry: it answers the registry's 401 challenge (Basic, or a Bearer token for
 * `repository:<name>:pull,push`, through the pull client's Authenticator), trusts an extra CA on top
 * of the system roots, and sends credentials to the registry's own origin only. Every failure becomes
 * a PublishError of one line that says what to change.
 */
import { rootCertificates } from 'node:tls';
import type { Authenticator } from '../plugins/source/oci/auth.ts';
import { isRegistryError } from '../plugins/source/oci/errors.ts';
import { registryAccess, type RegistryAccess, type RegistryAccessOptions } from '../plugins/source/oci/registry-access.ts';
import { PublishError } from './errors.ts';

export interface SessionOptions extends RegistryAccessOptions {
  /** Milliseconds a request may take until its response headers (default 120 000). */
  timeoutMs?: number;
}

export interface SendOptions {
  /** What is being done, for messages: `uploading firmware.bin to host/repo`. */
  what: string;
  /** Repository the request is about (the token scope); none for `GET /v2/`. */
  repository?: string;
  headers?: Record<string, string>;
  /** Must be re-sendable: a 401 challenge sends it again. */
  body?: Uint8Array | Blob;
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ALTNAME|HOSTNAME|IP_ADDRESS_MISMATCH/i;
const HANDSHAKE_CODES = /^(EPROTO|ERR_SSL_WRONG_VERSION_NUMBER|ERR_SSL_PACKET_LENGTH_TOO_LONG|ECONNRESET)$/;

export class RegistrySession {
  readonly host: string;
  readonly origin: string;
  private readonly auth: Authenticator;
  private readonly tls: { ca: string[] } | undefined;
  private readonly timeoutMs: number;
  private readonly hasCredentials: boolean;

  constructor(o: SessionOptions) {
    let access: RegistryAccess;
    try {
      // The token requests' transport; the push's own requests (bodies of any size) go through fetch below.
      access = registryAccess(o, { timeoutMs: 30_000, retries: 1, backoffMs: 200 });
    } catch (e) {
      throw new PublishError(`--registry: ${(e as Error).message}`);
    }
    this.host = access.host;
    this.origin = access.origin;
    this.tls = o.ca ? { ca: [...rootCertificates, o.ca] } : undefined;
    this.timeoutMs = o.timeoutMs ?? 120_000;
    this.hasCredentials = access.hasCredentials;
    this.auth = access.auth;
  }

  /** Sends one request (a path on the registry or an absolute URL it gave), answering one 401 challenge. */
  async send(method: string, pathOrUrl: string, o: SendOptions): Promise<Response> {
    const url = new URL(pathOrUrl, this.origin);
    const own = url.origin === this.origin;
    const scope = o.repository ? `repository:${o.repository}:pull,push` : '';
    const headers = new Headers(o.headers);
    const known = own ? this.auth.header(scope) : undefined;
    if (known) headers.set('authorization', known);
    const first = await this.once(method, url, headers, o);
    if (first.status !== 401 || !own) return first;
    let answer: string;
    try {
      answer = await this.auth.answer(first, scope, o.what);
    } catch (e) {
      throw this.authFailure(e, o.what);
    } finally {
      await first.body?.cancel().catch(() => {});
    }
    headers.set('authorization', answer);
    const second = await this.once(method, url, headers, o);
    if (second.status === 401) {
      await second.body?.cancel().catch(() => {});
      this.auth.forget(scope);
      throw this.refused(o.what);
    }
    return second;
  }

  /** Throws a PublishError for a non-success answer, with the registry's error codes when it sends them. */
  async expect(res: Response, ok: number[], what: string): Promise<void> {
    if (ok.includes(res.status)) return;
    const text = await res.text().catch(() => '');
    let codes = '';
    try {
      const errors = (JSON.parse(text) as { errors?: { code?: unknown; message?: unknown }[] }).errors ?? [];
      codes = errors.map((e) => [e.code, e.message].filter((x) => typeof x === 'string').join(': ')).join('; ').slice(0, 200);
    } catch {
      // No JSON error body: the status says enough.
    }
    const detail = codes ? ` (${codes})` : '';
    if (res.status === 403) throw new PublishError(`${what}: 403 denied${detail}: the account has no push rights on this repository`);
    if (res.status === 404) throw new PublishError(`${what}: 404 not found${detail}`);
    throw new PublishError(`${what}: the registry answered ${res.status}${detail}`);
  }

  private async once(method: string, url: URL, headers: Headers, o: SendOptions): Promise<Response> {
    try {
      return await fetch(url, {
        method,
        headers,
        ...(o.body !== undefined ? { body: o.body } : {}),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
        ...(this.tls ? { tls: this.tls } : {}),
      } as RequestInit);
    } catch (e) {
      throw this.networkFailure(e, o.what, url);
    }
  }

  private networkFailure(e: unknown, what: string, url: URL): PublishError {
    const err = e as { code?: string; name?: string; message?: string };
    const code = err.code ?? '';
    if (err.name === 'TimeoutError') return new PublishError(`${what}: ${url.host} did not answer within ${this.timeoutMs / 1000} s`);
    if (url.protocol === 'https:' && HANDSHAKE_CODES.test(code)) {
      return new PublishError(`${what}: the TLS handshake with ${url.host} failed (${code}): if the registry speaks plain HTTP, give http://${url.host} or --insecure`);
    }
    if (TLS_CODES.test(code)) return new PublishError(`${what}: the TLS certificate of ${url.host} is not trusted (${code}): pass the registry's CA with --ca-cert`);
    return new PublishError(`${what}: cannot reach ${url.host} (${code || err.message || 'network error'}): check --registry and that the registry runs`);
  }

  private refused(what: string): PublishError {
    return this.hasCredentials
      ? new PublishError(`${what}: 401 unauthorized: the registry refused the credentials: check --username and --password (env REGISTRY_USERNAME, REGISTRY_PASSWORD)`)
      : new PublishError(`${what}: 401 unauthorized: the registry wants credentials: pass --username and --password (env REGISTRY_USERNAME, REGISTRY_PASSWORD)`);
  }

  private authFailure(e: unknown, what: string): PublishError {
    if (e instanceof PublishError) return e;
    if (isRegistryError(e, 'unauthorized')) return this.refused(what);
    if (isRegistryError(e, 'denied')) return new PublishError(`${what}: the token server denied access: the account has no push rights on this repository`);
    if ((e as Error)?.name === 'UpstreamUnavailable' || isRegistryError(e)) return new PublishError(`${what}: getting a token failed: ${(e as Error).message}`);
    throw e;
  }
}
