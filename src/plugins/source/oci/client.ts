/**
 * RegistryClient speaks the OCI distribution API to one registry, for pulling only.
 *
 * Stable API (other plugins, e.g. the cosign verifier through `artifact.meta.oci.client`, rely on it):
 *
 * - `registry`: `host[:port]` of the registry; `origin`: `https://host[:port]`.
 * - `getManifest(repository, reference, accept?, signal?)` → `{ digest, mediaType, bytes, json }`.
 *   `reference` is a tag or a digest; `accept` defaults to OCI + Docker v2 manifests and indexes.
 *   The digest is recomputed from `bytes`: it must equal `reference` when that is a digest, and the
 *   registry's `Docker-Content-Digest` when it sends one. `bytes` are shared: do not modify them.
 * - `getBlob(repository, digest, maxBytes = 4 MiB, signal?)` → the verified bytes of a small blob.
 * - `openBlob(repository, digest, { size?, signal? })` → a stream of the blob that errors (at the
 *   end at the latest) unless the bytes match `digest` and `size`.
 * - `listTags(repository, signal?)` → every tag, following `Link` pagination.
 * - `referrers(repository, digest, artifactType?, signal?)` → descriptors of the manifests whose
 *   `subject` is `digest`, or `null` when the registry does not implement the referrers API.
 * - `ping(signal?)` → the status of `GET /v2/` after authentication (200 when all is well).
 *
 * Errors: `RegistryError` (code `unauthorized` 401, `denied` 403, `not-found` 404, `digest-mismatch`,
 * `too-large`, `bad-response`, `tls`, …) for answers retrying will not change; `UpstreamUnavailable`
 * (src/core/errors.ts) for unreachable, timeouts, 5xx and 429 once the bounded retries are spent.
 * Messages name the operation, the registry, the repository and the status, never a secret.
 *
 * Authentication follows the registry's 401 challenges (Basic or Bearer with realm/service/scope;
 * tokens cached per repository until shortly before they expire). Concurrent identical tag listings
 * and manifest fetches share one request, and manifests fetched by digest are remembered.
 */
import type { Logger } from '../../../plugin.ts';
import { SingleFlight } from '../../../sdk/index.ts';
import type { Authenticator } from './auth.ts';
import { assertDigest, digestOf, isDigest, verifyingStream } from './digest.ts';
import { RegistryError, statusError } from './errors.ts';
import { MANIFEST_ACCEPT, MediaType, descriptor, manifestMediaType, type Descriptor } from './manifest.ts';
import { registryAccess, type RegistryAccessOptions } from './registry-access.ts';
import { assertRepository } from './repository.ts';
import type { Exchange, RequestContext, RequestSpec, Transport } from './transport.ts';

export interface RegistryClientOptions extends RegistryAccessOptions {
  /** Milliseconds until response headers and between body chunks (default 10 000). */
  timeoutMs?: number;
  /** Extra attempts after connection errors, timeouts, 5xx and 429 (default 2). */
  retries?: number;
  /** First retry backoff in milliseconds (default 200, doubled each retry). */
  backoffMs?: number;
  /** Requests are logged at debug (method, path, status, time, bytes), their headers at trace. */
  logger?: Logger;
}

export interface ManifestResult {
  /** Digest of `bytes` (`sha256:<hex>`): what a tag pins to. */
  digest: string;
  mediaType: string;
  bytes: Uint8Array;
  json: Record<string, unknown>;
}

export const DEFAULT_MAX_BLOB_BYTES = 4 << 20;
const MAX_MANIFEST_BYTES = 4 << 20;
const MAX_TAG_PAGES = 1000;
const MANIFEST_CACHE_ENTRIES = 256;
const TAG = /^[\w][\w.-]{0,127}$/;

export class RegistryClient {
  readonly registry: string;
  readonly origin: string;
  private readonly transport: Transport;
  private readonly auth: Authenticator;
  private readonly hasCredentials: boolean;
  private readonly tagFlights = new SingleFlight<string[]>();
  private readonly manifestFlights = new SingleFlight<ManifestResult>();
  private readonly byDigest = new Map<string, ManifestResult>();

  constructor(o: RegistryClientOptions) {
    const access = registryAccess(o, { timeoutMs: o.timeoutMs ?? 10_000, retries: o.retries ?? 2, backoffMs: o.backoffMs ?? 200, ...(o.logger ? { logger: o.logger } : {}) });
    this.registry = access.host;
    this.origin = access.origin;
    this.transport = access.transport;
    this.hasCredentials = access.hasCredentials;
    this.auth = access.auth;
  }

  /** Token requests made so far (tests and metrics). */
  get tokenRequests(): number {
    return this.auth.tokenRequests;
  }

  async ping(signal?: AbortSignal): Promise<number> {
    const ctx = this.ctx(`checking ${this.registry}/v2/`, signal);
    const ex = await this.request('/v2/', undefined, {}, ctx);
    await ex.res.body?.cancel().catch(() => {});
    return ex.res.status;
  }

