/**
 * Writes to a Bun socket with backpressure: whatever the kernel does not take now is queued and
 * sent from the `drain` callback; `flushed()` resolves when the queue is empty.
 */
import type { Socket } from 'bun';

export class SocketWriter {
  private queue: Uint8Array[] = [];
  private waiters: Array<() => void> = [];
  private dead = false;

  constructor(private readonly socket: Socket<unknown>) {}

  /** Queues bytes; returns false when the socket is gone. */
  write(bytes: Uint8Array | string): boolean {
    if (this.dead) return false;
    if (bytes.length === 0) return true;
    if (this.queue.length > 0) {
      this.queue.push(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
      return true;
    }
    // Strings (response heads, ASCII) go to the socket as they are: no Buffer on the common path.
    const n = this.socket.write(bytes);
    if (n < 0) return this.fail();
    const total = typeof bytes === 'string' ? bytes.length : bytes.byteLength;
    if (n < total) this.queue.push((typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes).subarray(n));
    return true;
  }

  /** Whether bytes are waiting for the socket. */
  get pending(): boolean {
    return this.queue.length > 0;
  }

  /** Resolves once every queued byte went to the socket (or the socket closed). */
  flushed(): Promise<void> {
    if (this.queue.length === 0 || this.dead) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  /** Called from the socket's `drain` handler. */
  drain(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0] as Uint8Array;
      const n = this.socket.write(head);
      if (n < 0) { this.fail(); return; }
      if (n < head.byteLength) { this.queue[0] = head.subarray(n); return; }
      this.queue.shift();
    }
    this.wake();
  }

  /** Called from the socket's `close` handler. */
  closed(): void {
    this.fail();
  }

  private fail(): false {
    this.dead = true;
    this.queue = [];
    this.wake();
    return false;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  get isDead(): boolean {
    return this.dead;
  }
}
