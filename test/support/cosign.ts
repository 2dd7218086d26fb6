/**
 * Real cosign signatures for tests: the cosign 2.5 binary from Debian trixie (fetched once by
 * test/tools/get-cosign.sh into a cache dir), key pairs it generates, and signatures it pushes to a
 * test registry (test/support/registry.ts) in both layouts:
 *
 *     const kp = await generateKeyPair();                 // cosign generate-key-pair → kp.pub, kp.key
 *     await cosignSign(reg, kp, 'fw/dev1', digest, 'legacy');   // tag sha256-<hex>.sig
 *     await cosignSign(reg, kp, 'fw/dev1', digest, 'bundle');   // Sigstore bundle + sha256-<hex> index
 *     await cosignVerify(reg, kp.pub, 'fw/dev1', digest, 'legacy')   // → true / false, as cosign says
 *
 * cosign 2.5 writes the bundle layout with `attest --new-bundle-format --type
 * https://sigstore.dev/cosign/sign/v1` (what cosign 3's `sign` writes) and verifies it with
 * `verify-attestation --new-bundle-format` and a local trusted root (no TUF fetch, no network).
 *
 * Debian's cosign 2.5 refuses to import ECDSA and RSA private keys (`import-key-pair`: "unsupported
 * public key type"); it imports Ed25519. For P-384 and RSA the tests sign with node:crypto in the
 * exact layouts cosign writes (`signLegacyWith`, `signBundleWith`), and the real cosign verifies them.
 * The low-level push helpers also build hostile variants (copied, corrupted, garbage layers).
 */
import { createHash, createPublicKey, generateKeyPairSync, sign as cryptoSign, constants, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pushBlob, pushManifest, sha256, type TestRegistry } from './registry.ts';
import { tempDir } from './tmp.ts';

const PASSWORD = 'test-only-password';
const GET_COSIGN = resolve(import.meta.dir, '../tools/get-cosign.sh');

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  simpleSigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
  bundle: 'application/vnd.dev.sigstore.bundle.v0.3+json',
} as const;

export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';

let binary: Promise<string> | undefined;

/** Path of the cosign binary (runs get-cosign.sh the first time; it is a no-op once cached). */
export function cosignBinary(): Promise<string> {
  binary ??= (async () => {
    const p = Bun.spawn(['bash', GET_COSIGN], { stdout: 'pipe', stderr: 'pipe' });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    if (code !== 0) throw new Error(`get-cosign.sh failed (${code}): ${err.slice(-500)}`);
    return out.trim().split('\n').pop() ?? '';
  })();
  return binary;
}

let home: string | undefined;

