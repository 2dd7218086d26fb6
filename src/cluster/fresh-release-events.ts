/**
 * Release changes as the leader's MQTT notices should see them when replicas share a store: a
 * rollout created on another replica moments ago may not be in this process's decision state yet
 * (it reloads every fleet round), and the notice of a release under that rollout must wait for it.
 * So each change is passed on only after the decision state was read again, one change after
 * another in the order they happened.
 */
import { CoreEventBus, type CoreEvents } from '../core/events.ts';

export function freshReleaseEvents(events: CoreEventBus, reloadState: () => Promise<void>): { events: CoreEventBus; close(): void } {
  const relay = new CoreEventBus();
  let turn: Promise<void> = Promise.resolve();
  const changed = (e: CoreEvents['release-changed'][0]) => {
    turn = turn.then(() => reloadState().catch(() => undefined)).then(() => void relay.emit('release-changed', e));
  };
  events.on('release-changed', changed);
  return { events: relay, close: () => void events.off('release-changed', changed) };
}
