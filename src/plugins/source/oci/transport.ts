/**
 * Transport sends one registry request the careful way: a timeout until the response headers and
 * between body chunks, bounded retries with exponential backoff and jitter for what may pass
 * (connection errors, timeouts, 5xx, 429), a custom CA added to the system roots, and redirects
 * followed by hand so credentials never reach another origin (blob redirects to S3/CDN backends).
 *
 * It knows nothing of authentication: `RegistryClient` sets the Authorization header and handles
 * challenges; Transport only decides whether that header may follow a redirect.
 *
 * At debug level each request is logged (method, URL path without the query, status, time to the
 * response headers, declared bytes); at trace the headers too, never Authorization or cookies.
 */
import { rootCertificates } from 'node:tls';
import type { Logger } from '../../../plugin.ts';
import { RegistryError, UpstreamUnavailable } from './errors.ts';

export interface TransportOptions {
  /** Extra CA certificates (PEM) trusted on top of the system roots. */
  ca?: string;
  /** Milliseconds until response headers, and at most between two body chunks. */
  timeoutMs: number;
  /** Extra attempts after a failure that may pass. */
  retries: number;
  /** First backoff in milliseconds; doubles each retry (with jitter), capped at 5 s. */
  backoffMs: number;
  /** Where requests are logged (debug) with their headers (trace). */
  logger?: Logger;
}

export interface RequestSpec {
  method?: 'GET' | 'HEAD';
  headers?: Headers;
}

export interface RequestContext {
  /** Context for messages: `fetching manifest 1.2.3 from 127.0.0.1:5000/fw/dev1`. */
  what: string;
  signal?: AbortSignal;
}

/** A response whose body is still to be read, and the means to abort it. */
export interface Exchange {
  res: Response;
  /** URL that answered, after redirects. */
  url: string;
  abort(reason?: unknown): void;
  /** Stops the header timer's successor: arms the idle timer used while reading the body. */
  idle(onTimeout: () => void): { touch(): void; clear(): void };
}

const MAX_REDIRECTS = 5;
const MAX_BACKOFF_MS = 5000;
const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ALTNAME|TLS|SSL/i;
/** The handshake failed before any certificate: often a plain-HTTP server on an https:// URL. */
const HANDSHAKE_CODES = /^(EPROTO|ERR_SSL_WRONG_VERSION_NUMBER|ERR_SSL_PACKET_LENGTH_TOO_LONG)$/;
/** How long the plain-HTTP check after a failed handshake may take. */
const PLAIN_HTTP_PROBE_MS = 2000;
/** Headers never logged, not even at trace. */
const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);

class RetryableFailure extends Error {}

export class Transport {
  private readonly tls: { ca: string[] } | undefined;

  constructor(
    /** Origin of the registry: the only origin that gets the Authorization header. */
    readonly origin: string,
    readonly options: TransportOptions,
  ) {
    this.tls = options.ca ? { ca: [...rootCertificates, options.ca] } : undefined;
  }

  /**
   * Sends a request, retrying what may pass. Returns the first response that is not a 5xx/429
   * (2xx, 3xx without Location, 4xx); throws UpstreamUnavailable once the retries are spent.
   */
  async send(url: string, spec: RequestSpec, ctx: RequestContext): Promise<Exchange> {
    return this.withRetries(ctx, () => this.attempt(url, spec, ctx));
  }

  /** Runs `fn` up to 1 + retries times while it fails with something that may pass. */
  private async withRetries<T>(ctx: RequestContext, fn: () => Promise<T>): Promise<T> {
    let lastReason = '';
    for (let attempt = 0; attempt <= this.options.retries; attempt++) {
      if (attempt > 0) await this.backoff(attempt, ctx.signal);
      try {
        return await fn();
      } catch (e) {
        if (ctx.signal?.aborted) throw ctx.signal.reason;
        if (e instanceof RetryableFailure) {
          lastReason = e.message;
          if (attempt < this.options.retries) this.options.logger?.debug('registry request failed, retrying', { what: ctx.what, reason: e.message, attempt: attempt + 1, of: this.options.retries + 1 });
          continue;
        }
        throw e;
      }
    }
    const tries = this.options.retries + 1;
    return Promise.reject(new UpstreamUnavailable(`${ctx.what}: ${lastReason}${tries > 1 ? ` (${tries} attempts)` : ''}`));
  }

  /** The URL as logged: the path on the registry, `host/path` elsewhere; never the query (signed URLs carry keys). */
  private display(url: string): string {
    const u = new URL(url);
    return u.origin === this.origin ? u.pathname : `${u.host}${u.pathname}`;
  }

