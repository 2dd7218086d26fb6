/** DDI pieces without a socket: config errors, the sleep format, feedback parsing, hashes computed once. */
import { expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveSettings } from '../../src/config/settings.ts';
import { pollSleep, streamOf, ddiSettings } from '../../src/protocols/ddi/config.ts';
import { cancelVerdict, parseFeedback } from '../../src/protocols/ddi/feedback.ts';
import { ReleaseDigests, releaseDigests } from '../../src/protocols/image-digests.ts';
import type { ReleaseBodies } from '../../src/core/release-bodies.ts';
import type { Release } from '../../src/core/release.ts';
import { tempDir } from '../support/tmp.ts';

async function configError(ddi: string): Promise<string> {
  const dir = tempDir('otaflux-ddi-config-');
  writeFileSync(join(dir, 'otaflux.config.ts'), `import { defineConfig, dir } from 'otaflux';\nexport default defineConfig({ defaults: { source: dir({ root: '.' }) }, protocols: { ddi: ${ddi} } });\n`);
  try {
    await resolveSettings({ config: join(dir, 'otaflux.config.ts') }, dir);
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
}

test('config errors name the file, the key and what was expected', async () => {
  expect(await configError('{ pollSleep: 0 }')).toMatch(/otaflux\.config\.ts: protocols\.ddi\.pollSleep: .*/);
  expect(await configError('{ pollSleep: 360000 }')).toContain('protocols.ddi.pollSleep: expected seconds, at most 99:59:59');
  expect(await configError("{ streams: { 'gw-*': 'Not A Stream' } }")).toContain('protocols.ddi.streams["gw-*"]: expected a stream (device id), lowercase');
  // A bad record key: the key path and what a key must be, not zod's "Invalid key in record".
  const badKey = await configError("{ streams: { 'gw 7!': 'gateway' } }");
  expect(badKey).toMatch(/otaflux\.config\.ts: protocols\.ddi\.streams\["gw 7!"\]: expected a controller id \(letters, digits, \. _ : -, at most 128\) or a pattern with \*/);
  expect(badKey).not.toContain('Invalid key');
  expect(await configError(`{ streams: { '${'c'.repeat(129)}': 'gateway' } }`)).toContain('expected a controller id');
  expect(await configError("{ streams: { 'gw-*': 'gateway', 'gw-1': 'gateway' } }")).toBe('no error');
  expect(await configError("{ tenant: 'a b' }")).toContain('protocols.ddi.tenant: expected a tenant name');
  expect(await configError('{ polling: 5 }')).toContain('protocols.ddi');
  expect(await configError("{ publicUrl: 'https://ota.example.com/path' }")).toContain('protocols.ddi.publicUrl: expected scheme, host and port only');
});

test('the sleep is always HH:MM:SS, 8 characters', () => {
  expect(pollSleep(1)).toBe('00:00:01');
  expect(pollSleep(60)).toBe('00:01:00');
  expect(pollSleep(3725)).toBe('01:02:05');
  expect(pollSleep(359_999)).toBe('99:59:59');
  for (const s of [0, 59, 3600, 86_400, 1e9]) expect(pollSleep(s)).toHaveLength(8);
});

test('streams: exact ids before patterns; unmatched controllers follow the stream named by their id', () => {
  const s = ddiSettings({ streams: { 'gw-*': 'gateway', 'gw-special': 'special' } });
  expect(streamOf(s, 'gw-special')).toBe('special');
  expect(streamOf(s, 'gw-7')).toBe('gateway');
  expect(streamOf(s, 'Other-1')).toBe('other-1');
  expect(s.tenant).toBe('DEFAULT');
});

test('feedback is read leniently; only a closed action with a finished result is a result', () => {
  expect(parseFeedback('{"id":12,"status":{"execution":"closed","result":{"finished":"success"}}}').result).toBe('success');
  expect(parseFeedback('{"id":"12","status":{"execution":"closed","result":{"finished":"failure"}}}').result).toBe('failure');
  expect(parseFeedback('{"status":{"execution":"proceeding","result":{"finished":"none"}}}').result).toBeUndefined();
  expect(parseFeedback('{"status":{"execution":"downloaded","result":{"finished":"success"}}}').result).toBeUndefined();
  expect(parseFeedback('not json')).toEqual({});
  expect(parseFeedback('null')).toEqual({});
});

test('cancelAction feedback: closed (or canceled) confirms, rejected or a failure refuses, progress is neither', () => {
  const verdict = (json: string) => cancelVerdict(parseFeedback(json));
  expect(verdict('{"id":"7","status":{"execution":"closed","result":{"finished":"success"}}}')).toBe('confirmed');
  expect(verdict('{"status":{"execution":"canceled","result":{"finished":"none"}}}')).toBe('confirmed');
  expect(verdict('{"status":{"execution":"rejected","result":{"finished":"none"}}}')).toBe('rejected');
  expect(verdict('{"status":{"execution":"closed","result":{"finished":"failure"}}}')).toBe('rejected');
  expect(verdict('{"status":{"execution":"proceeding","result":{"finished":"none"}}}')).toBeUndefined();
  expect(verdict('garbage')).toBeUndefined();
});

test('SHA-1 and MD5 are computed once per release, over its served bytes, by the one helper every protocol shares', async () => {
  let reads = 0;
  const bytes = Buffer.from('served bytes of a release');
  const bodies = { body: async () => (reads++, { kind: 'buffer' as const, buffer: bytes }) } as unknown as ReleaseBodies;
  const h = releaseDigests(bodies);
  expect(releaseDigests(bodies)).toBe(h);
  expect(releaseDigests({ ...bodies } as ReleaseBodies)).not.toBe(h);
  expect(h).toBeInstanceOf(ReleaseDigests);
  const release = { sha256: 'a'.repeat(64), device: 'gw', version: '1.0.0', size: bytes.length } as Release;
  const [a, b] = await Promise.all([h.of(release), h.of(release)]);
  expect(await h.of(release)).toBe(a);
  expect(b).toBe(a);
  expect(reads).toBe(1);
  expect(a).toEqual({ sha1: new Bun.CryptoHasher('sha1').update(bytes).digest('hex'), md5: new Bun.CryptoHasher('md5').update(bytes).digest('hex') });
});
