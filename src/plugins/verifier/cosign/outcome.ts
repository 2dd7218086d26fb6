/**
 * What checking one signature found, and how the findings of every signature of an artifact
 * combine into one verdict: any valid signature wins; otherwise the most telling failure is
 * reported (a signature made with a trusted key but for other content says more than a stranger's).
 */
import type { Verdict } from '../../../plugin.ts';

export type FailureReason =
  /** No signature of either layout exists for the digest. */
  | 'unsigned'
  /** A trusted key signed, but for another digest (a copied signature, a moved tag). */
  | 'digest-mismatch'
  /** The signed content is not a cosign image signature (type, predicate, JSON), or is unreadable. */
  | 'bad-payload'
  /** A signature object too large to load (manifest, payload, bundle, too many layers). */
  | 'too-large'
  /** The signature bytes are not a signature at all (not base64, not DER, wrong length). */
  | 'bad-signature'
  /** Well-formed signatures that no trusted key made (or content changed after signing). */
  | 'wrong-key'
  /** The registry refused or mangled a signature object (401/403, digest mismatch, bad JSON). */
  | 'registry-error';

export type Finding =
  | { ok: true; by: string }
  | { ok: false; reason: FailureReason; detail: string };

/** Higher wins when no signature is valid. */
const WEIGHT: Record<FailureReason, number> = {
  'digest-mismatch': 7,
  'bad-payload': 6,
  'too-large': 5,
  'registry-error': 4,
  'bad-signature': 3,
  'wrong-key': 2,
  unsigned: 0,
};

export function fail(reason: FailureReason, detail: string): Finding {
  return { ok: false, reason, detail };
}

/** One verdict from the findings of every signature looked at (none → `unsigned`). */
export function combine(findings: readonly Finding[]): Verdict {
  const good = findings.find((f) => f.ok);
  if (good) return good;
  let worst: Extract<Finding, { ok: false }> | undefined;
  for (const f of findings) if (!f.ok && (!worst || WEIGHT[f.reason] > WEIGHT[worst.reason])) worst = f;
  if (!worst) return { ok: false, reason: 'unsigned', detail: 'no cosign signature for this digest (legacy .sig tag or Sigstore bundle)' };
  const others = findings.length - 1;
  return { ok: false, reason: worst.reason, detail: others > 0 ? `${worst.detail} (and ${others} other signature${others > 1 ? 's' : ''} rejected)` : worst.detail };
}
