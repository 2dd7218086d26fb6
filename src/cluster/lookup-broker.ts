/**
 * The primary's side of shared lookups: remembers what a worker found per device and hands it to
 * the others; one worker at a time asks the source for a device. No plugin and no I/O here.
 */
import type { Built } from '../core/resolver.ts';
import type { PrimaryMessage, WorkerMessage } from './messages.ts';

/** Devices remembered at most (the oldest answer is forgotten first). */
const MAX_DEVICES = 100_000;

export interface BrokerPeer {
  send(m: PrimaryMessage): void;
}

interface Waiter {
  peer: BrokerPeer;
  id: number;
  notBefore: number;
}

export class LookupBroker {
  private readonly found = new Map<string, { built: Built; at: number }>();
  private readonly asking = new Map<string, { peer: BrokerPeer; waiters: Waiter[] }>();
  /** Registry lookups handed out (`go`), for tests and the log. */
  lookups = 0;

  constructor(private readonly peers: () => Iterable<BrokerPeer>) {}

  receive(peer: BrokerPeer, m: WorkerMessage): void {
    if (m.t === 'lookup') this.ask({ peer, id: m.id, notBefore: m.notBefore }, m.device);
    else if (m.t === 'done') this.done(peer, m.device, m.built, m.at);
    else if (m.t === 'failed') this.failed(peer, m.device);
  }

  /** A worker died: whatever it was asking for is handed to the next worker waiting. */
  gone(peer: BrokerPeer): void {
    for (const [device, a] of [...this.asking]) if (a.peer === peer) this.failed(peer, device);
    for (const a of this.asking.values()) a.waiters = a.waiters.filter((w) => w.peer !== peer);
  }

  private ask(w: Waiter, device: string): void {
    const known = this.found.get(device);
    if (known && known.at >= w.notBefore) return w.peer.send({ t: 'result', id: w.id, built: known.built, at: known.at });
    const asking = this.asking.get(device);
    if (asking) {
      asking.waiters.push(w);
      return;
    }
    this.asking.set(device, { peer: w.peer, waiters: [] });
    this.lookups++;
    w.peer.send({ t: 'go', id: w.id });
  }

  private done(peer: BrokerPeer, device: string, built: Built, at: number): void {
    const before = this.found.get(device);
    this.found.delete(device);
    this.found.set(device, { built, at });
    if (this.found.size > MAX_DEVICES) this.found.delete(this.found.keys().next().value as string);
    const asking = this.asking.get(device);
    this.asking.delete(device);
    for (const w of asking?.waiters ?? []) this.ask(w, device);
    if (before && before.built.release.sha256 === built.release.sha256 && before.built.release.version === built.release.version) return;
    for (const p of this.peers()) if (p !== peer) p.send({ t: 'changed', device, at });
  }

  /** The lookup failed (or its worker died): each waiter asks the source itself, one after another. */
  private failed(peer: BrokerPeer, device: string): void {
    const asking = this.asking.get(device);
    if (!asking || asking.peer !== peer) return;
    this.asking.delete(device);
    const [next, ...rest] = asking.waiters;
    if (!next) return;
    this.asking.set(device, { peer: next.peer, waiters: rest });
    this.lookups++;
    next.peer.send({ t: 'go', id: next.id });
  }
}
