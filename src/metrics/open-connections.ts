/**
 * Open connections per listener, for `otaflux_open_connections{listener}`. A listener hands over
 * the live set (or a counter) it keeps anyway, keyed by the runtime it serves (its event bus), and
 * the metrics read the sizes at scrape time: nothing runs per connection.
 *
 *     countConnections(deps.events, 'device', conns);                  // the device listener's Set
 *     countConnections(rt.events, 'metrics', () => connectionsOf(server)); // a node:http server
 */
type Count = { readonly size: number } | (() => number | Promise<number>);

const byOwner = new WeakMap<object, Map<string, Set<Count>>>();

/** Registers a listener's connections under `listener` (`device`, `tls`, `metrics`). Several add up. */
export function countConnections(owner: object, listener: string, count: Count): void {
  let listeners = byOwner.get(owner);
  if (!listeners) byOwner.set(owner, (listeners = new Map()));
  let counts = listeners.get(listener);
  if (!counts) listeners.set(listener, (counts = new Set()));
  counts.add(count);
}

/** Open connections per listener name, read now. */
export async function openConnections(owner: object): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const [listener, counts] of byOwner.get(owner) ?? []) {
    let n = 0;
    for (const c of counts) n += typeof c === 'function' ? await c() : c.size;
    out.set(listener, n);
  }
  return out;
}

/** Connections a node:http server holds (under Bun: those that have sent a request). */
export function connectionsOf(server: { getConnections(cb: (err: Error | null, count: number) => void): unknown }): Promise<number> {
  return new Promise((resolve) => server.getConnections((err, count) => resolve(err ? 0 : count)));
}