/** Runs cosign with a private HOME/TUF dir and the test key password; returns exit code and output. */
export async function runCosign(args: string[], cwd?: string, extraEnv: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = await cosignBinary();
  home ??= tempDir('otaflux-cosign-home-');
  const p = Bun.spawn([bin, ...args], {
    cwd: cwd ?? home,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, TUF_ROOT: join(home, 'tuf'), COSIGN_PASSWORD: PASSWORD, COSIGN_YES: 'true', ...extraEnv },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

async function mustCosign(args: string[], cwd?: string): Promise<string> {
  const r = await runCosign(args, cwd);
  if (r.code !== 0) throw new Error(`cosign ${args[0]} failed (${r.code}): ${r.stderr.slice(-800)}`);
  return r.stdout;
}

export interface CosignKeyPair {
  /** PEM public key path (`cosign.pub`). */
  pub: string;
  /** cosign's encrypted private key path (`cosign.key`). */
  key: string;
  /** The public key's PEM text. */
  pubPem: string;
}

/** `cosign generate-key-pair` in a fresh temp dir: an ECDSA P-256 pair. */
export async function generateKeyPair(): Promise<CosignKeyPair> {
  const dir = tempDir('otaflux-cosign-key-');
  await mustCosign(['generate-key-pair'], dir);
  return { pub: join(dir, 'cosign.pub'), key: join(dir, 'cosign.key'), pubPem: await Bun.file(join(dir, 'cosign.pub')).text() };
}

/** `cosign import-key-pair` of an Ed25519 key made with node:crypto (the one type Debian's cosign imports). */
export async function importEd25519KeyPair(): Promise<CosignKeyPair & { privateKey: KeyObject }> {
  const dir = tempDir('otaflux-cosign-key-');
  const { privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(join(dir, 'ed25519.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  await mustCosign(['import-key-pair', '--key', 'ed25519.pem', '--output-key-prefix', 'imported'], dir);
  return { pub: join(dir, 'imported.pub'), key: join(dir, 'imported.key'), pubPem: await Bun.file(join(dir, 'imported.pub')).text(), privateKey };
}

export interface NodeKeyPair {
  privateKey: KeyObject;
  /** PEM public key path. */
  pub: string;
  pubPem: string;
}

/** A key pair made with node:crypto, public key written as PEM (P-384, RSA, Ed25519, P-256). */
export function nodeKeyPair(kind: 'p256' | 'p384' | 'rsa' | 'ed25519'): NodeKeyPair {
  const pair =
    kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 3072 })
    : kind === 'ed25519' ? generateKeyPairSync('ed25519')
    : generateKeyPairSync('ec', { namedCurve: kind === 'p256' ? 'P-256' : 'P-384' });
  const pubPem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const pub = join(tempDir('otaflux-node-key-'), `${kind}.pub`);
  writeFileSync(pub, pubPem);
  return { privateKey: pair.privateKey, pub, pubPem };
}

/** Signs bytes as cosign does for the key type: SHA-256 ECDSA (DER) or RSA PKCS#1 v1.5, pure Ed25519. */
export function signBytes(privateKey: KeyObject, bytes: Uint8Array): Uint8Array {
  const type = privateKey.asymmetricKeyType;
  if (type === 'ed25519') return new Uint8Array(cryptoSign(null, bytes, privateKey));
  if (type === 'rsa') return new Uint8Array(cryptoSign('sha256', bytes, { key: privateKey, padding: constants.RSA_PKCS1_PADDING }));
  return new Uint8Array(cryptoSign('sha256', bytes, { key: privateKey, dsaEncoding: 'der' }));
}

// ---------------------------------------------------------------------------------------------
// The real cosign: sign and verify

/** Signs `repository@digest` with the real cosign in one layout (no transparency log). */
export async function cosignSign(reg: TestRegistry, kp: Pick<CosignKeyPair, 'key'>, repository: string, digest: string, layout: 'legacy' | 'bundle', cert?: { certificate: string; chain: string }): Promise<void> {
  const ref = `${reg.host}/${repository}@${digest}`;
  const certArgs = cert ? ['--certificate', cert.certificate, '--certificate-chain', cert.chain] : [];
  if (layout === 'legacy') {
    await mustCosign(['sign', '-y', '--key', kp.key, ...certArgs, '--tlog-upload=false', '--allow-http-registry', ref]);
    return;
  }
  const predicate = join(tempDir('otaflux-cosign-pred-'), 'empty.json');
  writeFileSync(predicate, '{}');
  await mustCosign(['attest', '-y', '--new-bundle-format', '--type', SIGN_PREDICATE, '--predicate', predicate, '--key', kp.key, ...certArgs, '--tlog-upload=false', '--allow-http-registry', ref]);
}

let trustedRoot: string | undefined;

/** A Sigstore trusted root with no authorities at all: key-based verification with no network. */
function emptyTrustedRoot(): string {
  if (trustedRoot) return trustedRoot;
  trustedRoot = join(tempDir('otaflux-cosign-root-'), 'trusted_root.json');
  writeFileSync(trustedRoot, JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] }));
  return trustedRoot;
}

/** What `cosign verify --key … --insecure-ignore-tlog` (legacy) or `verify-attestation --new-bundle-format` (bundle) says. */
export async function cosignVerify(reg: TestRegistry, pub: string, repository: string, digest: string, layout: 'legacy' | 'bundle'): Promise<boolean> {
  const ref = `${reg.host}/${repository}@${digest}`;
  const args =
    layout === 'legacy'
      ? ['verify', '--key', pub, '--insecure-ignore-tlog', '--allow-http-registry', ref]
      : ['verify-attestation', '--new-bundle-format', '--trusted-root', emptyTrustedRoot(), '--type', SIGN_PREDICATE, '--key', pub, '--insecure-ignore-tlog', '--allow-http-registry', ref];
  const r = await runCosign(args);
  if (r.code !== 0 && /dial tcp|no such host|tuf refresh|tuf-repo/i.test(r.stderr)) throw new Error(`cosign tried the network: ${r.stderr.slice(-400)}`);
  return r.code === 0;
}

