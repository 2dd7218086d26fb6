/**
 * verifier.cosign against the real cosign 2.5 on a real registry, in both signature layouts: every
 * case states OtaFlux's verdict for the digest the OCI source resolved, and checks that
 * `cosign verify --key … --insecure-ignore-tlog` (legacy) or `cosign verify-attestation
 * --new-bundle-format` (bundle) says the same (valid ↔ ok).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Verdict } from '../../src/plugin.ts';
import { cosign } from '../../src/plugins/verifier/cosign/index.ts';
import { device, ociFor } from '../oci/helpers.ts';
import { pushArtifact, pushBlob, pushManifest, startRegistry, type TestRegistry } from '../support/registry.ts';
import {
  MEDIA, copyTag, cosignSign, cosignVerify, generateKeyPair, makeBundle, nodeKeyPair, pushBundle, pushLegacySignature,
  readLegacySignature, sigTag, signBundleWith, signLegacyWith, signStatement, simpleSigningPayload, signBytes,
  type CosignKeyPair, type NodeKeyPair,
} from '../support/cosign.ts';

type Layout = 'legacy' | 'bundle';

let reg: TestRegistry;
/** The operator's key (cosign generate-key-pair) and a stranger's. */
let operator: CosignKeyPair;
let stranger: CosignKeyPair;
/** A trusted P-256 key whose private half node:crypto holds, for crafted-but-validly-signed cases. */
let crafted: NodeKeyPair;
const table: string[] = [];

beforeAll(async () => {
  [reg, operator, stranger] = await Promise.all([startRegistry(), generateKeyPair(), generateKeyPair()]);
  crafted = nodeKeyPair('p256');
});

afterAll(async () => {
  console.log(['case | layout | otaflux | cosign', ...table].join('\n'));
  await reg?.close();
});

async function firmware(repository: string, tag: string, content = `firmware ${repository} ${tag} ${Math.random()}`): Promise<string> {
  return pushArtifact(reg, repository, tag, [{ name: 'fw.bin', data: content }]);
}

/** OtaFlux's verdict for `fw/<id>:<tag>`, resolved by the OCI source as the core does. */
async function otaflux(id: string, tag: string, keys: string[], layout: Layout): Promise<{ verdict: Verdict; digest: string }> {
  const source = await ociFor(reg);
  const dev = device(id);
  const version = (await source.versions(dev)).find((v) => v.tag === tag);
  if (!version) throw new Error(`no version ${tag} for ${id}`);
  const artifact = await source.resolve(dev, version);
  const verdict = await cosign({ keys, layouts: [layout] }).verify(dev, artifact);
  return { verdict, digest: artifact.digest };
}

/** Asserts OtaFlux's verdict and cosign's answer, and that they agree. */
async function expectBoth(name: string, id: string, tag: string, layout: Layout, keys: string[], expected: 'ok' | string, cosignKey = keys[0] ?? ''): Promise<Verdict> {
  const { verdict, digest } = await otaflux(id, tag, keys, layout);
  const cosignValid = await cosignVerify(reg, cosignKey, `fw/${id}`, digest, layout);
  const got = verdict.ok ? 'ok' : verdict.reason;
  table.push(`${name} | ${layout} | ${got}${verdict.ok ? '' : ` (${verdict.detail ?? ''})`} | ${cosignValid ? 'valid' : 'invalid'}`);
  expect({ otaflux: got, cosign: cosignValid }).toEqual({ otaflux: expected, cosign: expected === 'ok' });
  return verdict;
}