  private logExchange(method: string, url: string, res: Response, sent: Headers, sentAt: number): void {
    const log = this.options.logger;
    if (!log) return;
    const length = res.headers.get('content-length');
    log.debug('registry request', { method, url: this.display(url), status: res.status, ms: elapsed(sentAt), bytes: length === null ? null : Number(length) });
    log.trace('registry request headers', { method, url: this.display(url), request: loggableHeaders(sent), response: loggableHeaders(res.headers) });
  }

  private async backoff(attempt: number, signal?: AbortSignal): Promise<void> {
    const base = Math.min(MAX_BACKOFF_MS, this.options.backoffMs * 2 ** (attempt - 1));
    const wait = base / 2 + Math.random() * (base / 2);
    await new Promise<void>((ok, fail) => {
      const t = setTimeout(ok, wait);
      signal?.addEventListener('abort', () => { clearTimeout(t); fail(signal.reason); }, { once: true });
    });
  }

  private async attempt(url: string, spec: RequestSpec, ctx: RequestContext): Promise<Exchange> {
    const ac = new AbortController();
    const onAbort = () => ac.abort(ctx.signal?.reason);
    ctx.signal?.addEventListener('abort', onAbort, { once: true });
    const timeoutMs = this.options.timeoutMs;
    let timedOut = false;
    const headerTimer = setTimeout(() => { timedOut = true; ac.abort(new Error('timeout')); }, timeoutMs);
    const headers = new Headers(spec.headers);
    let method = spec.method ?? 'GET';
    let current = url;
    try {
      for (let hop = 0; ; hop++) {
        let res: Response;
        const sentAt = performance.now();
        try {
          res = await fetch(current, { method, headers, redirect: 'manual', signal: ac.signal, ...(this.tls ? { tls: this.tls } : {}) } as RequestInit);
        } catch (e) {
          if (ctx.signal?.aborted) throw ctx.signal.reason;
          this.options.logger?.debug('registry request failed', { method, url: this.display(current), ms: elapsed(sentAt), error: timedOut ? 'timeout' : ((e as { code?: string }).code ?? (e as Error).message) });
          if (timedOut) throw new RetryableFailure(`timed out after ${timeoutMs} ms${hop ? ` (at ${new URL(current).host})` : ''}`);
          throw await classifyNetworkError(e, ctx.what, current);
        }
        this.logExchange(method, current, res, headers, sentAt);
        const location = res.headers.get('location');
        if (res.status >= 300 && res.status < 400 && location) {
          await res.body?.cancel().catch(() => {});
          if (hop >= MAX_REDIRECTS) throw new RegistryError('bad-response', `${ctx.what}: more than ${MAX_REDIRECTS} redirects`);
          const next = new URL(location, current);
          if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new RegistryError('bad-response', `${ctx.what}: redirect to a ${next.protocol} URL`);
          // Credentials are for the registry only: never forward them to a storage backend.
          if (next.origin !== this.origin) headers.delete('authorization');
          if (res.status === 303) method = 'GET';
          current = next.href;
          continue;
        }
        if (res.status >= 500 || res.status === 429) {
          await res.body?.cancel().catch(() => {});
          throw new RetryableFailure(`${res.status} ${res.statusText || 'server error'}${current !== url ? ` (at ${new URL(current).host})` : ''}`.trim());
        }
        clearTimeout(headerTimer);
        return {
          res,
          url: current,
          abort: (reason?: unknown) => ac.abort(reason),
          idle: (onTimeout) => {
            let t = setTimeout(fire, timeoutMs);
            function fire() { onTimeout(); ac.abort(new Error('idle timeout')); }
            return {
              touch() { clearTimeout(t); t = setTimeout(fire, timeoutMs); },
              clear() { clearTimeout(t); ctx.signal?.removeEventListener('abort', onAbort); },
            };
          },
        };
      }
    } catch (e) {
      clearTimeout(headerTimer);
      ctx.signal?.removeEventListener('abort', onAbort);
      ac.abort();
      throw e;
    }
  }

