/**
 * A real OCI registry for tests and benchmarks: Debian's `docker-registry` (CNCF distribution 2.8),
 * started on 127.0.0.1 on a free port in a temp dir, plus helpers that push artifacts with plain
 * `fetch` in the shapes real tools produce.
 *
 * Start and stop:
 *
 *     const reg = await startRegistry({ auth: 'htpasswd', tls: true });
 *     reg.host        // "127.0.0.1:40123"  (what `--registry-url` takes)
 *     reg.url         // "https://127.0.0.1:40123"
 *     reg.caFile      // private CA (PEM path) when tls: true; reg.caPem holds its text
 *     reg.username / reg.password   // "ota" / "secret-pass" when auth is set
 *     await reg.stop();   await reg.start();   // same port, same storage (registry down / back up)
 *     await reg.close();  // stop everything and delete the temp dir
 *
 * Modes (`RegistryOptions`), combinable:
 * - `auth: 'none'` (default) plain anonymous registry.
 * - `auth: 'htpasswd'` HTTP Basic (bcrypt htpasswd file made with `htpasswd -Bbc`).
 * - `auth: 'bearer'` token auth, with an in-process ES256 JWT token server (`reg.tokenServer`,
 *   counts requests in `reg.tokenServer.requests`, token lifetime `tokenTtlSeconds`, anonymous
 *   pulls allowed with `anonymousPull: true`).
 * - `tls: true` HTTPS with a certificate for 127.0.0.1/localhost signed by an openssl-made private CA.
 * - `redirect: true` blob GETs answer 307 to a second loopback HTTP server (`reg.blobStore`), which
 *   serves the blobs from the storage dir, counts GETs and records whether any request to it
 *   carried an Authorization header (`reg.blobStore.authorizationSeen`).
 * The access log is always on: `await reg.blobGets({ digest? , repository? })` counts blob GETs the
 * registry answered (200/206/307), after making sure earlier requests have been logged.
 *
 * Push helpers (use the registry's own auth; return the manifest digest):
 *
 *     const digest = await pushArtifact(reg, 'fw/dev1', '1.2.3',
 *       [{ name: 'firmware.bin', data: bytes, mediaType: 'application/vnd.espressif.esp32.firmware.v1+binary' }],
 *       'oras-1.1');          // or 'oras-1.0' | 'docker-v2'
 *     const { digest, children } = await pushIndex(reg, 'fw/dev1', '2.0.0', [
 *       { files: [...], platform: { os: 'none', architecture: 'xtensa', variant: 'esp32' } },
 *       { files: [...], annotations: { 'com.example.board': 'rev2' } },
 *     ]);
 *     await pushBlob(reg, repo, bytes);  await pushManifest(reg, repo, reference, bytes, mediaType);
 *     reg.blobPath(digest)   // file of a blob in the storage dir (corrupt it to test digest checks)
 *     await deleteTag(...) is not offered: re-push the tag to move it.
 *
 * Other helpers: `startSilentServer()` (a TCP server that accepts and never answers, for timeouts),
 * `freePort()`, and `seedFirmware()` (start a registry and push N devices' firmware, for benches).
 */
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import { freePort } from './ports.ts';
import { createHash, createPrivateKey, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';

export type RegistryAuth = 'none' | 'htpasswd' | 'bearer';

export interface RegistryOptions {
  auth?: RegistryAuth;
  tls?: boolean;
  redirect?: boolean;
  /** Credentials for htpasswd/bearer (defaults: `ota` / `secret-pass`). */
  username?: string;
  password?: string;
  /** Bearer: lifetime of issued tokens (default 300 s). */
  tokenTtlSeconds?: number;
  /** Bearer: the token server grants `pull` without credentials. */
  anonymousPull?: boolean;
}

export interface TokenServer {
  url: string;
  service: string;
  /** Number of token requests served (successful or not). */
  requests: number;
  /** Scopes requested, in order. */
  scopes: string[];
  stop(): void;
}

export interface BlobStore {
  url: string;
  /** Number of GET requests for blob data. */
  gets: number;
  /** Whether any request to the blob store carried an Authorization header. */
  authorizationSeen: boolean;
  stop(): void;
}

export interface TestRegistry {
  /** `127.0.0.1:<port>` */
  host: string;
  port: number;
  /** `http://…` or `https://…` */
  url: string;
  /** Temp dir holding config, certs and storage. */
  dir: string;
  /** Storage root of the registry (filesystem driver). */
  dataDir: string;
  options: Required<Pick<RegistryOptions, 'auth' | 'tls' | 'redirect'>>;
  username?: string;
  password?: string;
  caFile?: string;
  caPem?: string;
  tokenServer?: TokenServer;
  blobStore?: BlobStore;
  /** Whether the registry process is running. */
  readonly running: boolean;
  /** Starts the registry again on the same port and storage. */
  start(): Promise<void>;
  /** Stops the registry process (the token server and blob store keep running). */
  stop(): Promise<void>;
  /** Stops everything and removes the temp dir. */
  close(): Promise<void>;
  /** Access-log lines so far (combined log format). */
  accessLog(): string[];
  /** Counts blob GETs (status 200/206/307) in the access log, after earlier requests are logged. */
  blobGets(filter?: { digest?: string; repository?: string }): Promise<number>;
  /** Path of a blob's data file in the storage dir. */
  blobPath(digest: string): string;
  /** `fetch` against the registry with its credentials (Basic, or a bearer token for `repository`) and CA. */
  fetch(path: string, init?: RequestInit, repository?: string): Promise<Response>;
}

const children = new Set<ReturnType<typeof Bun.spawn>>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

export { freePort };

async function run(cmd: string[], cwd: string): Promise<void> {
  const p = Bun.spawn(cmd, { cwd, stdout: 'ignore', stderr: 'pipe' });
  const code = await p.exited;
  if (code !== 0) throw new Error(`${cmd.join(' ')}: exit ${code}: ${await new Response(p.stderr).text()}`);
}

/** Makes a private CA and a server certificate for 127.0.0.1/localhost in `dir`. */
export async function makeTlsFiles(dir: string): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await run(['openssl', 'req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=otaflux test ca'], dir);
  await run(['openssl', 'req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  await run(['openssl', 'x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext'], dir);
  return { caFile: join(dir, 'ca.pem'), certFile: join(dir, 'server.pem'), keyFile: join(dir, 'server.key') };
}

function b64url(data: Uint8Array | string): string {
  return Buffer.from(data).toString('base64url');
}

/** Starts an ES256 JWT token server of the kind distribution's `token` auth expects. */
async function startTokenServer(dir: string, o: { service: string; issuer: string; username: string; password: string; ttl: number; anonymousPull: boolean }): Promise<TokenServer & { certFile: string }> {
  await run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'token.key', '-out', 'token.pem', '-days', '2', '-subj', '/CN=otaflux test token signer'], dir);
  const key = createPrivateKey(readFileSync(join(dir, 'token.key')));
  const pem = readFileSync(join(dir, 'token.pem'), 'utf8');
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const state = { requests: 0, scopes: [] as string[] };
  const expected = 'Basic ' + Buffer.from(`${o.username}:${o.password}`).toString('base64');
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(req) {
      state.requests++;
      const url = new URL(req.url);
      const auth = req.headers.get('authorization');
      const authed = auth === expected;
      if (auth && !authed) return new Response('{"errors":[{"code":"UNAUTHORIZED"}]}', { status: 401 });
      if (!authed && !o.anonymousPull) return new Response('{"errors":[{"code":"UNAUTHORIZED"}]}', { status: 401 });
      const access = url.searchParams.getAll('scope').flatMap((scope) => {
        state.scopes.push(scope);
        const [type, ...rest] = scope.split(':');
        const actions = (rest.pop() ?? '').split(',');
        const granted = authed ? actions : actions.filter((a) => a === 'pull');
        return type === 'repository' ? [{ type, name: rest.join(':'), actions: granted }] : [];
      });
      const now = Math.floor(Date.now() / 1000);
      const header = { typ: 'JWT', alg: 'ES256', x5c: [der.toString('base64')] };
      const claims = { iss: o.issuer, sub: authed ? o.username : '', aud: o.service, exp: now + o.ttl, nbf: now - 10, iat: now, jti: randomUUID(), access };
      const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
      const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
      const token = `${input}.${b64url(sig)}`;
      return Response.json({ token, access_token: token, expires_in: o.ttl, issued_at: new Date(now * 1000).toISOString() });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/token`,
    service: o.service,
    get requests() { return state.requests; },
    set requests(n: number) { state.requests = n; },
    scopes: state.scopes,
    certFile: join(dir, 'token.pem'),
    stop: () => server.stop(true),
  };
}

/** Serves `<dataDir><path>` files: the target of the registry's blob redirects. */
function startBlobStore(dataDir: string): BlobStore {
  const state = { gets: 0, authorizationSeen: false };
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      if (req.headers.get('authorization')) state.authorizationSeen = true;
      const path = decodeURIComponent(new URL(req.url).pathname);
      if (path.includes('..')) return new Response('bad path', { status: 400 });
      const file = Bun.file(join(dataDir, path));
      if (!(await file.exists())) return new Response('not found', { status: 404 });
      if (req.method === 'GET') state.gets++;
      return new Response(req.method === 'HEAD' ? null : file, { headers: { 'content-length': String(file.size), 'content-type': 'application/octet-stream' } });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    get gets() { return state.gets; },
    set gets(n: number) { state.gets = n; },
    get authorizationSeen() { return state.authorizationSeen; },
    set authorizationSeen(v: boolean) { state.authorizationSeen = v; },
    stop: () => server.stop(true),
  };
}

/** Starts a registry in a fresh temp dir. Stop it with `close()`. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const auth = opts.auth ?? 'none';
  const tls = opts.tls ?? false;
  const redirect = opts.redirect ?? false;
  const username = opts.username ?? 'ota';
  const password = opts.password ?? 'secret-pass';
  const dir = await mkdtemp(join(tmpdir(), 'otaflux-registry-'));
  const dataDir = join(dir, 'data');
  await mkdir(dataDir, { recursive: true });
  const port = await freePort();
  const host = `127.0.0.1:${port}`;

  const config: Record<string, unknown> = {
    version: 0.1,
    log: { level: 'error', accesslog: { disabled: false } },
    storage: { filesystem: { rootdirectory: dataDir }, delete: { enabled: true }, maintenance: { uploadpurging: { enabled: false } } },
    http: { addr: host, secret: 'test-only-secret' } as Record<string, unknown>,
  };
  let caFile: string | undefined;
  let caPem: string | undefined;
  if (tls) {
    const files = await makeTlsFiles(dir);
    caFile = files.caFile;
    caPem = readFileSync(caFile, 'utf8');
    (config.http as Record<string, unknown>).tls = { certificate: files.certFile, key: files.keyFile };
  }
  let tokenServer: (TokenServer & { certFile: string }) | undefined;
  if (auth === 'htpasswd') {
    await run(['htpasswd', '-Bbc', join(dir, 'htpasswd'), username, password], dir);
    config.auth = { htpasswd: { realm: 'otaflux-test', path: join(dir, 'htpasswd') } };
  } else if (auth === 'bearer') {
    tokenServer = await startTokenServer(dir, { service: 'otaflux-test-registry', issuer: 'otaflux-test-issuer', username, password, ttl: opts.tokenTtlSeconds ?? 300, anonymousPull: opts.anonymousPull ?? false });
    config.auth = { token: { realm: tokenServer.url, service: tokenServer.service, issuer: 'otaflux-test-issuer', rootcertbundle: tokenServer.certFile } };
  }
  let blobStore: BlobStore | undefined;
  if (redirect) {
    blobStore = startBlobStore(dataDir);
    config.middleware = { storage: [{ name: 'redirect', options: { baseurl: blobStore.url } }] };
  }
  const configFile = join(dir, 'config.yml');
  await writeFile(configFile, JSON.stringify(config, null, 2));

  const scheme = tls ? 'https' : 'http';
  const url = `${scheme}://${host}`;
  const log: string[] = [];
  let proc: ReturnType<typeof Bun.spawn> | undefined;
  const tokens = new Map<string, string>();

  async function readLines(stream: ReadableStream<Uint8Array>): Promise<void> {
    let rest = '';
    const dec = new TextDecoder();
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += dec.decode(value, { stream: true });
      const lines = rest.split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) if (l.includes('"')) log.push(l);
    }
  }

  async function rawFetch(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(url + path, { ...init, ...(caPem ? { tls: { ca: caPem } } : {}) } as RequestInit);
  }

  async function authHeader(repository?: string): Promise<string | undefined> {
    if (auth === 'htpasswd') return 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64');
    if (auth !== 'bearer' || !tokenServer) return undefined;
    const scope = repository ? `repository:${repository}:pull,push` : '';
    const known = tokens.get(scope);
    if (known) return known;
    const q = new URLSearchParams({ service: tokenServer.service, ...(scope ? { scope } : {}) });
    const res = await fetch(`${tokenServer.url}?${q}`, { headers: { authorization: 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64') } });
    if (!res.ok) throw new Error(`test token server: ${res.status}`);
    const value = 'Bearer ' + ((await res.json()) as { token: string }).token;
    tokens.set(scope, value);
    return value;
  }

  const reg: TestRegistry = {
    host,
    port,
    url,
    dir,
    dataDir,
    options: { auth, tls, redirect },
    ...(auth !== 'none' ? { username, password } : {}),
    ...(caFile ? { caFile, caPem } : {}),
    ...(tokenServer ? { tokenServer } : {}),
    ...(blobStore ? { blobStore } : {}),
    get running() { return proc !== undefined && proc.exitCode === null; },

    async start() {
      if (proc && proc.exitCode === null) return;
      const p = Bun.spawn(['docker-registry', 'serve', configFile], { cwd: dir, stdout: 'pipe', stderr: 'pipe' });
      proc = p;
      children.add(p);
      void readLines(p.stdout as ReadableStream<Uint8Array>);
      const errText = new Response(p.stderr as ReadableStream<Uint8Array>).text();
      const deadline = Date.now() + 10_000;
      for (;;) {
        if (p.exitCode !== null) throw new Error(`docker-registry exited ${p.exitCode}: ${await errText}`);
        const ok = await rawFetch('/v2/', { signal: AbortSignal.timeout(500) }).then((r) => (void r.arrayBuffer(), true), () => false);
        if (ok) return;
        if (Date.now() > deadline) throw new Error(`docker-registry on ${host} did not answer within 10 s`);
        await Bun.sleep(25);
      }
    },

    async stop() {
      if (!proc) return;
      const p = proc;
      proc = undefined;
      p.kill('SIGTERM');
      const killer = setTimeout(() => p.kill('SIGKILL'), 3000);
      await p.exited;
      clearTimeout(killer);
      children.delete(p);
    },

    async close() {
      await reg.stop();
      tokenServer?.stop();
      blobStore?.stop();
      await rm(dir, { recursive: true, force: true });
    },

    accessLog: () => [...log],

    async blobGets(filter = {}) {
      // A sentinel request: once its line is logged, earlier requests are logged too (near enough).
      const mark = `/v2/?sentinel=${randomUUID()}`;
      if (reg.running) {
        await rawFetch(mark).then((r) => r.arrayBuffer(), () => undefined);
        for (let i = 0; i < 100 && !log.some((l) => l.includes(mark)); i++) await Bun.sleep(10);
      }
      const re = /"GET \/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})[^"]* HTTP\/[\d.]+" (\d{3})/;
      return log.filter((l) => {
        const m = re.exec(l);
        if (!m || !['200', '206', '307'].includes(m[3] ?? '')) return false;
        return (!filter.repository || m[1] === filter.repository) && (!filter.digest || m[2] === filter.digest);
      }).length;
    },

    blobPath(digest: string) {
      const hex = digest.replace(/^sha256:/, '');
      return join(dataDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    },

    async fetch(path, init = {}, repository) {
      const headers = new Headers(init.headers);
      const a = await authHeader(repository);
      if (a) headers.set('authorization', a);
      return rawFetch(path, { ...init, headers });
    },
  };
  await reg.start();
  return reg;
}

// ---------------------------------------------------------------------------------------------
// Pushing

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  orasArtifact: 'application/vnd.unknown.artifact.v1',
  orasConfig10: 'application/vnd.unknown.config.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
} as const;

/** The manifest shapes `pushArtifact` can produce. */
export type ArtifactShape = 'oras-1.1' | 'oras-1.0' | 'docker-v2';

export interface ArtifactFile {
  /** File name (becomes the `org.opencontainers.image.title` annotation in oras shapes). */
  name: string;
  data: Uint8Array | string;
  /** Layer media type (oras default: `application/vnd.oci.image.layer.v1.tar`). */
  mediaType?: string;
  /** Extra layer annotations. */
  annotations?: Record<string, string>;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
  data?: string;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export function sha256(data: Uint8Array | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

function bytesOf(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? new TextEncoder().encode(data) : data;
}

/** Uploads a blob (monolithic POST + PUT) and returns its digest. */
export async function pushBlob(reg: TestRegistry, repository: string, data: Uint8Array | string): Promise<string> {
  const bytes = bytesOf(data);
  const digest = sha256(bytes);
  const start = await reg.fetch(`/v2/${repository}/blobs/uploads/`, { method: 'POST' }, repository);
  await start.arrayBuffer();
  if (start.status !== 202) throw new Error(`blob upload start for ${repository}: ${start.status}`);
  const location = start.headers.get('location') ?? '';
  const target = new URL(location, reg.url);
  target.searchParams.set('digest', digest);
  const put = await reg.fetch(target.pathname + target.search, { method: 'PUT', body: new Uint8Array(bytes), headers: { 'content-type': 'application/octet-stream' } }, repository);
  const text = await put.text();
  if (put.status !== 201) throw new Error(`blob upload for ${repository}: ${put.status} ${text}`);
  return digest;
}

/** PUTs a manifest (object or exact bytes) under a tag or digest; returns its digest. */
export async function pushManifest(reg: TestRegistry, repository: string, reference: string, manifest: object | Uint8Array | string, mediaType: string): Promise<string> {
  const bytes = manifest instanceof Uint8Array || typeof manifest === 'string' ? bytesOf(manifest) : bytesOf(JSON.stringify(manifest));
  const res = await reg.fetch(`/v2/${repository}/manifests/${reference}`, { method: 'PUT', body: new Uint8Array(bytes), headers: { 'content-type': mediaType } }, repository);
  const text = await res.text();
  if (res.status !== 201) throw new Error(`manifest PUT ${repository}:${reference}: ${res.status} ${text}`);
  return sha256(bytes);
}

/** Builds (and uploads the blobs of) a manifest in the given shape, without pushing the manifest. */
export async function buildManifest(reg: TestRegistry, repository: string, files: ArtifactFile[], shape: ArtifactShape): Promise<{ manifest: Record<string, unknown>; mediaType: string }> {
  const layers: Descriptor[] = [];
  for (const f of files) {
    const bytes = bytesOf(f.data);
    const digest = await pushBlob(reg, repository, bytes);
    const d: Descriptor = { mediaType: f.mediaType ?? (shape === 'docker-v2' ? MEDIA.dockerLayer : MEDIA.ociLayer), digest, size: bytes.byteLength };
    const annotations = shape === 'docker-v2' ? f.annotations : { 'org.opencontainers.image.title': f.name, ...f.annotations };
    if (annotations && Object.keys(annotations).length) d.annotations = annotations;
    layers.push(d);
  }
  if (shape === 'docker-v2') {
    const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) }, config: {} });
    const cdigest = await pushBlob(reg, repository, config);
    return {
      mediaType: MEDIA.dockerManifest,
      manifest: { schemaVersion: 2, mediaType: MEDIA.dockerManifest, config: { mediaType: MEDIA.dockerConfig, digest: cdigest, size: config.length }, layers },
    };
  }
  const created = { 'org.opencontainers.image.created': new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
  if (shape === 'oras-1.0') {
    const cdigest = await pushBlob(reg, repository, '{}');
    return {
      mediaType: MEDIA.ociManifest,
      manifest: { schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { mediaType: MEDIA.orasConfig10, digest: cdigest, size: 2 }, layers, annotations: created },
    };
  }
  const edigest = await pushBlob(reg, repository, '{}');
  return {
    mediaType: MEDIA.ociManifest,
    manifest: {
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      artifactType: MEDIA.orasArtifact,
      config: { mediaType: MEDIA.ociEmpty, digest: edigest, size: 2, data: 'e30=' },
      layers,
      annotations: created,
    },
  };
}

