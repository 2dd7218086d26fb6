/**
 * `--workers N|auto` (env `WORKERS`): how many processes serve the device port. The default is 1
 * (one process): every worker keeps its own memory tier (`cache.memoryBytes`) and about
 * 40 MB of runtime, and one core already answers tens of thousands of polls a second, far more than
 * most fleets send; so more workers are an explicit choice. `auto` is one per available core.
 */
import { availableParallelism } from 'node:os';
import { UsageError } from '../cli/flags.ts';

/** Largest count accepted (a typo like 1000 would start a thousand processes). */
const MAX_WORKERS = 256;

export function workerCount(value: string | number | boolean | undefined, cores = availableParallelism()): number {
  if (value === undefined || value === '') return 1;
  if (value === 'auto') return Math.max(1, cores);
  const n = typeof value === 'number' ? value : /^\d+$/.test(String(value)) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS) throw new UsageError(`--workers: expected a number from 1 to ${MAX_WORKERS} or 'auto', got '${String(value)}'`);
  return n;
}