describe.each(['legacy', 'bundle'] as const)('%s layout', (layout) => {
  const id = (name: string) => `${name}-${layout}`;

  test('good signature: valid, names the key', async () => {
    const d = await firmware(`fw/${id('good')}`, '1.0.0');
    await cosignSign(reg, operator, `fw/${id('good')}`, d, layout);
    const v = await expectBoth('good signature', id('good'), '1.0.0', layout, [operator.pub], 'ok');
    expect(v.ok && v.by).toMatch(new RegExp(`^verifier\\.cosign key:SHA256:[0-9a-f]{16} \\(${layout === 'legacy' ? 'legacy \\.sig' : 'bundle'}\\)$`));
  });

  test('signed with another key: wrong-key', async () => {
    const d = await firmware(`fw/${id('wrongkey')}`, '1.0.0');
    await cosignSign(reg, stranger, `fw/${id('wrongkey')}`, d, layout);
    await expectBoth('wrong key', id('wrongkey'), '1.0.0', layout, [operator.pub], 'wrong-key');
  });

  test('unsigned: unsigned', async () => {
    await firmware(`fw/${id('unsigned')}`, '1.0.0');
    await expectBoth('unsigned', id('unsigned'), '1.0.0', layout, [operator.pub], 'unsigned');
  });

  test('payload for another digest, validly signed by a trusted key: digest-mismatch', async () => {
    const repo = `fw/${id('otherdigest')}`;
    const other = await firmware(repo, '1.0.0');
    const d = await firmware(repo, '2.0.0');
    if (layout === 'legacy') await signLegacyWith(reg, crafted.privateKey, repo, d, { payloadDigest: other });
    else await signBundleWith(reg, crafted.privateKey, repo, d, { statementDigest: other });
    await expectBoth('payload for another digest', id('otherdigest'), '2.0.0', layout, [crafted.pub], 'digest-mismatch');
  });

  test('signature copied from another tag: digest-mismatch', async () => {
    const repo = `fw/${id('copied')}`;
    const signed = await firmware(repo, '1.0.0');
    const d = await firmware(repo, '2.0.0');
    await cosignSign(reg, operator, repo, signed, layout);
    if (layout === 'legacy') await copyTag(reg, repo, sigTag(signed), sigTag(d), MEDIA.ociManifest);
    else await copyTag(reg, repo, signed.replace(':', '-'), d.replace(':', '-'), MEDIA.ociIndex);
    await expectBoth('signature copied from another tag', id('copied'), '2.0.0', layout, [operator.pub], 'digest-mismatch');
    await expectBoth('the original of the copy', id('copied'), '1.0.0', layout, [operator.pub], 'ok');
  });

  test('corrupted signature (truncated): bad-signature', async () => {
    const repo = `fw/${id('corruptsig')}`;
    const d = await firmware(repo, '1.0.0');
    if (layout === 'legacy') {
      await cosignSign(reg, operator, repo, d, layout);
      const [layer] = await readLegacySignature(reg, repo, d);
      const sig = Buffer.from(layer?.signature ?? '', 'base64');
      await pushLegacySignature(reg, repo, d, [{ ...layer!, signature: sig.subarray(0, sig.length - 1).toString('base64') }]);
    } else {
      const bundle = JSON.parse(makeBundle(crafted.privateKey, signStatement(reg, repo, d)));
      const sig = Buffer.from(bundle.dsseEnvelope.signatures[0].sig, 'base64');
      bundle.dsseEnvelope.signatures[0].sig = sig.subarray(0, sig.length - 1).toString('base64');
      await pushBundle(reg, repo, d, JSON.stringify(bundle));
    }
    await expectBoth('corrupted signature', id('corruptsig'), '1.0.0', layout, [layout === 'legacy' ? operator.pub : crafted.pub], 'bad-signature');
  });

  test('corrupted payload (truncated after signing): bad-payload', async () => {
    const repo = `fw/${id('corruptpayload')}`;
    const d = await firmware(repo, '1.0.0');
    if (layout === 'legacy') {
      await cosignSign(reg, operator, repo, d, layout);
      const [layer] = await readLegacySignature(reg, repo, d);
      const payload = layer!.payload as Uint8Array;
      await pushLegacySignature(reg, repo, d, [{ ...layer!, payload: payload.subarray(0, payload.length - 10) }]);
    } else {
      const bundle = JSON.parse(makeBundle(crafted.privateKey, signStatement(reg, repo, d)));
      const payload = Buffer.from(bundle.dsseEnvelope.payload, 'base64');
      bundle.dsseEnvelope.payload = payload.subarray(0, payload.length - 10).toString('base64');
      await pushBundle(reg, repo, d, JSON.stringify(bundle));
    }
    await expectBoth('corrupted payload', id('corruptpayload'), '1.0.0', layout, [layout === 'legacy' ? operator.pub : crafted.pub], 'bad-payload');
  });

  test('tag moved to unsigned content after signing: unsigned (the new digest is what is checked)', async () => {
    const repo = `fw/${id('moved')}`;
    const signed = await firmware(repo, '1.0.0');
    await cosignSign(reg, operator, repo, signed, layout);
    const moved = await firmware(repo, '1.0.0', 'unsigned replacement');
    expect(moved).not.toBe(signed);
    await expectBoth('tag moved after signing', id('moved'), '1.0.0', layout, [operator.pub], 'unsigned');
  });

  test('extra garbage next to a good signature: still valid', async () => {
    const repo = `fw/${id('garbage')}`;
    const d = await firmware(repo, '1.0.0');
    await cosignSign(reg, operator, repo, d, layout);
    if (layout === 'legacy') {
      const layers = await readLegacySignature(reg, repo, d);
      await pushLegacySignature(reg, repo, d, [
        { payload: new Uint8Array(300).fill(0x41), mediaType: 'application/octet-stream' },
        { payload: 'not json at all', signature: 'bm90IGEgc2lnbmF0dXJl' },
        { payload: simpleSigningPayload(reg, repo, d), signature: Buffer.from(signBytes(crafted.privateKey, new TextEncoder().encode('other'))).toString('base64') },
        ...layers,
      ]);
    } else {
      // Garbage in front of the real bundle in the fallback index: another artifact and a bundle that is not JSON.
      const index = await (await reg.fetch(`/v2/${repo}/manifests/${d.replace(':', '-')}`, { headers: { accept: MEDIA.ociIndex } }, repo)).json() as { manifests: unknown[] };
      const junk = await pushArtifact(reg, repo, 'junk', [{ name: 'sbom.json', data: '{"sbom":true}' }]);
      const notJson = await pushBundle(reg, repo, d, 'this is not a bundle', { replaceIndex: true });
      await pushManifest(reg, repo, d.replace(':', '-'), {
        schemaVersion: 2, mediaType: MEDIA.ociIndex,
        manifests: [{ mediaType: MEDIA.ociManifest, size: 1, digest: junk }, { mediaType: MEDIA.ociManifest, size: 1, digest: notJson, artifactType: MEDIA.ociEmpty }, ...index.manifests],
      }, MEDIA.ociIndex);
    }
    await expectBoth('garbage layers beside a good signature', id('garbage'), '1.0.0', layout, [operator.pub], 'ok');
  });

  test('huge signature manifest (thousands of layers): too-large', async () => {
    const repo = `fw/${id('huge')}`;
    const d = await firmware(repo, '2.0.0');
    await cosignSign(reg, stranger, repo, d, layout);
    if (layout === 'legacy') {
      const [layer] = await readLegacySignature(reg, repo, d);
      const blob = await pushBlob(reg, repo, layer!.payload);
      const layers = Array.from({ length: 4000 }, () => ({ mediaType: MEDIA.simpleSigning, size: (layer!.payload as Uint8Array).byteLength, digest: blob, annotations: { 'dev.cosignproject.cosign/signature': layer!.signature } }));
      const cfg = await pushBlob(reg, repo, '{}');
      await pushManifest(reg, repo, sigTag(d), { schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { mediaType: MEDIA.ociConfig, size: 2, digest: cfg }, layers }, MEDIA.ociManifest);
    } else {
      // A bundle manifest far over the bound (layers of padding) in the fallback index.
      const empty = await pushBlob(reg, repo, '{}');
      const padding = Array.from({ length: 4000 }, (_, i) => ({ mediaType: 'application/octet-stream', size: 2, digest: empty, annotations: { n: String(i).padStart(40, '0') } }));
      const huge = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { mediaType: MEDIA.ociEmpty, size: 2, digest: empty }, layers: padding, subject: { mediaType: MEDIA.ociManifest, size: 1, digest: d } }));
      expect(huge.byteLength).toBeGreaterThan(256 << 10);
      const hugeDigest = await pushManifest(reg, repo, `sha256:${new Bun.CryptoHasher('sha256').update(huge).digest('hex')}`, huge, MEDIA.ociManifest);
      const index = await (await reg.fetch(`/v2/${repo}/manifests/${d.replace(':', '-')}`, { headers: { accept: MEDIA.ociIndex } }, repo)).json() as { manifests: unknown[] };
      await pushManifest(reg, repo, d.replace(':', '-'), { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [{ mediaType: MEDIA.ociManifest, size: huge.byteLength, digest: hugeDigest }, ...index.manifests] }, MEDIA.ociIndex);
    }
    await expectBoth('huge signature manifest', id('huge'), '2.0.0', layout, [operator.pub], 'too-large');
  });

  test('several trusted keys: any of them may sign; several signers on one digest', async () => {
    const repo = `fw/${id('anyof')}`;
    const d = await firmware(repo, '1.0.0');
    await cosignSign(reg, stranger, repo, d, layout);
    await cosignSign(reg, operator, repo, d, layout);
    await expectBoth('any of two keys, second signer trusted', id('anyof'), '1.0.0', layout, [crafted.pub, operator.pub], 'ok', operator.pub);
    await expectBoth('only an untrusted key among the signers', id('anyof'), '1.0.0', layout, [crafted.pub], 'wrong-key');
  });

  test('key types: P-384, RSA 3072, Ed25519 (cosign verifies each)', async () => {
    const { importEd25519KeyPair } = await import('../support/cosign.ts');
    const ed = await importEd25519KeyPair();
    const repo = `fw/${id('keytypes')}`;
    const p384 = nodeKeyPair('p384');
    const rsa = nodeKeyPair('rsa');
    const dEc = await firmware(repo, '1.0.0');
    const dRsa = await firmware(repo, '1.1.0');
    const dEd = await firmware(repo, '1.2.0');
    const sign = layout === 'legacy' ? signLegacyWith : signBundleWith;
    await sign(reg, p384.privateKey, repo, dEc);
    await sign(reg, rsa.privateKey, repo, dRsa);
    await cosignSign(reg, ed, repo, dEd, layout);
    await expectBoth('P-384 key', id('keytypes'), '1.0.0', layout, [p384.pub], 'ok');
    await expectBoth('RSA 3072 key', id('keytypes'), '1.1.0', layout, [rsa.pub], 'ok');
    await expectBoth('Ed25519 key (cosign import-key-pair)', id('keytypes'), '1.2.0', layout, [ed.pub], 'ok');
    await expectBoth('RSA signature, P-384 key', id('keytypes'), '1.1.0', layout, [p384.pub], 'wrong-key');
  });
});

