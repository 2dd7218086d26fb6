import { expect, test } from 'bun:test';
import { callScope } from './call-scope.ts';

test('a call scope aborts at its timeout with a TimeoutError, or when the parent aborts', async () => {
  const timed = callScope(20);
  await Bun.sleep(60);
  expect(timed.signal.aborted).toBe(true);
  expect((timed.signal.reason as Error).name).toBe('TimeoutError');

  const parent = new AbortController();
  const child = callScope(60_000, parent.signal);
  parent.abort(new Error('shutting down'));
  expect(child.signal.aborted).toBe(true);
  expect((child.signal.reason as Error).message).toBe('shutting down');
  child.end();

  const late = callScope(1000, parent.signal);
  expect(late.signal.aborted).toBe(true);
});

test('after end() neither the timeout nor the parent aborts the signal', async () => {
  const parent = new AbortController();
  const scope = callScope(20, parent.signal);
  scope.end();
  await Bun.sleep(60);
  parent.abort();
  expect(scope.signal.aborted).toBe(false);
});
