// `otaflux sign` against Debian's docker-registry: the real cosign 2.5 accepts what it writes in both
// layouts (`verify --key --insecure-ignore-tlog` for the legacy .sig tag, `verify-attestation
// --new-bundle-format` for the Sigstore bundle, as test/support/cosign.ts runs them), OtaFlux serves
// what was pushed and signed and refuses what was only pushed, and the refusals (wrong
// COSIGN_PASSWORD, a public key, a missing image, a plain-HTTP registry without --insecure) are one line.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { cosignSign, cosignVerify, generateKeyPair, importEd25519KeyPair, runCosign, sigTag, type CosignKeyPair } from '../support/cosign.ts';
import { startTestServer } from '../support/server.ts';
import { tempDir } from '../support/tmp.ts';
import { firmwareFile, oneLine, otaflux, pushedDigest } from './publish-cli.ts';

const PASSWORD = 'test-only-password'; // what test/support/cosign.ts encrypts generated keys with
let plain: TestRegistry;
let secure: TestRegistry;
let operator: CosignKeyPair;
let second: CosignKeyPair;

beforeAll(async () => {
  [plain, secure, operator, second] = await Promise.all([startRegistry(), startRegistry({ auth: 'htpasswd', tls: true }), generateKeyPair(), generateKeyPair()]);
}, 120_000);
afterAll(async () => {
  await plain?.close();
  await secure?.close();
});

/** Pushes a small firmware to the plain registry; returns the manifest digest. */
async function push(repository: string, version: string): Promise<string> {
  const r = await otaflux(['push', firmwareFile(`${repository} ${version}`).path, '--device', repository, '--version', version, '--registry', `http://${plain.host}`]);
  expect(r.code).toBe(0);
  return pushedDigest(r);
}

function sign(ref: string, extra: string[] = [], env: Record<string, string> = { COSIGN_PASSWORD: PASSWORD }) {
  return otaflux(['sign', ref, '--insecure', ...extra], env);
}

