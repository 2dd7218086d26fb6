/**
 * The plugin contract. Everything a source, verifier, extractor or device authenticator
 * needs to know about OtaFlux is in this file, and nothing in it depends on an HTTP framework.
 *
 * A plugin is a factory that returns a plain object (`dir({ root })`, `cosign({ keys })`).
 * The host drives its life: setup → validate → use → close. A plugin that throws in setup or
 * validate stops start-up with a message naming its id.
 *
 * When each hook runs (each method's comment says more):
 * - at start-up, once per plugin object: `setup`, then (after every plugin's setup) `validate`;
 * - on a device's lookup (its first poll, then the first poll after each refresh interval, a webhook,
 *   a prefetch): `source.versions`, then newest first `source.resolve` and `verifier.verify` until a
 *   version is accepted, then, only when that artifact is not cached yet, `artifact.open` and the
 *   extractors' `extract`;
 * - on every poll of a device with authenticators: `authenticate`;
 * - at shutdown, once, in reverse order: `close`.
 *
 * Cancellation: the `signal` handed to `versions`, `resolve`, `open`, `verify` and `extract` is
 * aborted when the server shuts down or when the lookup has taken longer than
 * `PLUGIN_CALL_TIMEOUT_MS`; `setup`'s `ctx.signal` when the server shuts down. Pass it on to
 * `fetch()` and the like: an aborted call's error is treated as "source unavailable".
 *
 * A plugin that throws where the contract does not expect it (a verifier's `verify`, an
 * authenticator's `authenticate`, a source's `versions`/`resolve` with something other than
 * `UpstreamUnavailable` or `FirmwareNotFound`) is logged naming its id; the device gets the status
 * the README's status table lists: source, verifier or extractor 502 (or the last good copy),
 * authenticator 503 `Authentication unavailable, retry later`.
 */

/**
 * The plugin API version this build speaks. A plugin whose `apiVersion` is neither this nor an older
 * version still supported (`SUPPORTED_PLUGIN_API_VERSIONS`) is refused at start-up.
 *
 * Version 2 changed one call: a source's `resolve(device, version, opts)` gets `{ signal, previous }`
 * where version 1 handed the signal itself. A plugin written for version 1 still loads, and its
 * `resolve` still gets the signal as its third argument. Everything else version 2 added is
 * optional (identities, `verifyOffline`, `outputName`, `detectPriority`, `challenge`, the request's
 * `method` and `path`), and `AuthRequest` is still the name of the authenticators' request.
 */
export const PLUGIN_API_VERSION = 2;

/** Every `apiVersion` a plugin may declare: this build's, and the older ones it adapts to. */
export const SUPPORTED_PLUGIN_API_VERSIONS: readonly number[] = [1, PLUGIN_API_VERSION];

/** How long one device lookup (versions, resolve, verify, open and extract together) may take before its signal aborts. */
export const PLUGIN_CALL_TIMEOUT_MS = 10 * 60 * 1000;

export type PluginKind = 'source' | 'verifier' | 'extractor' | 'authenticator';