// ---------------------------------------------------------------------------------------------
// Keyless: a private CA standing in for Fulcio

export interface FakeFulcio {
  /** PEM of the CA certificate. */
  caFile: string;
  /** Sigstore trusted root JSON holding the CA (no logs). */
  trustedRoot: string;
  /** Issues a code-signing certificate for the public key in `pubFile` to `identity` (e-mail or URI) from OIDC `issuer`. */
  issue(pubFile: string, identity: string, issuer: string, o?: { extendedKeyUsage?: string; days?: number }): Promise<string>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const p = Bun.spawn(['openssl', ...args], { cwd, stdout: 'ignore', stderr: 'pipe' });
  const code = await p.exited;
  if (code !== 0) throw new Error(`openssl ${args[0]} failed (${code}): ${await new Response(p.stderr).text()}`);
}

/** An openssl-made CA that issues Fulcio-shaped certificates (SAN identity, issuer extensions 57264.1.1 and 1.8). */
export async function fakeFulcio(name = 'otaflux test fulcio'): Promise<FakeFulcio> {
  const dir = tempDir('otaflux-fulcio-');
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '3', '-subj', `/O=otaflux tests/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'], dir);
  const der = Buffer.from((await Bun.file(join(dir, 'ca.pem')).text()).replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const trustedRoot = join(dir, 'trusted_root.json');
  writeFileSync(trustedRoot, JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], ctlogs: [], timestampAuthorities: [],
    certificateAuthorities: [{ subject: { organization: 'otaflux tests', commonName: name }, uri: 'https://fulcio.invalid', certChain: { certificates: [{ rawBytes: der.toString('base64') }] }, validFor: { start: '2020-01-01T00:00:00Z' } }],
  }));
  let n = 0;
  return {
    caFile: join(dir, 'ca.pem'),
    trustedRoot,
    async issue(pubFile, identity, issuer, o = {}) {
      n++;
      const san = identity.includes('://') ? `URI:${identity}` : `email:${identity}`;
      const rawIssuer = [...Buffer.from(issuer)].map((b) => b.toString(16).padStart(2, '0')).join(':');
      writeFileSync(join(dir, `leaf${n}.ext`), [
        'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature',
        `extendedKeyUsage=${o.extendedKeyUsage ?? 'codeSigning'}`,
        `subjectAltName=${san}`, `1.3.6.1.4.1.57264.1.1=DER:${rawIssuer}`, `1.3.6.1.4.1.57264.1.8=ASN1:UTF8String:${issuer}`,
      ].join('\n') + '\n');
      await openssl(['x509', '-new', '-force_pubkey', pubFile, '-subj', '/', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-days', String(o.days ?? 1), '-extfile', `leaf${n}.ext`, '-out', `leaf${n}.pem`], dir);
      return join(dir, `leaf${n}.pem`);
    },
  };
}

/** What the real cosign says about a keyless signature, trusting only the fake Fulcio (no tlog, no SCT). */
export async function cosignVerifyKeyless(reg: TestRegistry, ca: FakeFulcio, identity: string, issuer: string, repository: string, digest: string, layout: 'legacy' | 'bundle'): Promise<boolean> {
  const ref = `${reg.host}/${repository}@${digest}`;
  const who = ['--certificate-identity', identity, '--certificate-oidc-issuer', issuer, '--insecure-ignore-tlog', '--insecure-ignore-sct', '--allow-http-registry'];
  const args = layout === 'legacy'
    ? ['verify', '--certificate-chain', ca.caFile, ...who, ref]
    : ['verify-attestation', '--new-bundle-format', '--trusted-root', ca.trustedRoot, '--type', SIGN_PREDICATE, ...who, ref];
  const r = await runCosign(args, undefined, { SIGSTORE_ROOT_FILE: ca.caFile });
  if (r.code !== 0 && /dial tcp|no such host|tuf refresh|tuf-repo/i.test(r.stderr)) throw new Error(`cosign tried the network: ${r.stderr.slice(-400)}`);
  return r.code === 0;
}

// ---------------------------------------------------------------------------------------------
// Cosign's layouts by hand (for key types Debian's cosign cannot import, and for hostile cases)

export interface LegacyLayer {
  payload: Uint8Array | string;
  /** Base64 signature annotation (omit for none). */
  signature?: string;
  mediaType?: string;
  extraAnnotations?: Record<string, string>;
}

/** The simple-signing payload cosign signs for `host/repository@digest`. */
export function simpleSigningPayload(reg: TestRegistry, repository: string, digest: string, type = 'cosign container image signature'): string {
  return JSON.stringify({ critical: { identity: { 'docker-reference': `${reg.host}/${repository}` }, image: { 'docker-manifest-digest': digest }, type }, optional: null });
}

/** `sha256:<hex>` → `sha256-<hex>.sig` */
export function sigTag(digest: string): string {
  return `${digest.replace(':', '-')}.sig`;
}

/** Pushes (replaces) the `.sig` manifest of `digest` with these layers; returns the manifest digest. */
export async function pushLegacySignature(reg: TestRegistry, repository: string, digest: string, layers: LegacyLayer[]): Promise<string> {
  const descriptors = [];
  for (const l of layers) {
    const bytes = typeof l.payload === 'string' ? new TextEncoder().encode(l.payload) : l.payload;
    const d = await pushBlob(reg, repository, bytes);
    const annotations = { ...(l.signature !== undefined ? { [SIGNATURE_ANNOTATION]: l.signature } : {}), ...l.extraAnnotations };
    descriptors.push({ mediaType: l.mediaType ?? MEDIA.simpleSigning, size: bytes.byteLength, digest: d, ...(Object.keys(annotations).length ? { annotations } : {}) });
  }
  const config = JSON.stringify({ architecture: '', created: '0001-01-01T00:00:00Z', history: [{ created: '0001-01-01T00:00:00Z' }], os: '', rootfs: { type: 'layers', diff_ids: descriptors.map((d) => d.digest) }, config: {} });
  const configDigest = await pushBlob(reg, repository, config);
  const manifest = { schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { mediaType: MEDIA.ociConfig, size: config.length, digest: configDigest }, layers: descriptors };
  return pushManifest(reg, repository, sigTag(digest), manifest, MEDIA.ociManifest);
}

/** The layers of the `.sig` manifest of `digest` as they are now (payloads fetched). */
export async function readLegacySignature(reg: TestRegistry, repository: string, digest: string): Promise<LegacyLayer[]> {
  const m = (await (await reg.fetch(`/v2/${repository}/manifests/${sigTag(digest)}`, { headers: { accept: MEDIA.ociManifest } }, repository)).json()) as { layers: { digest: string; mediaType: string; annotations?: Record<string, string> }[] };
  const out: LegacyLayer[] = [];
  for (const l of m.layers) {
    const payload = new Uint8Array(await (await reg.fetch(`/v2/${repository}/blobs/${l.digest}`, {}, repository)).arrayBuffer());
    const { [SIGNATURE_ANNOTATION]: signature, ...extraAnnotations } = l.annotations ?? {};
    out.push({ payload, mediaType: l.mediaType, ...(signature !== undefined ? { signature } : {}), ...(Object.keys(extraAnnotations).length ? { extraAnnotations } : {}) });
  }
  return out;
}

/** Signs `digest` in the legacy layout with a node:crypto key, appending to an existing `.sig` manifest. */
export async function signLegacyWith(reg: TestRegistry, privateKey: KeyObject, repository: string, digest: string, o: { payloadDigest?: string; append?: boolean } = {}): Promise<void> {
  const payload = simpleSigningPayload(reg, repository, o.payloadDigest ?? digest);
  const signature = Buffer.from(signBytes(privateKey, new TextEncoder().encode(payload))).toString('base64');
  const existing = o.append ? await readLegacySignature(reg, repository, digest).catch(() => []) : [];
  await pushLegacySignature(reg, repository, digest, [...existing, { payload, signature }]);
}

/** The in-toto statement cosign 3 signs for an image digest. */
export function signStatement(reg: TestRegistry, repository: string, digest: string, predicateType = SIGN_PREDICATE): string {
  const [alg, hex] = digest.split(':');
  return JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', predicateType, subject: [{ name: `${reg.host}/${repository}`, digest: { [alg ?? 'sha256']: hex } }], predicate: {} });
}

/** A key-signed Sigstore bundle (v0.3) of a DSSE envelope over `statement`. */
export function makeBundle(privateKey: KeyObject, statement: string, payloadType = 'application/vnd.in-toto+json'): string {
  const payload = Buffer.from(statement);
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(payloadType)} ${payloadType} ${payload.byteLength} `), payload]);
  const sig = Buffer.from(signBytes(privateKey, pae)).toString('base64');
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  return JSON.stringify({
    mediaType: MEDIA.bundle,
    verificationMaterial: { publicKey: { hint: createHash('sha256').update(spki).digest('base64') } },
    dsseEnvelope: { payload: payload.toString('base64'), payloadType, signatures: [{ sig }] },
  });
}