  listTags(repository: string, signal?: AbortSignal): Promise<string[]> {
    try {
      assertRepository(repository);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.tagFlights.run(repository, () => this.fetchTags(repository, signal));
  }

  getManifest(repository: string, reference: string, accept: readonly string[] = MANIFEST_ACCEPT, signal?: AbortSignal): Promise<ManifestResult> {
    try {
      assertRepository(repository);
      if (!isDigest(reference) && !TAG.test(reference)) throw new TypeError(`'${reference.slice(0, 80)}' is neither a tag nor a digest`);
    } catch (e) {
      return Promise.reject(e);
    }
    const key = `${repository}@${reference}@${accept.join(',')}`;
    const known = this.byDigest.get(key);
    if (known) return Promise.resolve(known);
    return this.manifestFlights.run(key, async () => {
      const m = await this.fetchManifest(repository, reference, accept, signal);
      if (isDigest(reference)) this.remember(key, m);
      return m;
    });
  }

  async getBlob(repository: string, digest: string, maxBytes = DEFAULT_MAX_BLOB_BYTES, signal?: AbortSignal): Promise<Uint8Array> {
    assertRepository(repository);
    const what = `fetching blob ${digest} from ${this.registry}/${repository}`;
    assertDigest(digest, what);
    const ctx = this.ctx(what, signal);
    const ex = await this.request(`/v2/${repository}/blobs/${digest}`, repository, {}, ctx);
    await this.expectOk(ex, ctx);
    const bytes = await this.transport.readAll(ex, maxBytes, ctx);
    const got = digestOf(bytes, digest);
    if (got !== digest) throw new RegistryError('digest-mismatch', `${what}: digest mismatch, got ${got}`);
    return bytes;
  }

  async openBlob(repository: string, digest: string, o: { size?: number; signal?: AbortSignal } = {}): Promise<ReadableStream<Uint8Array>> {
    assertRepository(repository);
    const what = `fetching blob ${digest} from ${this.registry}/${repository}`;
    assertDigest(digest, what);
    const ctx = this.ctx(what, o.signal);
    const ex = await this.request(`/v2/${repository}/blobs/${digest}`, repository, {}, ctx);
    await this.expectOk(ex, ctx);
    const declared = ex.res.headers.get('content-length');
    if (o.size !== undefined && declared !== null && Number(declared) !== o.size) {
      ex.abort();
      throw new RegistryError('digest-mismatch', `${what}: the registry sends ${declared} bytes, the descriptor declares ${o.size}`);
    }
    return this.transport.bodyStream(ex, ctx).pipeThrough(verifyingStream(digest, o.size, what));
  }

  async referrers(repository: string, digest: string, artifactType?: string, signal?: AbortSignal): Promise<Descriptor[] | null> {
    assertRepository(repository);
    const what = `listing referrers of ${digest} in ${this.registry}/${repository}`;
    assertDigest(digest, what);
    const ctx = this.ctx(what, signal);
    const out: Descriptor[] = [];
    let path: string | null = `/v2/${repository}/referrers/${digest}${artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : ''}`;
    let filtered = false;
    for (let page = 0; path && page < MAX_TAG_PAGES; page++) {
      const ex = await this.request(path, repository, { headers: new Headers({ accept: MediaType.ociIndex }) }, ctx);
      // The spec forbids 404 from registries that implement the API: 404 (or 405) means "not implemented".
      if (page === 0 && (ex.res.status === 404 || ex.res.status === 405)) {
        await ex.res.body?.cancel().catch(() => {});
        return null;
      }
      await this.expectOk(ex, ctx);
      filtered ||= (ex.res.headers.get('oci-filters-applied') ?? '').split(',').map((s) => s.trim()).includes('artifactType');
      const json = this.parseJson(await this.transport.readAll(ex, MAX_MANIFEST_BYTES, ctx), what) as { manifests?: unknown };
      if (!Array.isArray(json.manifests)) throw new RegistryError('bad-response', `${what}: answer is not an image index`);
      json.manifests.forEach((d, i) => out.push(descriptor(d, `${what}: manifests[${i}]`)));
      path = this.nextLink(ex, what);
    }
    return artifactType && !filtered ? out.filter((d) => d.artifactType === artifactType) : out;
  }

  // -------------------------------------------------------------------------------------------

  private async fetchTags(repository: string, signal?: AbortSignal): Promise<string[]> {
    const what = `listing tags of ${this.registry}/${repository}`;
    const ctx = this.ctx(what, signal);
    const tags: string[] = [];
    let path: string | null = `/v2/${repository}/tags/list?n=1000`;
    const seen = new Set<string>();
    for (let page = 0; path; page++) {
      if (page >= MAX_TAG_PAGES || seen.has(path)) throw new RegistryError('bad-response', `${what}: pagination does not end (${page} pages)`);
      seen.add(path);
      const ex = await this.request(path, repository, { headers: new Headers({ accept: 'application/json' }) }, ctx);
      await this.expectOk(ex, ctx);
      const json = this.parseJson(await this.transport.readAll(ex, MAX_MANIFEST_BYTES, ctx), what) as { tags?: unknown };
      if (json.tags !== null && json.tags !== undefined && !Array.isArray(json.tags)) throw new RegistryError('bad-response', `${what}: 'tags' is not a list`);
      for (const t of (json.tags as unknown[] | null | undefined) ?? []) if (typeof t === 'string') tags.push(t);
      path = this.nextLink(ex, what);
    }
    return tags;
  }

  private async fetchManifest(repository: string, reference: string, accept: readonly string[], signal?: AbortSignal): Promise<ManifestResult> {
    const what = `fetching manifest ${reference} from ${this.registry}/${repository}`;
    const ctx = this.ctx(what, signal);
    const ex = await this.request(`/v2/${repository}/manifests/${reference}`, repository, { headers: new Headers({ accept: accept.join(', ') }) }, ctx);
    await this.expectOk(ex, ctx);
    const bytes = await this.transport.readAll(ex, MAX_MANIFEST_BYTES, ctx);
    const announced = ex.res.headers.get('docker-content-digest');
    const expected = isDigest(reference) ? reference : announced && isDigest(announced) ? announced : undefined;
    const digest = digestOf(bytes, expected);
    if (expected && digest !== expected) throw new RegistryError('digest-mismatch', `${what}: digest mismatch, expected ${expected}, got ${digest}`);
    const json = this.parseJson(bytes, what);
    const canonical = digest.startsWith('sha256:') ? digest : digestOf(bytes);
    return { digest: isDigest(reference) ? reference : canonical, mediaType: manifestMediaType(json, ex.res.headers.get('content-type')), bytes, json };
  }

  /** Sends a request with the known credentials for the repository, answering one 401 challenge. */
  private async request(path: string, repository: string | undefined, spec: RequestSpec, ctx: RequestContext): Promise<Exchange> {
    const scope = repository ? `repository:${repository}:pull` : '';
    const url = this.origin + path;
    const headers = new Headers(spec.headers);
    const known = this.auth.header(scope);
    if (known) headers.set('authorization', known);
    const first = await this.transport.send(url, { ...spec, headers }, ctx);
    if (first.res.status !== 401) return first;
    const answer = await this.auth.answer(first.res, scope, ctx.what, ctx.signal).finally(() => first.res.body?.cancel().catch(() => {}));
    headers.set('authorization', answer);
    const second = await this.transport.send(url, { ...spec, headers }, ctx);
    if (second.res.status === 401) {
      await second.res.body?.cancel().catch(() => {});
      this.auth.forget(scope);
      throw this.hasCredentials
        ? statusError(ctx.what, 401, 'credentials refused: check --registry-username and --registry-password')
        : new RegistryError('unauthorized', `${ctx.what}: 401 unauthorized (anonymous access refused: set --registry-username and --registry-password)`, 401, {
          summary: 'the registry refused anonymous access: set --registry-username and --registry-password',
        });
    }
    return second;
  }

  /** Throws the status error for a non-2xx answer, with the registry's error code when it sends one. */
  private async expectOk(ex: Exchange, ctx: RequestContext): Promise<void> {
    if (ex.res.ok) return;
    let detail: string | undefined;
    try {
      const text = new TextDecoder().decode(await this.transport.readAll(ex, 64 << 10, ctx));
      const codes = (JSON.parse(text) as { errors?: { code?: unknown }[] }).errors?.map((e) => e.code).filter((c): c is string => typeof c === 'string');
      if (codes?.length) detail = codes.join(', ').toLowerCase().slice(0, 200);
    } catch {
      // No JSON error body: the status says enough.
    }
    throw statusError(ctx.what, ex.res.status, detail);
  }

  private parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
    try {
      const json = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
      if (json && typeof json === 'object' && !Array.isArray(json)) return json as Record<string, unknown>;
    } catch {
      // Reported below.
    }
    throw new RegistryError('bad-response', `${what}: answer is not a JSON object`);
  }

  /** The path of the `rel="next"` Link, when it points back at this registry. */
  private nextLink(ex: Exchange, what: string): string | null {
    const link = ex.res.headers.get('link');
    if (!link) return null;
    for (const part of link.split(',')) {
      const m = /<([^>]*)>\s*;(.*)/.exec(part.trim());
      if (!m || !/rel="?next"?/i.test(m[2] ?? '')) continue;
      const next = new URL(m[1] ?? '', ex.url);
      if (next.origin !== this.origin) throw new RegistryError('bad-response', `${what}: pagination link leaves the registry`);
      return next.pathname + next.search;
    }
    return null;
  }

  private remember(key: string, m: ManifestResult): void {
    if (this.byDigest.size >= MANIFEST_CACHE_ENTRIES) {
      const oldest = this.byDigest.keys().next().value;
      if (oldest !== undefined) this.byDigest.delete(oldest);
    }
    this.byDigest.set(key, m);
  }

  private ctx(what: string, signal?: AbortSignal): RequestContext {
    return signal ? { what, signal } : { what };
  }
}
