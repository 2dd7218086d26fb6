/**
 * The signal of one lookup's plugin calls: aborted when the server shuts down (`parent`) or after
 * `timeoutMs`, with a TimeoutError like AbortSignal.timeout. Unlike AbortSignal.timeout and
 * AbortSignal.any, `end()` frees its timer and its listener on the parent at once, so a lookup that
 * finished in a millisecond does not hold memory for the length of the timeout: a flood of polls
 * for made-up ids would otherwise keep one live timer per id.
 */
export interface CallScope {
  readonly signal: AbortSignal;
  /** The calls are over: release the timer and the parent listener (the signal is not aborted). */
  end(): void;
}

export function callScope(timeoutMs: number, parent?: AbortSignal): CallScope {
  const controller = new AbortController();
  if (parent?.aborted) {
    controller.abort(parent.reason);
    return { signal: controller.signal, end() {} };
  }
  const onParentAbort = () => controller.abort(parent?.reason);
  const timer = setTimeout(() => controller.abort(new DOMException('The plugin call timed out', 'TimeoutError')), timeoutMs);
  parent?.addEventListener('abort', onParentAbort, { once: true });
  return {
    signal: controller.signal,
    end() {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParentAbort);
    },
  };
}
