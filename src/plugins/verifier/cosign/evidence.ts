/**
 * The signature material `verifier.cosign` read for a digest, kept as the verdict's evidence and
 * stored with the cached release: legacy `.sig` layers (payload and base64 signature, with the
 * certificate annotation when there is one) and Sigstore bundles, as fetched. After a restart, or a
 * change of trusted keys while the registry is down, `verifyOffline` checks it against the keys and
 * identities configured now, exactly as a fetched signature would be (legacy.ts, bundle.ts).
 *
 * Stored as JSON: `{ "digest": "sha256:…", "legacy": [{ "payload": base64, "signature": base64,
 * "certificate"?: PEM }], "bundles": [base64 of the bundle's JSON] }`, bounded in count and size.
 */
import { isRecord } from './fetch.ts';

/** At most this many signatures of each layout, and this many bytes in all, are kept. */
const MAX_ITEMS = 16;
const MAX_TOTAL_BYTES = 512 << 10;

export interface LegacyMaterial {
  payload: Uint8Array;
  signature: string;
  certificate?: string;
}

export interface StoredEvidence {
  digest: string;
  legacy: { payload: string; signature: string; certificate?: string }[];
  bundles: string[];
}

export class Evidence {
  readonly legacy: LegacyMaterial[] = [];
  readonly bundles: Uint8Array[] = [];
  private bytes = 0;

  constructor(readonly digest: string) {}

  addLegacy(m: LegacyMaterial): void {
    const size = m.payload.byteLength + m.signature.length + (m.certificate?.length ?? 0);
    if (this.legacy.length >= MAX_ITEMS || this.bytes + size > MAX_TOTAL_BYTES) return;
    this.bytes += size;
    this.legacy.push(m);
  }

  addBundle(bytes: Uint8Array): void {
    if (this.bundles.length >= MAX_ITEMS || this.bytes + bytes.byteLength > MAX_TOTAL_BYTES) return;
    this.bytes += bytes.byteLength;
    this.bundles.push(bytes);
  }

  toJSON(): StoredEvidence {
    return {
      digest: this.digest,
      legacy: this.legacy.map((l) => ({ payload: Buffer.from(l.payload).toString('base64'), signature: l.signature, ...(l.certificate ? { certificate: l.certificate } : {}) })),
      bundles: this.bundles.map((b) => Buffer.from(b).toString('base64')),
    };
  }
}

/** Reads stored evidence back; null when it is not evidence of this shape (or too large). */
export function parseEvidence(x: unknown): Evidence | null {
  if (!isRecord(x) || typeof x.digest !== 'string' || !Array.isArray(x.legacy) || !Array.isArray(x.bundles)) return null;
  if (x.legacy.length > MAX_ITEMS || x.bundles.length > MAX_ITEMS) return null;
  const e = new Evidence(x.digest);
  for (const l of x.legacy) {
    if (!isRecord(l) || typeof l.payload !== 'string' || typeof l.signature !== 'string') return null;
    if (l.certificate !== undefined && typeof l.certificate !== 'string') return null;
    e.legacy.push({ payload: new Uint8Array(Buffer.from(l.payload, 'base64')), signature: l.signature, ...(typeof l.certificate === 'string' ? { certificate: l.certificate } : {}) });
  }
  for (const b of x.bundles) {
    if (typeof b !== 'string') return null;
    e.bundles.push(new Uint8Array(Buffer.from(b, 'base64')));
  }
  return e;
}
