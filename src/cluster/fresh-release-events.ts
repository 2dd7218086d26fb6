/**
 * Release changes as the leader's MQTT notices should see them when replicas share a store:
 * - a rollout created on another replica moments ago may not be in this process's decision state yet
 *   (it reloads every fleet round), and the notice of a release under that rollout must wait for it:
 *   so the decision state is read again before a change is passed on;
 * - a leader that was frozen or cut off may not know yet that another replica leads now: so the lock
 *   is asked for again, and a change is passed on only while this process still holds it.
 * Changes are passed on one after another, in the order they happened.
 */
import { CoreEventBus, type CoreEvents } from '../core/events.ts';

type ReleaseChanged = CoreEvents['release-changed'][0];

export interface FreshReleaseEvents {
  /** The bus the MQTT publisher listens to. */
  events: CoreEventBus;
  /** Passes a release on as a change (through the same checks), e.g. one the broker has not been told of. */
  announce(e: ReleaseChanged): Promise<void>;
  close(): void;
}

export function freshReleaseEvents(events: CoreEventBus, o: { reloadState(): Promise<void>; confirmLead(): Promise<boolean> }): FreshReleaseEvents {
  const relay = new CoreEventBus();
  let turn: Promise<void> = Promise.resolve();
  const announce = (e: ReleaseChanged): Promise<void> => {
    turn = turn
      .then(() => o.reloadState().catch(() => undefined))
      .then(() => o.confirmLead())
      .then((leads) => void (leads && relay.emit('release-changed', e)), () => undefined);
    return turn;
  };
  const changed = (e: ReleaseChanged) => void announce(e);
  events.on('release-changed', changed);
  return { events: relay, announce, close: () => void events.off('release-changed', changed) };
}
