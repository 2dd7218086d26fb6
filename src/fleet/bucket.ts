/**
 * Rollout placement: bucket = first 4 bytes of SHA-256(salt + ":" + instance), big-endian, mod 10000.
 * An instance is inside a step of P percent when bucket < P × 100: the same on every evaluation and
 * every replica, nothing stored, and raising P only adds instances.
 */
import { createHash } from 'node:crypto';

const cache = new Map<string, number>();
const MAX_CACHED = 200_000;

export function bucket(salt: string, instance: string): number {
  const key = `${salt}:${instance}`;
  let b = cache.get(key);
  if (b === undefined) {
    b = createHash('sha256').update(key).digest().readUInt32BE(0) % 10000;
    if (cache.size >= MAX_CACHED) cache.clear();
    cache.set(key, b);
  }
  return b;
}

export function inPercent(b: number, percent: number): boolean {
  return b < Math.round(percent * 100);
}