/** Structured, levelled logging. Fields must never carry secrets. */
export interface Logger {
  error(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
  trace(msg: string, fields?: Record<string, unknown>): void;
  /** A logger whose lines carry these fields too. */
  child(fields: Record<string, unknown>): Logger;
}

/** What the host hands a plugin in `setup`. */
export interface PluginContext {
  /** Logger whose lines carry `plugin: <id>`. */
  logger: Logger;
  /** Directory of the config file: resolve relative paths in options against it. */
  configDir: string;
  /**
   * Directory this plugin instance may use for its own state, created by the host and kept across
   * restarts: `<cache dir>/plugins/<id>/<n>`, where `n` numbers the instances of that id in the
   * order the config names them (1, 2, …). Two instances never share one.
   */
  stateDir: string;
  /** Aborted when the server shuts down. */
  signal: AbortSignal;
}

interface PluginBase<K extends PluginKind> {
  kind: K;
  /** Namespaced lowercase id: `source.dir`, `verifier.cosign`, `extractor.zstd`, `auth.mtls`. */
  id: string;
  /** The plugin API version this plugin was written for (use `PLUGIN_API_VERSION`). */
  apiVersion: number;
  /** Acquire resources, read files, check options against the world. Throw to stop start-up. */
  setup?(ctx: PluginContext): void | Promise<void>;
  /** Check that the plugin is ready to serve (after every plugin's setup). Throw to stop start-up. */
  validate?(): void | Promise<void>;
  /** Release resources. Called once at shutdown, also when start-up fails after setup. */
  close?(): void | Promise<void>;
}

/** The device a request is about, with the parts of its composition that plugins may read. */
export interface DeviceRef {
  /** Validated device id (OCI repository grammar, so it is safe in a path or a URL). */
  id: string;
  /** Whether prerelease versions (`1.2.0-rc.1`) may be served to this device. */
  allowPrerelease: boolean;
  /** Free-form per-device options from the config (`devices[x].options`), for plugins to interpret. */
  options: Readonly<Record<string, unknown>>;
}

/** A version a source offers for a device. */
export interface SourceVersion {
  /** Normalised semver, without a `v` prefix: `1.2.3`, `2.0.0-rc.1`. */
  version: string;
  /** The name as the source has it: `v1.2.3`, `1.2.3`, `1.2.3.bin`. */
  tag: string;
}

/**
 * An artifact pinned to its content: `open()` yields exactly the bytes that `digest` names,
 * however the tag has moved since `resolve()`. The source checks that (or computes the digest
 * from the bytes it read) and errors rather than yield other bytes.
 */
export interface Artifact {
  version: string;
  tag: string;
  /** The source's own content digest, `sha256:<hex>` (for OCI: the manifest digest). */
  digest: string;
  /** File name hint (OCI title annotation, file name on disk). */
  name?: string;
  /** Media type hint (OCI layer media type). */
  mediaType?: string;
  /** Size of the stored (possibly compressed) bytes, when known. */
  size?: number;
  /** Source-specific details a matching verifier may read (e.g. `{ registry, repository }` for OCI). */
  meta?: Readonly<Record<string, unknown>>;
  /**
   * `sha256:<hex>` of exactly the bytes `open()` yields, only when `open()`'s stream errors at its end
   * if they differ (OCI: the layer digest; dir: the file's). When no extractor changes the bytes, the
   * core then does not hash them a second time. Leave it out when the stream is not checked.
   */
  contentDigest?: string;
  /**
   * Streams the stored bytes of this exact digest. Called only when the host has no cached copy of
   * this digest (after this source, verifier and extractor chain), once however many devices wait.
   */
  open(signal?: AbortSignal): Promise<ReadableStream<Uint8Array>>;
}

/** What a source's `resolve()` returned before: the artifact without `open`. */
export type ResolvedArtifact = Readonly<Omit<Artifact, 'open'>>;

export interface ResolveOptions {
  /** Aborted at shutdown or when the lookup times out. */
  signal?: AbortSignal;
  /**
   * What this source resolved for this device and this tag the last time (in this process), so a
   * source without content digests can ask its upstream "changed since?" (an ETag, a modification
   * time kept in `meta`) and, when nothing changed, return the same `digest` without reading the
   * bytes: the host then serves its cached copy and never calls `open()`.
   */
  previous?: ResolvedArtifact;
}

export interface SourcePlugin extends PluginBase<'source'> {
  /**
   * Every version available for the device, in any order. Unknown device → empty list (or throw
   * `FirmwareNotFound` with a reason for the operator). Runs on every lookup of the device: at its
   * first poll, after each refresh interval (`--refresh-interval`), on a webhook or a prefetch.
   */
  versions(device: DeviceRef, signal?: AbortSignal): Promise<SourceVersion[]>;
  /**
   * Pins one version to its content. Runs on every lookup too, for the newest versions until the
   * verifier accepts one: keep it cheap (a manifest, a HEAD, a stat), and use `opts.previous` when the
   * source has no digest of its own, so an unchanged image is not downloaded again to hash it.
   * (A plugin declaring `apiVersion: 1` gets `opts.signal` itself here, as plugin API 1 specified.)
   */
  resolve(device: DeviceRef, version: SourceVersion, opts?: ResolveOptions): Promise<Artifact>;
  /**
   * Optional: where this device's firmware comes from, as a stable string without secrets
   * (`source.oci http://registry:5000/firmware/esp32-a`, `source.dir /srv/firmware/esp32-a`). It must
   * not do I/O: the core compares it with the identity a cached release was fetched under, and serves
   * that release only when they are equal (another registry or folder never gets it). Without it the
   * plugin id stands in, so two configurations of that plugin cannot be told apart.
   */
  identity?(device: DeviceRef): string;
}

export type Verdict =
  | {
      ok: true;
      /** Who or what vouched: key fingerprint, identity. */
      by: string;
      /**
       * Optional: the signature material as fetched (JSON-serialisable, small), stored with the cached
       * release and handed back to `verifyOffline` after a restart or a change of trusted keys.
       */
      evidence?: unknown;
    }
  | { ok: false; /** Short machine-friendly reason: `unsigned`, `wrong-key`, `digest-mismatch`. */ reason: string; detail?: string };

export interface VerifierPlugin extends PluginBase<'verifier'> {
  /**
   * Decides whether this exact artifact (by digest) may be served. Never throws for a bad signature
   * (throw `UpstreamUnavailable` when the signatures cannot be fetched now). Runs on a lookup for
   * each candidate version whose digest it has not accepted yet; an acceptance is remembered for good,
   * a rejection for one refresh interval.
   */
  verify(device: DeviceRef, artifact: Artifact, signal?: AbortSignal): Promise<Verdict>;
  /**
   * Optional: what this verifier trusts now, as a stable string (`verifier.cosign keys=SHA256:…`,
   * `verifier.none`), called after setup. A cached release records the identity that accepted it.
   * Without it the plugin id stands in.
   */
  identity?(): string;
  /**
   * Optional: re-checks the `evidence` an earlier verdict returned, against what this verifier trusts
   * now, without any network (the source may be down). `digest` is the artifact's digest. A cached
   * release accepted under another identity is served only when this says ok; a verifier without it
   * gets a cached release only when its `identity()` equals the recorded one. Never throws.
   */
  verifyOffline?(device: DeviceRef, digest: string, evidence: unknown): Verdict | Promise<Verdict>;
}

/** What an extractor sees when the host auto-detects the format. */
export interface ExtractHints {
  /** The first bytes of the input (at least 512 when the input is that long). */
  head: Uint8Array;
  name?: string;
  mediaType?: string;
}

export interface ExtractLimits {
  /** Output larger than this is an error. */
  maxOutputBytes: number;
  /** Output/input ratio above this is an error (decompression bombs). */
  maxRatio: number;
}

export interface ExtractContext {
  device: DeviceRef;
  name?: string;
  mediaType?: string;
  limits: ExtractLimits;
  signal?: AbortSignal;
  logger: Logger;
}

export interface ExtractorPlugin extends PluginBase<'extractor'> {
  /** Options that change the output (e.g. the tar member glob), as a string: part of the cache key. */
  variant?: string;
  /** Whether the input looks like this format. Used by auto-detection; omit to never be auto-picked. */
  detect?(hints: ExtractHints): boolean;
  /**
   * Where this extractor's `detect` comes in auto-detection: higher is asked first; default 0.
   * Extractors of equal priority are asked in the order they are listed (the built-ins, then the
   * config's `extractors`). Rank a format recognised by its magic bytes above one guessed from
   * weaker signs: the built-ins give gzip and zstd 20, tar 10.
   */
  detectPriority?: number;
  /**
   * Optional: the file name of the output given the input's (`fw.bin.gz` → `fw.bin`, `fw.tgz` →
   * `fw.tar`), the hint the next extractor sees. Without it the next one gets no name.
   */
  outputName?(name: string): string | undefined;
  /** The output is the input unchanged (`extractor.raw`): not recorded among a release's extractors, and the name hint passes on. */
  passThrough?: boolean;
  /**
   * Turns the input into the output. Runs only when a new artifact is downloaded into the cache. Errors (corrupt, truncated, over a limit) surface as an
   * errored stream; the host then keeps the previous good release.
   * The next extractor's name hint is `outputName(name)`.
   */
  extract(input: ReadableStream<Uint8Array>, ctx: ExtractContext): ReadableStream<Uint8Array>;
}

/** The parts of a client certificate an authenticator can map to a device. */
export interface PeerCertificate {
  subject: Readonly<Record<string, string>>;
  issuer: Readonly<Record<string, string>>;
  /** `DNS:x`, `URI:x`, `email:x`, as in OpenSSL's text form. */
  subjectAltNames: readonly string[];
  serialNumber: string;
  /** SHA-256 fingerprint, colon-separated uppercase hex. */
  fingerprint256: string;
  validFrom: Date;
  validTo: Date;
  /** DER bytes. */
  raw: Uint8Array;
}

/**
 * A device's request, the one shape authenticators and the core see, whichever device protocol it
 * came through (the native `/version` and `/firmware`, hawkBit DDI, Arduino, RAUC).
 */
export interface DeviceRequest {
  /** The validated device id (the firmware stream) the request is for: OCI repository grammar, safe in a path or a URL. */
  deviceId: string;
  /** `GET`, `HEAD`, `POST`, … */
  method: string;
  /** The path without the query: `/version`, `/firmware`, `/DEFAULT/controller/v1/esp32-a`. */
  path: string;
  /** Lower-cased header names. */
  headers: Readonly<Record<string, string | undefined>>;
  query: URLSearchParams;
  /** The peer's address (the connection's, not a forwarded header's). */
  remoteAddress: string;
  /** Present when the connection is TLS and the client showed a certificate that chains to a trusted CA. */
  peerCertificate?: PeerCertificate;
  /**
   * Set when this address has used up its refused attempts: a refusal is answered 429 whatever it
   * says, so skip work that only refines one (such as finding whose credential it is). Valid
   * credentials must still be allowed.
   */
  rateLimited?: boolean;
}

/** What `authenticate` is handed: the device's request. The name plugin API 1 gave it, kept: the same type as `DeviceRequest`. */
export type AuthRequest = DeviceRequest;

export type AuthDecision =
  /**
   * The request is this device's (or a gateway's allowed to act for it). `identity` names who
   * presented it, the instance rather than the device id: `cert:<the certificate value that
   * mapped>` (for `mtls()`, the full subject CN, e.g. `cert:esp32-a:0017`), `token:<owner>`,
   * `token:gateway`.
   */
  | { outcome: 'allow'; identity: string }
  /**
   * Credentials were presented and are wrong (401) or belong to someone else (403). `reason` is logged
   * (with this plugin's id), never sent; `presented` says whose credential it was, without secrets.
   * `challenge` is the `WWW-Authenticate` value of a 401 (default: the plugin's `challenge`).
   */
  | { outcome: 'deny'; status: 401 | 403; reason: string; presented?: string; challenge?: string }
  /** This authenticator has nothing to say (no credentials of its kind were presented). */
  | { outcome: 'skip' };

export interface AuthenticatorPlugin extends PluginBase<'authenticator'> {
  /**
   * Optional: the `WWW-Authenticate` challenge this authenticator answers a 401 with
   * (`HMAC realm="acme"`). When no authenticator of a device accepts, the 401 carries the challenges
   * of all its authenticators that have one, else `Bearer realm="otaflux"`.
   */
  challenge?: string;
  /**
   * Runs on every poll of a device whose `auth` lists it (in the listed order, until one allows).
   * Return the decision itself when it needs no I/O: the poll is then answered in
   * the same turn; a promise makes the device's polls wait for it. `req` is the request the core
   * serves: read it, do not change it (a change is not seen: the device admitted is `req.deviceId` as
   * it was before any authenticator ran).
   */
  authenticate(req: DeviceRequest): AuthDecision | Promise<AuthDecision>;
}

export type Plugin = SourcePlugin | VerifierPlugin | ExtractorPlugin | AuthenticatorPlugin;
