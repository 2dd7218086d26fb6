/**
 * Which physical device (instance) a request comes from, and what it says about itself, from request
 * facts only (no HTTP types): the `device` query names a firmware stream, never an instance.
 *
 * Identity, strongest first (README "Fleet control"):
 *   1. the mTLS client certificate (subject CN, else its first SAN)      → `cert:<cn>`
 *   2. the owner of a device token (`token(...)`; a gateway token names no instance) → `token:<device>`
 *   3. a protocol id: Arduino `x-ESP32-STA-MAC` / `x-ESP8266-STA-MAC`, RAUC `RAUC-Serial`, then
 *      `RAUC-Machine-ID`                                                  → `mac:<mac>`, `serial:<s>`, `machine:<id>`
 *   4. what the client chose to send: `instance=` query or `X-Device-Instance` header → the value
 *   5. the client address: weak (several devices behind one NAT look like one) → `addr:<ip>`, weak
 */
import type { PeerCertificate } from '../plugin.ts';
import { queryParam, type QuerySource } from '../core/query-param.ts';

export interface RequestFacts extends QuerySource {
  headers: Readonly<Record<string, string | undefined>>;
  remoteAddress: string;
  peerCertificate?: PeerCertificate;
  /** What the device's authenticators allowed it as (`token:<device>`, `cert:…`), when any ran. */
  identity?: string;
}

export interface Instance {
  id: string;
  /** True when only the client address names it. */
  weak: boolean;
  /** Which fact named it: cert, token, mac, serial, machine, instance, address. */
  by: 'cert' | 'token' | 'mac' | 'serial' | 'machine' | 'instance' | 'address';
}

/** Longest instance id kept (longer values are cut, never refused: this is bookkeeping, not auth). */
const MAX_ID = 200;

/** `identity`, when given, stands for `f.identity` (the request's facts are not copied to add it). */
export function deriveInstance(f: RequestFacts, identity = f.identity): Instance {
  const cert = f.peerCertificate;
  if (cert) {
    const name = cert.subject.CN || cert.subjectAltNames[0];
    if (name) return { id: clip(`cert:${name}`), weak: false, by: 'cert' };
  }
  if (identity?.startsWith('token:') && identity !== 'token:gateway') return { id: clip(identity), weak: false, by: 'token' };
  const h = f.headers;
  const mac = h['x-esp32-sta-mac'] ?? h['x-esp8266-sta-mac'];
  if (mac) return { id: clip(`mac:${mac.toLowerCase()}`), weak: false, by: 'mac' };
  if (h['rauc-serial']) return { id: clip(`serial:${h['rauc-serial']}`), weak: false, by: 'serial' };
  if (h['rauc-machine-id']) return { id: clip(`machine:${h['rauc-machine-id']}`), weak: false, by: 'machine' };
  const chosen = queryParam(f, 'instance') || h['x-device-instance'];
  if (chosen) return { id: clip(chosen), weak: false, by: 'instance' };
  return { id: `addr:${f.remoteAddress}`, weak: true, by: 'address' };
}

/** The version the client reports running: `?current=`, `X-Firmware-Version`, Arduino, RAUC. */
export function reportedVersion(f: Pick<RequestFacts, 'headers' | 'query' | 'rawQuery' | 'parsedQuery'>): string | undefined {
  const h = f.headers;
  const v = queryParam(f, 'current') || h['x-firmware-version'] || h['x-esp32-version'] || h['x-esp8266-version'] || h['rauc-system-version'];
  return v ? clip(v.startsWith('v') || v.startsWith('V') ? v.slice(1) : v) : undefined;
}

/** A boot id, where the client sends one (`X-Boot-Id`, `RAUC-Boot-ID`). */
export function bootId(f: Pick<RequestFacts, 'headers'>): string | undefined {
  const b = f.headers['x-boot-id'] || f.headers['rauc-boot-id'];
  return b ? clip(b) : undefined;
}

function clip(s: string): string {
  return s.length > MAX_ID ? s.slice(0, MAX_ID) : s;
}
