// The offer function (pure): yanks, channels, pins over rollouts, bucket placement, fallbacks, and
// that its explanation names what decided.
import { describe, expect, test } from 'bun:test';
import { offer } from '../../src/fleet/offer.ts';
import { EMPTY_STATE, type DecisionState, type Rollout } from '../../src/fleet/model.ts';
import { rolloutFromSpec } from '../../src/fleet/spec.ts';
import type { Release } from '../../src/core/release.ts';
import { expectedBucket } from './fleet-sim.ts';

const rel = (version: string, sha = version.replace(/\W/g, '').padEnd(64, 'a')): Release => ({
  device: 's', version, tag: version, size: 1, crc32: 1, sha256: sha, sourceId: 'source.dir', sourceDigest: `sha256:${sha}`, verifiedBy: 'verifier.none', extractors: [], createdAt: '',
});
const R100 = rel('1.0.0'), R110 = rel('1.1.0'), R120B = rel('1.2.0-beta.1');
const NOW = 1_800_000_000_000;

function rollout(over: Partial<Rollout> & { percent?: number } = {}): Rollout {
  const r = rolloutFromSpec({ id: 'r1', streams: 's*', version: '1.1.0', steps: [{ percent: over.percent ?? 30 }] }, NOW, () => 'x');
  return { ...r, ...over };
}
const state = (s: Partial<DecisionState>): DecisionState => ({ ...EMPTY_STATE, ...s });
const ids = Array.from({ length: 400 }, (_, i) => `unit-${i}`);

describe('offer', () => {
  test('nothing configured: the newest release, as today', () => {
    const o = offer(EMPTY_STATE, 's', [R110, R100], { id: 'a' }, NOW);
    expect(o.version).toBe('1.1.0');
    expect(o.reason).toContain('no rollout');
  });

  test('a rollout at 30 %: exactly the instances whose bucket < 3000, the rest keep the previous release', () => {
    const s = state({ rollouts: [rollout()] });
    for (const id of ids) {
      const o = offer(s, 's', [R110, R100], { id }, NOW);
      const inside = expectedBucket('r1', id) < 3000;
      expect(o.version).toBe(inside ? '1.1.0' : '1.0.0');
      if (inside) expect(o).toMatchObject({ rollout: 'r1', step: 0, bucket: expectedBucket('r1', id) });
    }
  });

  test('canary stage: only the canary list; an instance already on the new release keeps it', () => {
    const s = state({ rollouts: [rollout({ canary: ['unit-7'], step: -1 })] });
    expect(offer(s, 's', [R110, R100], { id: 'unit-7' }, NOW).reason).toContain('canary');
    expect(offer(s, 's', [R110, R100], { id: 'unit-8' }, NOW).version).toBe('1.0.0');
    expect(offer(s, 's', [R110, R100], { id: 'unit-8', running: '1.1.0' }, NOW).version).toBe('1.1.0');
  });

  test('aborted: nobody new; done: everybody', () => {
    const aborted = state({ rollouts: [rollout({ state: 'aborted', percent: 100 })] });
    expect(offer(aborted, 's', [R110, R100], { id: 'unit-1' }, NOW).version).toBe('1.0.0');
    const done = state({ rollouts: [rollout({ state: 'done', percent: 1 })] });
    expect(ids.every((id) => offer(done, 's', [R110, R100], { id }, NOW).version === '1.1.0')).toBe(true);
  });

  test('a digest other than the one the rollout pinned is never offered', () => {
    const s = state({ rollouts: [rollout({ percent: 100, digests: { s: 'f'.repeat(64) } })] });
    const o = offer(s, 's', [R110, R100], { id: 'unit-1' }, NOW);
    expect(o.version).toBe('1.0.0');
    expect(o.reason).toContain('digest differs');
  });

  test('a pin beats a rollout; an instance pin beats a stream pin; a yank beats a pin', () => {
    const s = state({
      rollouts: [rollout({ percent: 100 })],
      pins: [
        { id: 'p-stream', stream: 's', instances: [], version: '1.1.0', createdAt: NOW },
        { id: 'p-inst', stream: 's', instances: ['unit-1'], version: '1.0.0', createdAt: NOW - 1 },
      ],
    });
    expect(offer(s, 's', [R110, R100], { id: 'unit-1' }, NOW)).toMatchObject({ version: '1.0.0', pin: 'p-inst' });
    expect(offer(s, 's', [R110, R100], { id: 'unit-2' }, NOW)).toMatchObject({ version: '1.1.0', pin: 'p-stream' });
    const yanked = { ...s, yanks: [{ stream: 's', version: '1.0.0', at: NOW }] };
    const o = offer(yanked, 's', [R110, R100], { id: 'unit-1' }, NOW);
    expect(o.version).toBe('1.1.0');
    expect(o.yanked).toEqual(['1.0.0']);
    expect(o.reason).toContain('ignored: that version is yanked');
  });

  test('channels: a beta prerelease only for instances subscribed to beta', () => {
    const s = state({ channels: { 'unit-1': ['beta'] } });
    expect(offer(s, 's', [R120B, R110], { id: 'unit-1' }, NOW)).toMatchObject({ version: '1.2.0-beta.1', channel: 'beta' });
    expect(offer(s, 's', [R120B, R110], { id: 'unit-2' }, NOW)).toMatchObject({ version: '1.1.0', channel: 'stable' });
    // No subscriptions anywhere: a prerelease the composition allows goes out as before, also beside a rollout.
    expect(offer(state({ rollouts: [rollout()] }), 's', [R120B, R110], { id: 'unit-2' }, NOW).version).toBe('1.2.0-beta.1');
  });

  test('nothing eligible: no release, and the reason says why', () => {
    const s = state({ yanks: [{ stream: 's*', version: '1.0.0', at: NOW }] });
    const o = offer(s, 's', [R100], { id: 'unit-1' }, NOW);
    expect(o.release).toBeUndefined();
    expect(o.yanked).toEqual(['1.0.0']);
  });

  test('a download cap excludes a rollout for new instances', () => {
    const s = state({ rollouts: [rollout({ percent: 100 })] });
    const o = offer(s, 's', [R110, R100], { id: 'unit-1' }, NOW, { excludeRollouts: new Set(['r1']) });
    expect(o.version).toBe('1.0.0');
    expect(o.reason).toContain('download cap');
  });
});
