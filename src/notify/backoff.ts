/**
 * Backoff gives the delay before the next reconnect attempt: it doubles from `initialMs` up to
 * `maxMs`, with up to 20% random jitter so a fleet of servers does not reconnect in lockstep,
 * and starts over after `reset()` (a successful connection).
 */
export class Backoff {
  private attempt = 0;

  constructor(private readonly initialMs = 500, private readonly maxMs = 30_000, private readonly random: () => number = Math.random) {}

  /** The delay before the next attempt, in milliseconds. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(base * (0.8 + 0.2 * this.random()));
  }

  reset(): void {
    this.attempt = 0;
  }
}