describe('what the real cosign accepts', () => {
  test('--layout legacy (the default): cosign verify --key accepts it, and only with the right key', async () => {
    const digest = await push('fw/legacy', '1.0.0');
    expect(await cosignVerify(plain, operator.pub, 'fw/legacy', digest, 'legacy')).toBe(false);
    const r = await sign(`${plain.host}/fw/legacy:1.0.0`, ['--key', operator.key]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`signed ${plain.host}/fw/legacy@${digest} with a ecdsa-p256 key: legacy signature in tag ${sigTag(digest)} (no transparency log)\n`);
    expect(await cosignVerify(plain, operator.pub, 'fw/legacy', digest, 'legacy')).toBe(true);
    expect(await cosignVerify(plain, second.pub, 'fw/legacy', digest, 'legacy')).toBe(false);
    // The legacy layout only: no bundle was written.
    expect(await cosignVerify(plain, operator.pub, 'fw/legacy', digest, 'bundle')).toBe(false);
  }, 60_000);

  test('a second signer appends to the .sig manifest: both keys verify', async () => {
    const digest = await push('fw/two-signers', '1.0.0');
    expect((await sign(`${plain.host}/fw/two-signers@${digest}`, ['--key', operator.key])).code).toBe(0);
    expect((await sign(`${plain.host}/fw/two-signers@${digest}`, ['--key', second.key, '--layout', 'legacy'])).code).toBe(0);
    const m = (await (await plain.fetch(`/v2/fw/two-signers/manifests/${sigTag(digest)}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).json()) as { layers: unknown[] };
    expect(m.layers.length).toBe(2);
    expect(await cosignVerify(plain, operator.pub, 'fw/two-signers', digest, 'legacy')).toBe(true);
    expect(await cosignVerify(plain, second.pub, 'fw/two-signers', digest, 'legacy')).toBe(true);
  }, 60_000);

  test('--layout bundle: cosign verify-attestation --new-bundle-format accepts the Sigstore bundle', async () => {
    const digest = await push('fw/bundle', '1.0.0');
    const r = await sign(`${plain.host}/fw/bundle:1.0.0`, ['--key', operator.key, '--layout', 'bundle']);
    expect(r.code).toBe(0);
    // docker-registry 2.8 has no referrers API: the bundle is listed in the fallback tag.
    expect(r.stdout).toContain(`listed in the fallback tag ${digest.replace(':', '-')}`);
    expect(await cosignVerify(plain, operator.pub, 'fw/bundle', digest, 'bundle')).toBe(true);
    expect(await cosignVerify(plain, second.pub, 'fw/bundle', digest, 'bundle')).toBe(false);
    expect(await cosignVerify(plain, operator.pub, 'fw/bundle', digest, 'legacy')).toBe(false);

    // cosign 2.5's `verify --new-bundle-format` reads bundles through the referrers API only, which
    // docker-registry 2.8 lacks: it answers the same for a bundle cosign itself wrote as for ours.
    const theirs = await push('fw/bundle-by-cosign', '1.0.0');
    await cosignSign(plain, operator, 'fw/bundle-by-cosign', theirs, 'bundle');
    const verifyNew = async (repo: string, d: string) => (await runCosign(['verify', '--new-bundle-format', '--trusted-root', emptyRoot(), '--key', operator.pub, '--insecure-ignore-tlog', '--allow-http-registry', `${plain.host}/${repo}@${d}`])).code;
    expect(await verifyNew('fw/bundle', digest)).toBe(await verifyNew('fw/bundle-by-cosign', theirs));
  }, 60_000);

  test('--layout both writes both', async () => {
    const digest = await push('fw/both', '1.0.0');
    expect((await sign(`${plain.host}/fw/both@${digest}`, ['--key', operator.key, '--layout', 'both'])).code).toBe(0);
    expect(await cosignVerify(plain, operator.pub, 'fw/both', digest, 'legacy')).toBe(true);
    expect(await cosignVerify(plain, operator.pub, 'fw/both', digest, 'bundle')).toBe(true);
  }, 60_000);

  test('an unencrypted PKCS#8 P-256 key signs too, and its bytes never reach the registry', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const dir = tempDir('otaflux-pem-key-');
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    writeFileSync(join(dir, 'signing.pem'), pem);
    writeFileSync(join(dir, 'signing.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    const digest = await push('fw/pem', '1.0.0');
    expect((await sign(`${plain.host}/fw/pem@${digest}`, ['--key', join(dir, 'signing.pem'), '--layout', 'both'], {})).code).toBe(0);
    expect(await cosignVerify(plain, join(dir, 'signing.pub'), 'fw/pem', digest, 'legacy')).toBe(true);
    expect(await cosignVerify(plain, join(dir, 'signing.pub'), 'fw/pem', digest, 'bundle')).toBe(true);
    // The private scalar, raw and in base64, is in no file of the registry's storage.
    const d = Buffer.from(privateKey.export({ format: 'jwk' }).d as string, 'base64url');
    expect(d.byteLength).toBe(32);
    for (const f of files(plain.dataDir)) {
      const bytes = readFileSync(f);
      expect(bytes.includes(d)).toBe(false);
      expect(bytes.includes(Buffer.from(d.toString('base64').slice(0, 40)))).toBe(false);
      expect(bytes.includes(Buffer.from(pem.split('\n')[1] as string))).toBe(false);
    }
  }, 60_000);

  test('an Ed25519 key imported by cosign (ENCRYPTED SIGSTORE PRIVATE KEY) signs both layouts', async () => {
    const kp = await importEd25519KeyPair();
    const digest = await push('fw/ed25519', '1.0.0');
    const r = await sign(`${plain.host}/fw/ed25519@${digest}`, ['--key', kp.key, '--layout', 'both']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('with a ed25519 key');
    expect(await cosignVerify(plain, kp.pub, 'fw/ed25519', digest, 'legacy')).toBe(true);
    expect(await cosignVerify(plain, kp.pub, 'fw/ed25519', digest, 'bundle')).toBe(true);
  }, 60_000);
});

describe('OtaFlux serves what was pushed and signed', () => {
  test('legacy- and bundle-signed releases are served byte for byte; an unsigned one is not', async () => {
    const files = { legacy: firmwareFile('served legacy', 7000), bundle: firmwareFile('served bundle', 9000), unsigned: firmwareFile('served unsigned', 5000) };
    for (const [dev, fw] of Object.entries(files)) {
      const pushed = await otaflux(['push', fw.path, '--device', `dev-${dev}`, '--version', '2.0.0', '--registry', plain.host, '--insecure', '--prefix', 'served']);
      expect(pushed.code).toBe(0);
      if (dev !== 'unsigned') expect((await sign(`${plain.host}/served/dev-${dev}:2.0.0`, ['--key', operator.key, '--layout', dev])).code).toBe(0);
    }
    const server = await startTestServer({ flags: { 'registry-url': plain.host, 'registry-insecure': true, 'repository-prefix': 'served', 'cosign-pub-key-path': operator.pub } });
    try {
      for (const dev of ['legacy', 'bundle'] as const) {
        const v = await fetch(`${server.url}/version?device=dev-${dev}`);
        expect(v.status).toBe(200);
        expect((await v.text()).split('\n')[0]).toBe('2.0.0');
        const fw = await fetch(`${server.url}/firmware?device=dev-${dev}`);
        expect(new Uint8Array(await fw.arrayBuffer())).toEqual(files[dev].bytes);
      }
      const unsigned = await fetch(`${server.url}/version?device=dev-unsigned`);
      expect(unsigned.status).toBe(404);
      expect(await unsigned.text()).toContain('No verified firmware');
    } finally {
      await server.close();
    }
  }, 60_000);

  test('a registry with a password and a private CA: --username, --password, --ca-cert; cosign and OtaFlux accept it', async () => {
    const fw = firmwareFile('secure signed', 6000);
    const auth = ['--username', secure.username as string, '--password', secure.password as string, '--ca-cert', secure.caFile as string];
    const pushed = await otaflux(['push', fw.path, '--device', 'esp32-sec', '--version', '1.2.3', '--registry', secure.url, '--prefix', 'fw', ...auth]);
    const digest = pushedDigest(pushed);
    const ref = `${secure.host}/fw/esp32-sec:1.2.3`;
    const noCa = await otaflux(['sign', ref, '--key', operator.key, '--username', secure.username as string, '--password', secure.password as string], { COSIGN_PASSWORD: PASSWORD });
    expect(oneLine(noCa)).toContain("pass the registry's CA with --ca-cert");
    const wrong = await otaflux(['sign', ref, '--key', operator.key, '--ca-cert', secure.caFile as string, '--username', secure.username as string, '--password', 'nope'], { COSIGN_PASSWORD: PASSWORD });
    expect(oneLine(wrong)).toContain('401 unauthorized: the registry refused the credentials');
    const signed = await otaflux(['sign', ref, '--key', operator.key, '--layout', 'both', ...auth], { COSIGN_PASSWORD: PASSWORD });
    expect(signed.code).toBe(0);

    // The real cosign, with the registry's credentials in a Docker config and its CA as SSL_CERT_FILE.
    const docker = tempDir('otaflux-docker-config-');
    writeFileSync(join(docker, 'config.json'), JSON.stringify({ auths: { [secure.host]: { auth: Buffer.from(`${secure.username}:${secure.password}`).toString('base64') } } }));
    const env = { DOCKER_CONFIG: docker, SSL_CERT_FILE: secure.caFile as string };
    const legacy = await runCosign(['verify', '--key', operator.pub, '--insecure-ignore-tlog', `${secure.host}/fw/esp32-sec@${digest}`], undefined, env);
    expect(legacy.code).toBe(0);
    const other = await runCosign(['verify', '--key', second.pub, '--insecure-ignore-tlog', `${secure.host}/fw/esp32-sec@${digest}`], undefined, env);
    expect(other.code).not.toBe(0);

    const server = await startTestServer({ flags: { 'registry-url': secure.url, 'repository-prefix': 'fw', 'registry-username': secure.username as string, 'registry-password': secure.password as string, 'registry-ca-cert-path': secure.caFile as string, 'cosign-pub-key-path': operator.pub } });
    try {
      const fwRes = await fetch(`${server.url}/firmware?device=esp32-sec`);
      expect(fwRes.status).toBe(200);
      expect(new Uint8Array(await fwRes.arrayBuffer())).toEqual(fw.bytes);
    } finally {
      await server.close();
    }
  }, 90_000);
});

describe('refusals', () => {
  let digest = '';
  beforeAll(async () => {
    digest = await push('fw/refused', '1.0.0');
  }, 30_000);
  const ref = () => `${plain.host}/fw/refused@${digest}`;
  const sigWritten = async () => (await plain.fetch(`/v2/fw/refused/manifests/${sigTag(digest)}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).status === 200;

  test('a wrong COSIGN_PASSWORD: one line, nothing written', async () => {
    const r = await sign(ref(), ['--key', operator.key], { COSIGN_PASSWORD: 'not-the-password' });
    expect(r.code).toBe(1);
    expect(oneLine(r)).toBe(`otaflux: --key ${operator.key} cannot be decrypted: wrong COSIGN_PASSWORD`);
    expect(await sigWritten()).toBe(false);
  }, 30_000);

  test('no COSIGN_PASSWORD for an encrypted key', async () => {
    const r = await sign(ref(), ['--key', operator.key], {});
    expect(oneLine(r)).toBe(`otaflux: --key ${operator.key} is encrypted: set COSIGN_PASSWORD to its password (empty for none)`);
  }, 30_000);

  test('the public key given as --key', async () => {
    const r = await sign(ref(), ['--key', operator.pub]);
    expect(oneLine(r)).toBe(`otaflux: --key ${operator.pub}: a 'PUBLIC KEY' block is not a private key (give cosign.key, not cosign.pub)`);
  }, 30_000);

  test('a P-384 key is refused for signing; an unencrypted SEC1 P-256 key and an ENCRYPTED COSIGN PRIVATE KEY (older cosign) sign', async () => {
    const dir = tempDir('otaflux-key-kinds-');
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    writeFileSync(join(dir, 'p384.pem'), p384.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const refused = await sign(ref(), ['--key', join(dir, 'p384.pem')], {});
    expect(oneLine(refused)).toBe(`otaflux: --key ${join(dir, 'p384.pem')}: ECDSA curve secp384r1 is not supported for signing (ECDSA P-256, Ed25519)`);

    const sec1 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, 'sec1.pem'), sec1.privateKey.export({ type: 'sec1', format: 'pem' }));
    writeFileSync(join(dir, 'sec1.pub'), sec1.publicKey.export({ type: 'spki', format: 'pem' }));
    const d1 = await push('fw/sec1', '1.0.0');
    expect((await sign(`${plain.host}/fw/sec1@${d1}`, ['--key', join(dir, 'sec1.pem')], {})).code).toBe(0);
    expect(await cosignVerify(plain, join(dir, 'sec1.pub'), 'fw/sec1', d1, 'legacy')).toBe(true);

    // cosign before 2.0 labelled the same JSON `ENCRYPTED COSIGN PRIVATE KEY`.
    writeFileSync(join(dir, 'old.key'), readFileSync(operator.key, 'utf8').replaceAll('ENCRYPTED SIGSTORE PRIVATE KEY', 'ENCRYPTED COSIGN PRIVATE KEY'));
    const d2 = await push('fw/old-label', '1.0.0');
    expect((await sign(`${plain.host}/fw/old-label@${d2}`, ['--key', join(dir, 'old.key')])).code).toBe(0);
    expect(await cosignVerify(plain, operator.pub, 'fw/old-label', d2, 'legacy')).toBe(true);
  }, 60_000);

  test('an image that does not exist', async () => {
    const r = await sign(`${plain.host}/fw/refused:9.9.9`, ['--key', operator.key]);
    expect(r.code).toBe(1);
    expect(oneLine(r)).toBe(`otaflux: ${plain.host}/fw/refused:9.9.9 does not exist: push it first (otaflux push)`);
  }, 30_000);

  test('a plain-HTTP registry without --insecure', async () => {
    const r = await otaflux(['sign', ref(), '--key', operator.key], { COSIGN_PASSWORD: PASSWORD });
    expect(r.code).toBe(1);
    expect(oneLine(r)).toContain(`if the registry speaks plain HTTP, give http://${plain.host} or --insecure`);
    // REGISTRY_INSECURE is the env var of --insecure.
    expect((await otaflux(['sign', ref(), '--key', operator.key], { COSIGN_PASSWORD: PASSWORD, REGISTRY_INSECURE: 'true' })).code).toBe(0);
    expect(await sigWritten()).toBe(true);
  }, 30_000);

  test('usage errors: layout, reference, missing key (exit 2)', async () => {
    const layout = await sign(ref(), ['--key', operator.key, '--layout', 'sideways']);
    expect(layout.code).toBe(2);
    expect(oneLine(layout)).toBe("otaflux: sign: --layout must be legacy, bundle or both, got 'sideways'");
    const noHost = await sign('fw/refused:1.0.0', ['--key', operator.key]);
    expect(noHost.code).toBe(2);
    expect(oneLine(noHost)).toContain("'fw' is not a registry host");
    const noTag = await sign(`${plain.host}/fw/refused`, ['--key', operator.key]);
    expect(oneLine(noTag)).toContain('name the tag or the digest to sign');
    const noKey = await sign(ref());
    expect(noKey.code).toBe(2);
    expect(oneLine(noKey)).toBe('otaflux: sign: --key is required (cosign.key, or a PEM private key)');
  }, 30_000);
});

function emptyRoot(): string {
  const path = join(tempDir('otaflux-empty-root-'), 'trusted_root.json');
  writeFileSync(path, JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] }));
  return path;
}

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else out.push(p);
  }
  return out;
}
