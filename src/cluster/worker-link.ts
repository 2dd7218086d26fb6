/**
 * A worker's side of the IPC channel to its primary (`--workers`): shared lookups (the resolver's
 * `shared` option) and the primary's `changed` notices.
 */
import type { Built, SharedLookup } from '../core/resolver.ts';
import type { PrimaryMessage, WorkerMessage } from './messages.ts';

/** A lookup the primary does not answer within this time is made by this worker itself. */
const ANSWER_TIMEOUT_MS = 30_000;

export class WorkerLink {
  private next = 0;
  private readonly waiting = new Map<number, (m: PrimaryMessage | undefined) => void>();
  private onChanged: (device: string, at: number) => void = () => {};
  private readonly listener = (m: PrimaryMessage) => this.received(m);

  constructor(private readonly send: (m: WorkerMessage) => void = (m) => void process.send?.(m)) {
    process.on('message', this.listener);
    // The primary is gone (killed): stop as on SIGTERM, draining downloads, rather than live on orphaned.
    process.once('disconnect', this.orphaned);
  }

  private readonly orphaned = () => void process.kill(process.pid, 'SIGTERM');

  /** Calls `fn` when another worker found a new release of a device. */
  changed(fn: (device: string, at: number) => void): void {
    this.onChanged = fn;
  }

  readonly lookup: SharedLookup = async (device, notBefore, run) => {
    const answer = await this.ask(device, notBefore);
    if (answer?.t === 'result') return answer.built;
    let built: Built;
    try {
      built = await run();
    } catch (e) {
      if (answer) this.send({ t: 'failed', device });
      throw e;
    }
    if (answer) this.send({ t: 'done', device, built, at: Date.now() });
    return built;
  };

  /** Tells the primary this worker's state store is open. */
  ready(): void {
    try {
      this.send({ t: 'ready' });
    } catch {
      // The primary is gone: the disconnect handler stops this worker.
    }
  }

  close(): void {
    process.off('message', this.listener);
    process.off('disconnect', this.orphaned);
    for (const resolve of this.waiting.values()) resolve(undefined);
    this.waiting.clear();
  }

  /** The primary's answer: `go`, `result`, or undefined when it did not answer (then this worker asks alone). */
  private ask(device: string, notBefore: number): Promise<PrimaryMessage | undefined> {
    const id = ++this.next;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(undefined);
      }, ANSWER_TIMEOUT_MS);
      this.waiting.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      try {
        this.send({ t: 'lookup', id, device, notBefore });
      } catch {
        this.waiting.delete(id);
        clearTimeout(timer);
        resolve(undefined);
      }
    });
  }

  private received(m: PrimaryMessage): void {
    if (m.t === 'changed') return this.onChanged(m.device, m.at);
    const resolve = this.waiting.get(m.id);
    this.waiting.delete(m.id);
    resolve?.(m);
  }
}