/** Pushes files as one artifact in the shape `oras push` (≥1.1 or 1.0) or Docker produce; returns the manifest digest. */
export async function pushArtifact(reg: TestRegistry, repository: string, tag: string, files: ArtifactFile[], shape: ArtifactShape = 'oras-1.1'): Promise<string> {
  const { manifest, mediaType } = await buildManifest(reg, repository, files, shape);
  return pushManifest(reg, repository, tag, manifest, mediaType);
}

export interface IndexEntry {
  files: ArtifactFile[];
  shape?: ArtifactShape;
  platform?: Platform;
  annotations?: Record<string, string>;
}

/** Pushes each entry's manifest by digest, then an OCI image index under `tag`. */
export async function pushIndex(reg: TestRegistry, repository: string, tag: string, entries: IndexEntry[]): Promise<{ digest: string; children: string[] }> {
  const manifests: Descriptor[] = [];
  for (const e of entries) {
    const { manifest, mediaType } = await buildManifest(reg, repository, e.files, e.shape ?? 'oras-1.1');
    const bytes = bytesOf(JSON.stringify(manifest));
    const digest = await pushManifest(reg, repository, sha256(bytes), bytes, mediaType);
    const d: Descriptor = { mediaType, digest, size: bytes.byteLength };
    if (e.platform) d.platform = e.platform;
    if (e.annotations) d.annotations = e.annotations;
    manifests.push(d);
  }
  const digest = await pushManifest(reg, repository, tag, { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests }, MEDIA.ociIndex);
  return { digest, children: manifests.map((m) => m.digest) };
}

