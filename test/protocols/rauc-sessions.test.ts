/**
 * RAUC sessions: which bytes of a bundle a client read (ranges in any order, overlapping, repeated),
 * and when it read them all; idle sessions are forgotten.
 */
import { expect, test } from 'bun:test';
import { RaucSessions, SESSION_IDLE_MS } from '../../src/protocols/rauc/sessions.ts';
import type { Release } from '../../src/core/release.ts';

const release = { device: 'board', version: '2.0.0', size: 100, sha256: 'a'.repeat(64) } as Release;

test('whole exactly once: when the last missing byte arrives, whatever the order and overlaps', () => {
  const sessions = new RaucSessions();
  const s = sessions.open('10.0.0.1', '/firmware?device=board', { release, instance: 'serial:1', stream: 'board' });
  expect(sessions.readBytes(s, 0, 3)).toBe(false);
  expect(sessions.readBytes(s, 96, 99)).toBe(false);
  expect(sessions.readBytes(s, 50, 70)).toBe(false);
  expect(sessions.readBytes(s, 2, 49)).toBe(false);
  expect(s.read).toEqual([[0, 70], [96, 99]]);
  // Adjacent ranges merge: 71..95 closes the gap.
  expect(sessions.readBytes(s, 71, 95)).toBe(true);
  expect(s.read).toEqual([[0, 99]]);
  // Read again: not reported twice.
  expect(sessions.readBytes(s, 0, 99)).toBe(false);
});

test('a gap of one byte keeps the download open', () => {
  const sessions = new RaucSessions();
  const s = sessions.open('10.0.0.1', '/u', { release, instance: 'serial:1', stream: 'board' });
  expect(sessions.readBytes(s, 0, 48)).toBe(false);
  expect(sessions.readBytes(s, 50, 99)).toBe(false);
  expect(s.whole).toBe(false);
  expect(sessions.readBytes(s, 49, 49)).toBe(true);
});

test('sessions are per address and URL, and forgotten after the idle time', () => {
  let now = 1_000_000;
  const sessions = new RaucSessions(() => now);
  sessions.open('10.0.0.1', '/a', { release, instance: 'serial:1', stream: 'board' });
  expect(sessions.get('10.0.0.1', '/a')?.instance).toBe('serial:1');
  expect(sessions.get('10.0.0.2', '/a')).toBeUndefined();
  expect(sessions.get('10.0.0.1', '/b')).toBeUndefined();
  now += SESSION_IDLE_MS - 1;
  expect(sessions.get('10.0.0.1', '/a')).toBeDefined();
  now += SESSION_IDLE_MS + 1;
  expect(sessions.get('10.0.0.1', '/a')).toBeUndefined();
});
