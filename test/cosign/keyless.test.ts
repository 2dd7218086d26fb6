/**
 * Keyless verification (certificate identity + OIDC issuer against a local trusted root), with an
 * openssl-made CA standing in for Fulcio. The real cosign signs with `--certificate` in both
 * layouts and verifies with `--certificate-identity/--certificate-oidc-issuer` against the same CA;
 * OtaFlux must agree on every case.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Verdict } from '../../src/plugin.ts';
import { cosign } from '../../src/plugins/verifier/cosign/index.ts';
import type { KeylessOptions } from '../../src/plugins/verifier/cosign/keyless.ts';
import { device, ociFor } from '../oci/helpers.ts';
import { pushArtifact, startRegistry, type TestRegistry } from '../support/registry.ts';
import { MEDIA, cosignSign, cosignVerifyKeyless, fakeFulcio, generateKeyPair, pushBundle, pushLegacySignature, readLegacySignature, type CosignKeyPair, type FakeFulcio } from '../support/cosign.ts';

const ISSUER = 'https://issuer.example.com';
const RELEASE = 'release@example.com';

let reg: TestRegistry;
let fulcio: FakeFulcio;
let rogueCa: FakeFulcio;
let signer: CosignKeyPair;

beforeAll(async () => {
  [reg, fulcio, rogueCa, signer] = await Promise.all([startRegistry(), fakeFulcio(), fakeFulcio('rogue ca'), generateKeyPair()]);
});
afterAll(() => reg?.close());

const policy = (o: Partial<KeylessOptions> = {}): KeylessOptions => ({ trustedRoot: fulcio.trustedRoot, identities: [{ subject: RELEASE, issuer: ISSUER }], ...o });

async function verdictFor(repo: string, layout: 'legacy' | 'bundle', keyless: KeylessOptions): Promise<{ verdict: Verdict; digest: string }> {
  const source = await ociFor(reg);
  const id = repo.slice('fw/'.length);
  const artifact = await source.resolve(device(id), (await source.versions(device(id)))[0]!);
  return { verdict: await cosign({ keyless, layouts: [layout] }).verify(device(id), artifact), digest: artifact.digest };
}

describe.each(['legacy', 'bundle'] as const)('%s layout', (layout) => {
  async function signed(name: string, ca: FakeFulcio, identity: string, issuer: string): Promise<string> {
    const repo = `fw/kl-${name}-${layout}`;
    const digest = await pushArtifact(reg, repo, '1.0.0', [{ name: 'fw.bin', data: `${name} ${layout}` }]);
    const certificate = await ca.issue(signer.pub, identity, issuer);
    await cosignSign(reg, signer, repo, digest, layout, { certificate, chain: ca.caFile });
    return repo;
  }

  async function expectBoth(repo: string, keyless: KeylessOptions, expected: 'ok' | string, cosignIdentity = RELEASE, cosignIssuer = ISSUER): Promise<Verdict> {
    const { verdict, digest } = await verdictFor(repo, layout, keyless);
    const cosignValid = await cosignVerifyKeyless(reg, fulcio, cosignIdentity, cosignIssuer, repo, digest, layout);
    expect({ otaflux: verdict.ok ? 'ok' : verdict.reason, cosign: cosignValid }).toEqual({ otaflux: expected, cosign: expected === 'ok' });
    return verdict;
  }

  test('certificate for the trusted identity and issuer: valid, names them', async () => {
    const repo = await signed('good', fulcio, RELEASE, ISSUER);
    const v = await expectBoth(repo, policy(), 'ok');
    expect(v.ok && v.by).toBe(`verifier.cosign identity:${RELEASE} issuer:${ISSUER} (${layout === 'legacy' ? 'legacy .sig' : 'bundle'})`);
    expect((await verdictFor(repo, layout, policy({ identities: [{ subjectRegExp: '.*@example\\.com', issuerRegExp: 'https://issuer\\.example\\.(com|org)' }] }))).verdict.ok).toBe(true);
  });

  test('another identity: wrong-key', async () => {
    await expectBoth(await signed('identity', fulcio, 'mallory@example.com', ISSUER), policy(), 'wrong-key');
  });

  test('the right identity from another OIDC issuer: wrong-key', async () => {
    const v = await expectBoth(await signed('issuer', fulcio, RELEASE, 'https://evil.example.net'), policy(), 'wrong-key');
    expect(v.ok ? '' : v.detail).toContain(`identity ${RELEASE} from https://evil.example.net is not trusted`);
  });

  test('a certificate from a CA outside the trusted root: wrong-key', async () => {
    const v = await expectBoth(await signed('rogue', rogueCa, RELEASE, ISSUER), policy(), 'wrong-key');
    expect(v.ok ? '' : v.detail).toContain('does not chain to a CA of the trusted root');
  });

  test('a certificate whose extended key usage excludes code signing: wrong-key', async () => {
    // cosign refuses to sign with such a certificate: sign with a good one, then swap in the bad one (same key).
    const repo = await signed('eku', fulcio, RELEASE, ISSUER);
    const serverCert = await Bun.file(await fulcio.issue(signer.pub, RELEASE, ISSUER, { extendedKeyUsage: 'serverAuth' })).text();
    const source = await ociFor(reg);
    const digest = (await source.resolve(device(repo.slice(3)), (await source.versions(device(repo.slice(3))))[0]!)).digest;
    if (layout === 'legacy') {
      const layers = await readLegacySignature(reg, repo, digest);
      await pushLegacySignature(reg, repo, digest, layers.map((l) => ({ ...l, extraAnnotations: { ...l.extraAnnotations, 'dev.sigstore.cosign/certificate': serverCert } })));
    } else {
      const index = await (await reg.fetch(`/v2/${repo}/manifests/${digest.replace(':', '-')}`, { headers: { accept: MEDIA.ociIndex } }, repo)).json() as { manifests: { digest: string }[] };
      const manifest = await (await reg.fetch(`/v2/${repo}/manifests/${index.manifests[0]!.digest}`, { headers: { accept: MEDIA.ociManifest } }, repo)).json() as { layers: { digest: string }[] };
      const bundle = await (await reg.fetch(`/v2/${repo}/blobs/${manifest.layers[0]!.digest}`, {}, repo)).json() as { verificationMaterial: { certificate: { rawBytes: string } } };
      bundle.verificationMaterial.certificate.rawBytes = serverCert.replace(/-----[^-]+-----|\s/g, '');
      await pushBundle(reg, repo, digest, JSON.stringify(bundle), { replaceIndex: true });
    }
    const v = await expectBoth(repo, policy(), 'wrong-key');
    expect(v.ok ? '' : v.detail).toContain('extended key usage excludes code signing');
  });

  test('transparency-log proof required, none in the signature: refused', async () => {
    const repo = await signed('tlog', fulcio, RELEASE, ISSUER);
    const { verdict } = await verdictFor(repo, layout, policy({ requireTlog: true }));
    expect(verdict).toMatchObject({ ok: false, reason: 'wrong-key' });
  });
});

test('keyless options are checked up front', () => {
  expect(() => cosign({ keyless: { trustedRoot: 'x.json', identities: [] } })).toThrow('keyless must be');
  expect(() => cosign({ keyless: { trustedRoot: 'x.json', identities: [{ subject: RELEASE }] } })).toThrow('keyless must be');
  expect(() => cosign({ keyless: { trustedRoot: 'x.json', identities: [{ subjectRegExp: '(', issuer: ISSUER }] } })).toThrow("keyless subjectRegExp '(' is not a valid regular expression");
  expect(() => cosign({ keyless: { trustedRoot: 'x.json', identities: [{ subject: RELEASE, issuer: ISSUER }] } })).not.toThrow();
});

test('only keys configured: a certificate-signed bundle is wrong-key', async () => {
  const repo = 'fw/kl-keysonly';
  const digest = await pushArtifact(reg, repo, '1.0.0', [{ name: 'fw.bin', data: 'keys only' }]);
  await cosignSign(reg, signer, repo, digest, 'bundle', { certificate: await fulcio.issue(signer.pub, RELEASE, ISSUER), chain: fulcio.caFile });
  const other = await generateKeyPair();
  const source = await ociFor(reg);
  const artifact = await source.resolve(device('kl-keysonly'), (await source.versions(device('kl-keysonly')))[0]!);
  expect(await cosign({ keys: [other.pub], layouts: ['bundle'] }).verify(device('kl-keysonly'), artifact)).toMatchObject({ ok: false, reason: 'wrong-key' });
});