// ---------------------------------------------------------------------------------------------
// Other fixtures

/** A TCP server on 127.0.0.1 that accepts connections and never answers (for timeout tests). */
export async function startSilentServer(): Promise<{ host: string; port: number; connections: number; close(): Promise<void> }> {
  const sockets = new Set<import('node:net').Socket>();
  let connections = 0;
  const srv: Server = createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', () => ok()));
  const port = (srv.address() as { port: number }).port;
  return {
    host: `127.0.0.1:${port}`,
    port,
    get connections() { return connections; },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((ok) => srv.close(() => ok()));
    },
  };
}

/**
 * Starts a registry and pushes one firmware per device under `{prefix}/{device}:{version}`
 * (oras ≥1.1 shape). For benches: returns the registry and the pushed bytes per device.
 */
export async function seedFirmware(o: { devices: string[]; prefix: string; version?: string; size: number; registry?: RegistryOptions }): Promise<{ registry: TestRegistry; firmware: Map<string, Uint8Array> }> {
  const registry = await startRegistry(o.registry);
  const firmware = new Map<string, Uint8Array>();
  for (const device of o.devices) {
    const data = new Uint8Array(o.size);
    crypto.getRandomValues(data.subarray(0, Math.min(o.size, 65536)));
    data[0] = 0xe9;
    const repository = o.prefix ? `${o.prefix.replace(/\/$/, '')}/${device}` : device;
    await pushArtifact(registry, repository, o.version ?? '1.0.0', [{ name: 'firmware.bin', data, mediaType: 'application/vnd.espressif.esp32.firmware.v1+binary' }]);
    firmware.set(device, data);
  }
  return { registry, firmware };
}
