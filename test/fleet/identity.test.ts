// Instance identity from request facts, strongest first, and what a client reports about itself.
import { expect, test } from 'bun:test';
import { bootId, deriveInstance, reportedVersion, type RequestFacts } from '../../src/fleet/instance.ts';
import type { PeerCertificate } from '../../src/plugin.ts';

const cert = { subject: { CN: 'esp32-kitchen' }, issuer: {}, subjectAltNames: [], serialNumber: '01', fingerprint256: '', validFrom: new Date(), validTo: new Date(), raw: new Uint8Array() } as PeerCertificate;
const facts = (over: Partial<RequestFacts> & { h?: Record<string, string>; q?: string } = {}): RequestFacts => ({
  headers: over.h ?? {}, query: new URLSearchParams(over.q ?? 'device=s'), remoteAddress: '10.0.0.7', ...over,
});

test('priority: certificate > token owner > MAC/serial/machine id > instance= / X-Device-Instance > address (weak)', () => {
  const all = { h: { 'x-esp32-sta-mac': 'AA:BB:CC:00:11:22', 'x-device-instance': 'hdr', 'rauc-serial': 'SN1' }, q: 'device=s&instance=chosen' };
  expect(deriveInstance(facts({ ...all, peerCertificate: cert, identity: 'token:s' }))).toEqual({ id: 'cert:esp32-kitchen', weak: false, by: 'cert' });
  expect(deriveInstance(facts({ ...all, identity: 'token:gw-1' }))).toEqual({ id: 'token:gw-1', weak: false, by: 'token' });
  expect(deriveInstance(facts({ ...all, identity: 'token:gateway' }))).toEqual({ id: 'mac:aa:bb:cc:00:11:22', weak: false, by: 'mac' });
  expect(deriveInstance(facts({ h: { 'x-esp8266-sta-mac': 'DE:AD:BE:EF:00:01' } })).id).toBe('mac:de:ad:be:ef:00:01');
  expect(deriveInstance(facts({ h: { 'rauc-serial': 'SN1', 'rauc-machine-id': 'm1' } })).id).toBe('serial:SN1');
  expect(deriveInstance(facts({ h: { 'rauc-machine-id': 'm1' } })).id).toBe('machine:m1');
  expect(deriveInstance(facts({ q: 'device=s&instance=chosen', h: { 'x-device-instance': 'hdr' } })).id).toBe('chosen');
  expect(deriveInstance(facts({ h: { 'x-device-instance': 'hdr' } })).id).toBe('hdr');
  expect(deriveInstance(facts())).toEqual({ id: 'addr:10.0.0.7', weak: true, by: 'address' });
});

test('reported version and boot id, from every kind of client', () => {
  expect(reportedVersion(facts({ q: 'device=s&current=v1.2.3' }))).toBe('1.2.3');
  expect(reportedVersion(facts({ h: { 'x-firmware-version': '1.2.4' } }))).toBe('1.2.4');
  expect(reportedVersion(facts({ h: { 'x-esp32-version': '1.2.5' } }))).toBe('1.2.5');
  expect(reportedVersion(facts({ h: { 'x-esp8266-version': '1.2.6' } }))).toBe('1.2.6');
  expect(reportedVersion(facts({ h: { 'rauc-system-version': '1.2.7' } }))).toBe('1.2.7');
  expect(reportedVersion(facts())).toBeUndefined();
  expect(bootId(facts({ h: { 'x-boot-id': 'b1' } }))).toBe('b1');
  expect(bootId(facts({ h: { 'rauc-boot-id': 'b2' } }))).toBe('b2');
});