/** Pushes a bundle as cosign does (manifest with `subject`) and adds it to the `sha256-<hex>` fallback index. */
export async function pushBundle(reg: TestRegistry, repository: string, digest: string, bundle: string | Uint8Array, o: { subjectSize?: number; indexArtifactType?: string; replaceIndex?: boolean } = {}): Promise<string> {
  const bytes = typeof bundle === 'string' ? new TextEncoder().encode(bundle) : bundle;
  const layer = await pushBlob(reg, repository, bytes);
  const empty = await pushBlob(reg, repository, '{}');
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    config: { mediaType: MEDIA.ociEmpty, size: 2, digest: empty, artifactType: MEDIA.bundle },
    layers: [{ mediaType: MEDIA.bundle, size: bytes.byteLength, digest: layer }],
    annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': SIGN_PREDICATE },
    subject: { mediaType: MEDIA.ociManifest, size: o.subjectSize ?? 0, digest },
    artifactType: MEDIA.bundle,
  };
  const mbytes = new TextEncoder().encode(JSON.stringify(manifest));
  const mdigest = await pushManifest(reg, repository, sha256(mbytes), mbytes, MEDIA.ociManifest);
  const indexTag = digest.replace(':', '-');
  let entries: unknown[] = [];
  if (!o.replaceIndex) {
    const res = await reg.fetch(`/v2/${repository}/manifests/${indexTag}`, { headers: { accept: MEDIA.ociIndex } }, repository);
    if (res.ok) entries = ((await res.json()) as { manifests: unknown[] }).manifests;
    else await res.arrayBuffer();
  }
  entries.push({ mediaType: MEDIA.ociManifest, size: mbytes.byteLength, digest: mdigest, artifactType: o.indexArtifactType ?? MEDIA.ociEmpty });
  await pushManifest(reg, repository, indexTag, { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: entries }, MEDIA.ociIndex);
  return mdigest;
}

/** Signs `digest` in the bundle layout with a node:crypto key. */
export async function signBundleWith(reg: TestRegistry, privateKey: KeyObject, repository: string, digest: string, o: { statementDigest?: string } = {}): Promise<void> {
  await pushBundle(reg, repository, digest, makeBundle(privateKey, signStatement(reg, repository, o.statementDigest ?? digest)));
}

/** Copies a tag's manifest bytes to another tag in the same repository (moving or copying signatures). */
export async function copyTag(reg: TestRegistry, repository: string, from: string, to: string, accept: string): Promise<void> {
  const res = await reg.fetch(`/v2/${repository}/manifests/${from}`, { headers: { accept } }, repository);
  if (!res.ok) throw new Error(`copyTag ${from}: ${res.status}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  await pushManifest(reg, repository, to, bytes, res.headers.get('content-type') ?? accept);
}
