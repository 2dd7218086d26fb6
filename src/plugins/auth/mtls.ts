/**
 * `auth.mtls`: maps the client certificate (already checked by the HTTPS listener: chains to the
 * client CA, not expired, not in the CRL) to a device id, and allows only that device.
 *
 *   mtls()                                                   // subject CN is the device id
 *   mtls({ from: 'dns', device: 'esp32-{value}' })            // a template over a SAN
 *   mtls({ from: 'uri', match: /^urn:dev:(?<id>[a-z0-9-]+)$/, device: '{id}' })   // regex with named groups
 *   mtls({ deny: { serials: ['1A2B'], fingerprints: ['AB:CD:…'] } })            // refuse these certificates
 *
 * A certificate that maps to another device gets 403; no certificate is a `skip` (another
 * authenticator may allow, else 401).
 */
import { PLUGIN_API_VERSION, type AuthDecision, type AuthenticatorPlugin, type AuthRequest, type PeerCertificate } from '../../plugin.ts';
import { describeCert } from '../../core/authorize.ts';

export type CertField = 'cn' | 'dns' | 'uri' | 'email';

export interface MtlsOptions {
  /** Where the identity comes from: subject CN or a SAN kind (first that maps wins). Default `cn`. */
  from?: CertField | CertField[];
  /** Only values matching this are used; its named groups are template placeholders. */
  match?: RegExp;
  /** Device id template: `{value}` (the field's value), `{cn}`, or a named group of `match`. Default `{value}`. */
  device?: string;
  /** Certificates refused whatever they map to: serials (hex) and SHA-256 fingerprints (hex, colons optional). */
  deny?: { serials?: string[]; fingerprints?: string[] };
}

const FIELDS: readonly CertField[] = ['cn', 'dns', 'uri', 'email'];
const SAN_PREFIX: Record<Exclude<CertField, 'cn'>, string> = { dns: 'DNS:', uri: 'URI:', email: 'email:' };

export function mtls(opts: MtlsOptions = {}): AuthenticatorPlugin {
  const from = opts.from === undefined ? ['cn' as const] : Array.isArray(opts.from) ? opts.from : [opts.from];
  for (const f of from) if (!FIELDS.includes(f)) throw new Error(`auth.mtls: from: expected one of ${FIELDS.join(', ')}, got ${JSON.stringify(f)}`);
  const template = opts.device ?? '{value}';
  const groups = opts.match ? namedGroups(opts.match) : [];
  for (const [, name] of template.matchAll(/\{([^}]*)\}/g)) {
    if (name !== 'value' && name !== 'cn' && !groups.includes(name as string)) {
      throw new Error(`auth.mtls: device: unknown placeholder {${name}}: use {value}, {cn}${groups.length ? ` or a named group of match (${groups.map((g) => `{${g}}`).join(', ')})` : ''}`);
    }
  }
  const deniedSerials = new Set((opts.deny?.serials ?? []).map(hex));
  const deniedFingerprints = new Set((opts.deny?.fingerprints ?? []).map(hex));

  /** Every device id the certificate maps to, in `from` order. */
  const devicesOf = (cert: PeerCertificate): string[] => {
    const out: string[] = [];
    for (const f of from) {
      for (const value of valuesOf(cert, f)) {
        const m = opts.match ? opts.match.exec(value) : undefined;
        if (opts.match && !m) continue;
        const vars: Record<string, string> = { value, cn: cert.subject.CN ?? '', ...(m?.groups ?? {}) };
        out.push(template.replace(/\{([^}]*)\}/g, (_, k: string) => vars[k] ?? ''));
      }
    }
    return out;
  };

  const byCert = new WeakMap<PeerCertificate, { presented: string; denied: boolean; devices: string[]; allow: AuthDecision }>();

  return {
    kind: 'authenticator',
    id: 'auth.mtls',
    apiVersion: PLUGIN_API_VERSION,
    authenticate(req: AuthRequest): AuthDecision {
      const cert = req.peerCertificate;
      if (!cert) return { outcome: 'skip' };
      // A connection shows one certificate for all its requests: what it says is worked out once.
      let seen = byCert.get(cert);
      if (!seen) {
        const presented = describeCert(cert);
        const denied = deniedSerials.has(hex(cert.serialNumber)) || deniedFingerprints.has(hex(cert.fingerprint256));
        byCert.set(cert, (seen = { presented, denied, devices: denied ? [] : devicesOf(cert), allow: { outcome: 'allow', identity: `cert:${presented}` } }));
      }
      const { presented, devices } = seen;
      if (seen.denied) return { outcome: 'deny', status: 401, reason: 'client certificate is on the deny list', presented };
      if (devices.includes(req.deviceId)) return seen.allow;
      if (devices.length === 0) return { outcome: 'deny', status: 403, reason: 'client certificate maps to no device', presented };
      return { outcome: 'deny', status: 403, reason: `certificate of '${devices[0]}' used for '${req.deviceId}'`, presented };
    },
  };
}

function valuesOf(cert: PeerCertificate, f: CertField): string[] {
  if (f === 'cn') return cert.subject.CN ? [cert.subject.CN] : [];
  const prefix = SAN_PREFIX[f];
  return cert.subjectAltNames.filter((s) => s.startsWith(prefix)).map((s) => s.slice(prefix.length));
}

function namedGroups(re: RegExp): string[] {
  return [...re.source.matchAll(/\(\?<([A-Za-z_$][\w$]*)>/g)].map((m) => m[1] as string);
}

/** Upper-case hex without separators or leading zeros. */
function hex(s: string): string {
  return s.replace(/[^0-9a-fA-F]/g, '').toUpperCase().replace(/^0+(?=.)/, '');
}