  /**
   * Reads a whole body of at most `maxBytes`, with the idle timeout. A body cut short or stalled
   * is UpstreamUnavailable; too large is a RegistryError.
   */
  async readAll(ex: Exchange, maxBytes: number, ctx: RequestContext): Promise<Uint8Array> {
    const declared = Number(ex.res.headers.get('content-length') ?? NaN);
    if (declared > maxBytes) {
      ex.abort();
      throw new RegistryError('too-large', `${ctx.what}: ${declared} bytes is more than the limit of ${maxBytes}`);
    }
    let stalled = false;
    const timer = ex.idle(() => { stalled = true; });
    const chunks: Uint8Array[] = [];
    let total = 0;
    try {
      const reader = ex.res.body?.getReader();
      if (!reader) return new Uint8Array(0);
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        timer.touch();
        total += value.byteLength;
        if (total > maxBytes) {
          ex.abort();
          throw new RegistryError('too-large', `${ctx.what}: more than the limit of ${maxBytes} bytes`);
        }
        chunks.push(value);
      }
    } catch (e) {
      if (e instanceof RegistryError) throw e;
      if (ctx.signal?.aborted) throw ctx.signal.reason;
      throw new UpstreamUnavailable(`${ctx.what}: ${stalled ? `no data for ${this.options.timeoutMs} ms` : `body cut short (${(e as Error).message})`}`);
    } finally {
      timer.clear();
    }
    return Buffer.concat(chunks);
  }

  /** The body as a stream with the idle timeout; a stall or cut errors the stream with UpstreamUnavailable. */
  bodyStream(ex: Exchange, ctx: RequestContext): ReadableStream<Uint8Array> {
    const reader = ex.res.body?.getReader();
    let stalled = false;
    const timer = ex.idle(() => { stalled = true; });
    const timeoutMs = this.options.timeoutMs;
    return new ReadableStream<Uint8Array>({
      async pull(ctl) {
        try {
          const r = reader ? await reader.read() : { done: true as const, value: undefined };
          if (r.done) {
            timer.clear();
            ctl.close();
            return;
          }
          timer.touch();
          ctl.enqueue(r.value);
        } catch (e) {
          timer.clear();
          if (ctx.signal?.aborted) ctl.error(ctx.signal.reason);
          else ctl.error(new UpstreamUnavailable(`${ctx.what}: ${stalled ? `no data for ${timeoutMs} ms` : `body cut short (${(e as Error).message})`}`));
        }
      },
      cancel(reason) {
        timer.clear();
        ex.abort(reason);
      },
    });
  }
}

function elapsed(since: number): number {
  return Math.round((performance.now() - since) * 100) / 100;
}

/** Headers for a trace line: secrets left out, redirect targets without their query. */
function loggableHeaders(h: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  h.forEach((value, name) => {
    if (SECRET_HEADERS.has(name)) return;
    out[name] = name === 'location' ? value.replace(/[?#].*$/s, '') : value;
  });
  return out;
}

/**
 * A TLS failure will not pass by retrying; anything else on the wire may. A handshake that fails
 * before any certificate is checked against plain HTTP on the same port, so the message can say so.
 */
async function classifyNetworkError(e: unknown, what: string, url: string): Promise<Error> {
  const err = e as { code?: string; message?: string };
  const code = err.code ?? '';
  const u = new URL(url);
  const host = u.host;
  if (u.protocol === 'https:' && HANDSHAKE_CODES.test(code)) {
    if (await answersPlainHttp(host)) {
      return new RegistryError('plain-http', `${what}: ${host} answered plain HTTP to an HTTPS request: use an http:// registry URL, or --registry-insecure with a bare host:port`, undefined, { cause: e });
    }
    return new RegistryError('tls', `${what}: TLS handshake with ${host} failed (${code}): is this the registry's HTTPS port?`, undefined, {
      cause: e, summary: 'the TLS handshake with the registry failed: check the host and port of --registry-url',
    });
  }
  if (/ALTNAME|HOSTNAME|IP_ADDRESS_MISMATCH/i.test(code)) {
    return new RegistryError('tls', `${what}: TLS certificate of ${host} is not valid for that name (${code}): use a name the certificate lists in --registry-url`, undefined, {
      cause: e, summary: "the registry's TLS certificate does not name the host of --registry-url: use a name it lists",
    });
  }
  if (/EXPIRED|NOT_YET_VALID/i.test(code)) {
    return new RegistryError('tls', `${what}: TLS certificate of ${host} is expired or not yet valid (${code})`, undefined, {
      cause: e, summary: "the registry's TLS certificate is expired or not yet valid (check the registry, and this machine's clock)",
    });
  }
  if (TLS_CODES.test(code)) {
    return new RegistryError('tls', `${what}: TLS certificate of ${host} not trusted (${code}): pass the registry's CA with --registry-ca-cert-path`, undefined, { cause: e });
  }
  return new RetryableFailure(`${host} unreachable (${code || err.message || 'network error'})`);
}

/** Whether `host` answers an HTTP request in plain text (any status counts). */
async function answersPlainHttp(host: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${host}/v2/`, { redirect: 'manual', signal: AbortSignal.timeout(PLAIN_HTTP_PROBE_MS) });
    await res.body?.cancel().catch(() => {});
    return true;
  } catch {
    return false;
  }
}
