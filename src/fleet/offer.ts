/**
 * The offer: what one instance of a stream is offered now, and why. ONE pure function of the
 * decision state, the stream's verified releases, the instance and the time, so every replica that
 * holds the same state makes the same decision, and the explanation is part of the answer.
 *
 * Rules, in order (README "Fleet control"):
 * 1. A yanked release is never offered.
 * 2. A release on a channel the instance is not subscribed to (`1.3.0-beta.2` → `beta`) is not offered
 *    (once channels are in use; until then the composition's `allowPrerelease` alone decides, as before).
 * 3. A pin wins over any rollout (an instance pin over a stream pin).
 * 4. Otherwise the newest release whose rollout includes the instance (canary list, or
 *    bucket < percent × 100 at the current step); a release whose rollout leaves the instance out,
 *    or whose digest differs from the one the rollout pinned, is passed over for an older one.
 * 5. A release with no rollout goes to every instance at once (today's behaviour).
 * 6. Otherwise the release the instance reports running, so a paused or aborted rollout does not
 *    strand it on nothing.
 */
import type { Release } from '../core/release.ts';
import { bucket, inPercent } from './bucket.ts';
import { channelOf, STABLE } from './channels.ts';
import { streamMatches, type DecisionState, type Pin, type Rollout } from './model.ts';

export interface InstanceFacts {
  id: string;
  /** The version the instance reports running, when it reports one. */
  running?: string;
}

export interface Offer {
  release?: Release;
  version?: string;
  /** One sentence: why this release (or none). */
  reason: string;
  rollout?: string;
  /** Rollout step (-1: canary list). */
  step?: number;
  /** The instance's bucket in that rollout (0–9999). */
  bucket?: number;
  pin?: string;
  /** Versions passed over because they were yanked. */
  yanked?: string[];
  /** The channel of the release offered (`stable`, `beta`). */
  channel?: string;
}

export interface OfferOptions {
  /** Rollouts treated as not including anyone new (a download cap reached). */
  excludeRollouts?: ReadonlySet<string>;
}

export function offer(state: DecisionState, stream: string, releases: readonly Release[], inst: InstanceFacts, now: number, opts: OfferOptions = {}): Offer {
  // Today's behaviour, at no cost, for a stream nothing is configured for.
  // Channels apply once any instance is subscribed to one; until then `allowPrerelease` alone decides, as before.
  const channelsOn = Object.keys(state.channels).length > 0;
  if (state.rollouts.length === 0 && state.pins.length === 0 && state.yanks.length === 0 && !channelsOn && releases[0]) {
    const r = releases[0];
    return { release: r, version: r.version, reason: 'newest verified release (no rollout, pin or yank)', channel: channelOf(r.version) };
  }
  const yankedHere = state.yanks.filter((y) => streamMatches(y.stream, stream)).map((y) => y.version);
  const subscribed = state.channels[inst.id] ?? [];
  const yanked: string[] = [];
  const eligible: Release[] = [];
  for (const r of releases) {
    if (yankedHere.includes(r.version)) {
      yanked.push(r.version);
      continue;
    }
    const ch = channelOf(r.version);
    if (channelsOn && ch !== STABLE && !subscribed.includes(ch)) continue;
    eligible.push(r);
  }
  const extra = (o: Offer): Offer => {
    if (yanked.length) o.yanked = yanked;
    if (o.release) o.channel = channelOf(o.release.version);
    return o;
  };

  const pin = pinFor(state.pins, stream, inst.id);
  if (pin) {
    const r = eligible.find((x) => x.version === pin.version);
    if (r) return extra({ release: r, version: r.version, reason: `pinned to ${pin.version} (${pin.instances.length ? 'instance pin' : 'stream pin'} ${pin.id})`, pin: pin.id });
  }
  const pinNote = pin ? `; pin ${pin.id} to ${pin.version} ignored: that version is ${yanked.includes(pin.version) ? 'yanked' : 'not a verified release of this stream'}` : '';

  const passed: string[] = [];
  for (const r of eligible) {
    const ro = rolloutFor(state.rollouts, stream, r.version);
    if (!ro) return extra({ release: r, version: r.version, reason: `newest eligible release, no rollout${passed.length ? ` (passed over: ${passed.join('; ')})` : ''}${pinNote}` });
    const pinned = ro.digests[stream];
    if (pinned && pinned !== r.sha256) {
      passed.push(`${r.version}: digest differs from rollout ${ro.id}'s`);
      continue;
    }
    const placed = placement(ro, state, inst.id);
    if (placed.included && !opts.excludeRollouts?.has(ro.id)) {
      return extra({ release: r, version: r.version, reason: `rollout ${ro.id} (${ro.state}) includes it: ${placed.why}${pinNote}`, rollout: ro.id, step: ro.step, ...(placed.bucket !== undefined ? { bucket: placed.bucket } : {}) });
    }
    if (inst.running === r.version && ro.state !== 'aborted') {
      return extra({ release: r, version: r.version, reason: `already runs ${r.version} (rollout ${ro.id}: ${placed.why})`, rollout: ro.id, step: ro.step, ...(placed.bucket !== undefined ? { bucket: placed.bucket } : {}) });
    }
    passed.push(`${r.version}: rollout ${ro.id} ${opts.excludeRollouts?.has(ro.id) && placed.included ? 'download cap reached this minute' : placed.why}`);
  }
  const running = inst.running ? eligible.find((x) => x.version === inst.running) : undefined;
  const why = passed.length ? ` (passed over: ${passed.join('; ')})` : '';
  if (running) return extra({ release: running, version: running.version, reason: `keeps the release it runs${why}${pinNote}` });
  return extra({ reason: `no eligible release${why}${pinNote}` });
}

