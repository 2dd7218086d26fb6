/**
 * `auth.mtls`: maps the client certificate (already checked by the HTTPS listener: chains to the
 * client CA, not expired, not in the CRL) to a device id, and allows only that device.
 *
 *   mtls()                                                   // subject CN is the device id
 *   mtls({ from: 'dns', device: 'esp32-{value}' })            // a template over a SAN
 *   mtls({ from: 'uri', match: /^urn:dev:(?<id>[a-z0-9-]+)$/, device: '{id}' })   // regex with named groups
 *   mtls({ deny: { serials: ['1A2B'], fingerprints: ['AB:CD:…'] } })            // refuse these certificates
 *   mtls({ instances: true })                                // CN `esp32-a` or `esp32-a:<serial>` → esp32-a
 *
 * A certificate that maps to another device gets 403; no certificate is a `skip` (another
 * authenticator may allow, else 401). An allow names the certificate value that mapped
 * (`cert:esp32-a:0017`): with `instances`, many certificates share one device id (the firmware
 * stream) and that value tells the instances apart.
 */
import { PLUGIN_API_VERSION, type AuthDecision, type AuthenticatorPlugin, type DeviceRequest, type PeerCertificate } from '../../plugin.ts';
import { describeCert } from '../../sdk/index.ts';

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
  /**
   * Devices sharing one firmware stream: a value `<device>:<instance>` maps as `<device>` (the part
   * before the first `:`, which no device id contains), so `esp32-a:0017` and `esp32-a:0018` both
   * fetch `esp32-a`, and nothing else. A value with an empty part maps nothing. Default false.
   * Meant for the CN: a URI SAN has `:` of its own (`urn:fleet:x1`), so map URIs with `match` instead.
   */
  instances?: boolean;
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

  /** Every device id the certificate maps to, in `from` order, each with the allow naming the value that mapped. */
  const devicesOf = (cert: PeerCertificate): Map<string, AuthDecision> => {
    const out = new Map<string, AuthDecision>();
    for (const f of from) {
      for (const full of valuesOf(cert, f)) {
        const value = opts.instances ? streamOf(full) : full;
        if (value === undefined) continue;
        const m = opts.match ? opts.match.exec(value) : undefined;
        if (opts.match && !m) continue;
        const vars: Record<string, string> = { value, cn: cert.subject.CN ?? '', ...(m?.groups ?? {}) };
        const device = template.replace(/\{([^}]*)\}/g, (_, k: string) => vars[k] ?? '');
        if (!out.has(device)) out.set(device, { outcome: 'allow', identity: `cert:${full}` });
      }
    }
    return out;
  };

  const byCert = new WeakMap<PeerCertificate, { presented: string; denied: boolean; devices: Map<string, AuthDecision> }>();

  return {
    kind: 'authenticator',
    id: 'auth.mtls',
    apiVersion: PLUGIN_API_VERSION,
    authenticate(req: DeviceRequest): AuthDecision {
      const cert = req.peerCertificate;
      if (!cert) return { outcome: 'skip' };
      // A connection shows one certificate for all its requests: what it says is worked out once.
      let seen = byCert.get(cert);
      if (!seen) {
        const presented = describeCert(cert);
        const denied = deniedSerials.has(hex(cert.serialNumber)) || deniedFingerprints.has(hex(cert.fingerprint256));
        byCert.set(cert, (seen = { presented, denied, devices: denied ? new Map() : devicesOf(cert) }));
      }
      const { presented, devices } = seen;
      if (seen.denied) return { outcome: 'deny', status: 401, reason: 'client certificate is on the deny list', presented };
      const allow = devices.get(req.deviceId);
      if (allow) return allow;
      if (devices.size === 0) return { outcome: 'deny', status: 403, reason: 'client certificate maps to no device', presented };
      return { outcome: 'deny', status: 403, reason: `certificate of '${devices.keys().next().value}' used for '${req.deviceId}'`, presented };
    },
  };
}

/** `esp32-a:0017` → `esp32-a`; a value without `:` is its own stream; an empty part → undefined. */
function streamOf(value: string): string | undefined {
  const i = value.indexOf(':');
  if (i < 0) return value || undefined;
  return i === 0 || i === value.length - 1 ? undefined : value.slice(0, i);
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
