/**
 * Keyless signatures: the signer's key is in a certificate that a trusted CA (Fulcio, or a private
 * CA standing in for it) issued to an identity (SAN: e-mail or URI) from an OIDC issuer (Fulcio's
 * extension 1.3.6.1.4.1.57264.1.8, or the older 1.1). Trust comes from a Sigstore trusted root file
 * given locally (`trusted_root.json`); nothing is fetched (no TUF).
 *
 * - Without `requireTlog`, the certificate must chain to a trusted root CA, not exclude code signing
 *   (an extended key usage list without it; no list allows any use, as in Go's x509), and be valid now (so this suits long-lived certificates of a private CA;
 *   Fulcio's ten-minute certificates need a transparency-log time).
 * - With `requireTlog`, only bundles count, and `@sigstore/verify` checks them fully: Rekor entry and
 *   its inclusion proof against the root's logs, the certificate chain at the logged time.
 * Then the identity must match one of the configured `identities` (exact or RegExp, subject and issuer).
 */
import { X509Certificate as NodeX509, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Bundle } from '@sigstore/bundle';
import { X509Certificate } from '@sigstore/core';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial, type TrustMaterial } from '@sigstore/verify';
import { describeKey, type TrustedKey } from './keys.ts';
import { fail, type Finding } from './outcome.ts';

export interface KeylessIdentity {
  /** Exact certificate identity (SAN e-mail or URI), e.g. `release@example.com`. */
  subject?: string;
  /** Identity as a regular expression (anchored: `^…$` is added). */
  subjectRegExp?: string;
  /** Exact OIDC issuer, e.g. `https://token.actions.githubusercontent.com`. */
  issuer?: string;
  /** Issuer as a regular expression (anchored). */
  issuerRegExp?: string;
}

export interface KeylessOptions {
  /** Path of a Sigstore trusted root JSON (relative: to the config file). */
  trustedRoot: string;
  /** Accepted signers: any of them. Each needs a subject (or subjectRegExp) and an issuer (or issuerRegExp). */
  identities: KeylessIdentity[];
  /** Require a transparency-log entry proven against the trusted root's logs (bundle layout only). Default false. */
  requireTlog?: boolean;
}

const OID_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';
const OID_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';
const CODE_SIGNING = '1.3.6.1.5.5.7.3.3';

interface Matcher {
  subject: (s: string) => boolean;
  issuer: (s: string) => boolean;
}

/** A signer vouched for by a certificate: its key and who it is. */
export interface CertifiedSigner {
  key: TrustedKey;
  identity: string;
  issuer: string;
}

export class KeylessPolicy {
  private readonly matchers: Matcher[];
  private readonly cas: { chain: X509Certificate[]; start: Date; end: Date }[];
  private readonly trust: TrustMaterial;
  readonly requireTlog: boolean;

  constructor(options: KeylessOptions, baseDir: string) {
    const path = resolve(baseDir, options.trustedRoot);
    let root: TrustedRoot;
    try {
      root = TrustedRoot.fromJSON(JSON.parse(readFileSync(path, 'utf8')));
    } catch (e) {
      throw new Error(`cosign keyless trusted root ${path} cannot be read: ${(e as Error).message.slice(0, 160)}`);
    }
    this.trust = toTrustMaterial(root);
    this.cas = this.trust.certificateAuthorities.map((ca) => ({ chain: ca.certChain, start: ca.validFor.start, end: ca.validFor.end }));
    if (this.cas.length === 0) throw new Error(`cosign keyless trusted root ${path} has no certificate authority`);
    this.matchers = options.identities.map(matcher);
    this.requireTlog = options.requireTlog ?? false;
  }

