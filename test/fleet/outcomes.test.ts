// Outcome rules per instance and release, for reporting clients and for one that reports nothing.
import { expect, test } from 'bun:test';
import { applyCheckin, applyDownload, ROLLBACK_GRACE_MS, type CheckinFacts, type Outcome } from '../../src/fleet/outcomes.ts';

const T = 1_800_000_000_000;
const c = (over: Partial<CheckinFacts>): CheckinFacts => ({ instance: 'i', stream: 's', route: 'version', offered: '1.1.0', now: T, ...over });
const state = (list: Outcome[], v = '1.1.0') => list.find((o) => o.version === v)?.state;

test('reporting client: offered → downloading → downloaded → verified when it reports the new version', () => {
  const list: Outcome[] = [];
  applyCheckin(list, c({ reported: '1.0.0', bootId: 'b0' }));
  expect(state(list)).toBe('offered');
  applyCheckin(list, c({ route: 'firmware', reported: '1.0.0', bootId: 'b0' }));
  expect(state(list)).toBe('downloading');
  applyDownload(list, 's', '1.1.0', true, 'b0', T + 1);
  expect(state(list)).toBe('downloaded');
  applyCheckin(list, c({ reported: '1.0.0', bootId: 'b0', now: T + 2 })); // same boot: not yet rebooted
  expect(state(list)).toBe('downloaded');
  applyCheckin(list, c({ reported: '1.1.0', bootId: 'b1', now: T + 3 }));
  expect(list[0]).toMatchObject({ state: 'verified', inferred: false });
});

test('rolled back: a new boot still on the old version; without a boot id, after the grace time', () => {
  const a: Outcome[] = [];
  applyCheckin(a, c({ route: 'firmware', reported: '1.0.0', bootId: 'b0' }));
  applyDownload(a, 's', '1.1.0', true, 'b0', T);
  applyCheckin(a, c({ reported: '1.0.0', bootId: 'b1', now: T + 1 }));
  expect(state(a)).toBe('rolled_back');
  const b: Outcome[] = [];
  applyCheckin(b, c({ route: 'firmware', reported: '1.0.0' }));
  applyDownload(b, 's', '1.1.0', true, undefined, T);
  applyCheckin(b, c({ reported: '1.0.0', now: T + ROLLBACK_GRACE_MS - 1 }));
  expect(state(b)).toBe('downloaded');
  applyCheckin(b, c({ reported: '1.0.0', now: T + ROLLBACK_GRACE_MS }));
  expect(state(b)).toBe('rolled_back');
});

test('a client that reports nothing: verified (inferred) by a later poll, rolled back (inferred) if it downloads again', () => {
  const list: Outcome[] = [];
  applyCheckin(list, c({}));
  applyCheckin(list, c({ route: 'firmware' }));
  applyDownload(list, 's', '1.1.0', true, undefined, T);
  applyCheckin(list, c({ now: T + 5 }));
  expect(list[0]).toMatchObject({ state: 'verified', inferred: true });
  applyCheckin(list, c({ route: 'firmware', now: T + 6 }));
  expect(list[0]).toMatchObject({ state: 'rolled_back', inferred: true });
  applyCheckin(list, c({ route: 'firmware', now: T + 7 }));
  expect(state(list)).toBe('rolled_back'); // final
});

test('an explicit failure report; a cut-short download stays downloading', () => {
  const list: Outcome[] = [];
  applyCheckin(list, c({ route: 'firmware', reported: '1.0.0' }));
  expect(applyDownload(list, 's', '1.1.0', false, undefined, T)).toBeUndefined();
  expect(state(list)).toBe('downloading');
  applyCheckin(list, c({ reported: '1.0.0', failedReport: true }));
  expect(state(list)).toBe('failed');
});