test('bundle: a validly signed statement of another predicate type is not a signature (bad-payload)', async () => {
  const repo = 'fw/predicate-bundle';
  const d = await firmware(repo, '1.0.0');
  await pushBundle(reg, repo, d, makeBundle(crafted.privateKey, signStatement(reg, repo, d, 'https://spdx.dev/Document')));
  await expectBoth('other predicate type', 'predicate-bundle', '1.0.0', 'bundle', [crafted.pub], 'bad-payload');
});

test('legacy: a validly signed payload of another critical.type is refused (bad-payload); cosign 2.5 does not check the type', async () => {
  // The one deliberate difference: cosign verify --key accepts any critical.type; OtaFlux requires
  // 'cosign container image signature', so a signature made for another simple-signing consumer
  // (containers/image's 'atomic container signature') cannot be replayed as a firmware approval.
  const repo = 'fw/type-legacy';
  const d = await firmware(repo, '1.0.0');
  const payload = simpleSigningPayload(reg, repo, d, 'atomic container signature');
  await pushLegacySignature(reg, repo, d, [{ payload, signature: Buffer.from(signBytes(crafted.privateKey, new TextEncoder().encode(payload))).toString('base64') }]);
  const { verdict } = await otaflux('type-legacy', '1.0.0', [crafted.pub], 'legacy');
  expect(verdict).toMatchObject({ ok: false, reason: 'bad-payload' });
  expect(await cosignVerify(reg, crafted.pub, repo, d, 'legacy')).toBe(true);
  table.push('other critical.type (deliberate difference) | legacy | bad-payload | valid');
});