/** An instance pin beats a stream pin; the newest pin wins among equals. */
function pinFor(pins: readonly Pin[], stream: string, instance: string): Pin | undefined {
  let best: Pin | undefined;
  for (const p of pins) {
    if (!streamMatches(p.stream, stream)) continue;
    if (p.instances.length > 0 && !p.instances.includes(instance)) continue;
    if (!best || (best.instances.length === 0 && p.instances.length > 0) || ((best.instances.length > 0) === (p.instances.length > 0) && p.createdAt > best.createdAt)) best = p;
  }
  return best;
}

/** The rollout governing a version of a stream: the newest one not aborted, else the newest. */
export function rolloutFor(rollouts: readonly Rollout[], stream: string, version: string): Rollout | undefined {
  let best: Rollout | undefined;
  for (const r of rollouts) {
    if (r.version !== version || !r.selector.streams.some((p) => streamMatches(p, stream))) continue;
    if (!best || (best.state === 'aborted' && r.state !== 'aborted') || (r.createdAt > best.createdAt && (r.state !== 'aborted' || best.state === 'aborted'))) best = r;
  }
  return best;
}

/** Whether a rollout includes an instance now, and why (in words). */
export function placement(ro: Rollout, state: DecisionState, instance: string): { included: boolean; why: string; bucket?: number } {
  if (ro.state === 'aborted') return { included: false, why: `aborted${ro.reason ? ` (${ro.reason})` : ''}` };
  const sel = ro.selector;
  const listed = (sel.instances?.length ?? 0) > 0 || (sel.labels?.length ?? 0) > 0;
  if (listed) {
    const labels = state.labels[instance] ?? [];
    const selected = (sel.instances ?? []).includes(instance) || (sel.labels ?? []).some((l) => labels.includes(l));
    if (!selected && !ro.canary.includes(instance)) return { included: false, why: 'not selected (instance list and labels)' };
  }
  if (ro.canary.includes(instance)) return { included: true, why: 'on the canary list' };
  if (ro.state === 'done') return { included: true, why: 'rollout done (100 %)' };
  const b = bucket(ro.salt, instance);
  if (ro.step < 0) return { included: false, why: `canary stage only, bucket ${b}`, bucket: b };
  const step = ro.steps[Math.min(ro.step, ro.steps.length - 1)];
  const percent = step?.percent ?? 100;
  return inPercent(b, percent)
    ? { included: true, why: `bucket ${b} < ${percent * 100} (step ${ro.step}: ${percent} %)`, bucket: b }
    : { included: false, why: `bucket ${b} ≥ ${percent * 100} (step ${ro.step}: ${percent} %)`, bucket: b };
}