  /** The signer a certificate (DER) vouches for now, or why it does not. */
  certified(der: Uint8Array, chainHint: string): CertifiedSigner | Finding {
    let leaf: X509Certificate;
    try {
      leaf = X509Certificate.parse(Buffer.from(der));
    } catch {
      return fail('bad-signature', `${chainHint}: the certificate cannot be parsed`);
    }
    const now = new Date();
    if (!leaf.validForDate(now)) return fail('wrong-key', `${chainHint}: the certificate is not valid now (${leaf.notBefore.toISOString()} – ${leaf.notAfter.toISOString()})`);
    if (!chainsToTrustedCa(leaf, this.cas, now)) return fail('wrong-key', `${chainHint}: the certificate does not chain to a CA of the trusted root`);
    const usages = new NodeX509(Buffer.from(der)).keyUsage ?? [];
    if (usages.length > 0 && !usages.includes(CODE_SIGNING)) return fail('wrong-key', `${chainHint}: the certificate's extended key usage excludes code signing`);
    const who = identityOf(leaf);
    if (!who) return fail('wrong-key', `${chainHint}: the certificate names no identity and issuer`);
    const ok = this.matchers.some((m) => m.subject(who.identity) && m.issuer(who.issuer));
    if (!ok) return fail('wrong-key', `${chainHint}: identity ${who.identity.slice(0, 120)} from ${who.issuer.slice(0, 120)} is not trusted`);
    const key = describeKey(createPublicKey({ key: leaf.publicKey, format: 'der', type: 'spki' }), `certificate of ${who.identity}`);
    return { key, ...who };
  }

  /** Full Sigstore verification of a bundle with its transparency-log entry (`requireTlog`). */
  verifyWithTlog(bundle: Bundle, what: string): CertifiedSigner | Finding {
    try {
      const verifier = new Verifier(this.trust, { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 1 });
      const signer = verifier.verify(toSignedEntity(bundle));
      const identity = signer.identity?.subjectAlternativeName ?? '';
      const issuer = signer.identity?.extensions?.issuer ?? '';
      if (!this.matchers.some((m) => m.subject(identity) && m.issuer(issuer))) return fail('wrong-key', `${what}: identity ${identity.slice(0, 120)} from ${issuer.slice(0, 120)} is not trusted`);
      return { key: describeKey(signer.key, `certificate of ${identity}`), identity, issuer };
    } catch (e) {
      return fail('wrong-key', `${what}: sigstore verification with the transparency log failed: ${(e as Error).message.slice(0, 160)}`);
    }
  }
}

/** Checks the keyless options' shape (at construction, before any file is read). */
export function checkKeylessOptions(k: unknown): void {
  const usage = "cosign(): keyless must be { trustedRoot: 'trusted_root.json', identities: [{ subject | subjectRegExp, issuer | issuerRegExp }], requireTlog? }";
  const o = k as Partial<KeylessOptions> | null;
  if (!o || typeof o !== 'object' || typeof o.trustedRoot !== 'string' || !Array.isArray(o.identities) || o.identities.length === 0) throw new TypeError(usage);
  for (const i of o.identities) {
    if (!i || typeof i !== 'object' || (!i.subject && !i.subjectRegExp) || (!i.issuer && !i.issuerRegExp)) throw new TypeError(usage);
    matcher(i);
  }
  if (o.requireTlog !== undefined && typeof o.requireTlog !== 'boolean') throw new TypeError(usage);
}

function matcher(i: KeylessIdentity): Matcher {
  const one = (exact: string | undefined, pattern: string | undefined, what: string): ((s: string) => boolean) => {
    if (exact !== undefined) return (s) => s === exact;
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${pattern ?? ''})$`);
    } catch {
      throw new TypeError(`cosign(): keyless ${what}RegExp '${pattern}' is not a valid regular expression`);
    }
    return (s) => re.test(s);
  };
  return { subject: one(i.subject, i.subjectRegExp, 'subject'), issuer: one(i.issuer, i.issuerRegExp, 'issuer') };
}

function chainsToTrustedCa(leaf: X509Certificate, cas: { chain: X509Certificate[]; start: Date; end: Date }[], now: Date): boolean {
  return cas.some(({ chain, start, end }) => {
    if (now < start || now > end || chain.length === 0) return false;
    let child = leaf;
    for (const parent of chain) {
      if (!parent.isCA || !parent.validForDate(now) || !child.verify(parent)) return false;
      child = parent;
    }
    return true;
  });
}

function identityOf(cert: X509Certificate): { identity: string; issuer: string } | null {
  const identity = cert.subjectAltName;
  let issuer: string | undefined;
  const v2 = cert.extension(OID_ISSUER_V2);
  if (v2) {
    const obj = v2.valueObj;
    issuer = (obj.subs[0]?.value ?? obj.value).toString('utf8');
  } else {
    issuer = cert.extension(OID_ISSUER_V1)?.value.toString('utf8');
  }
  return identity && issuer ? { identity, issuer } : null;
}
