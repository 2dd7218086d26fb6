/**
 * The hawkBit DDI controller side without HTTP: which release a controller is offered, whether its
 * deployment is still open, and what its feedback means for the fleet. A controller id names the
 * instance (`ddi:<controllerId>`, or the mTLS certificate's when one is shown); the stream it follows
 * comes from `protocols.ddi.streams`.
 */
import type { Runtime } from '../../runtime.ts';
import type { PeerCertificate } from '../../plugin.ts';
import type { DeviceCall, RequestFacts } from '../../core/device-request.ts';
import type { Release } from '../../core/release.ts';
import { deviceRef } from '../../core/composition.ts';
import { deriveInstance } from '../../fleet/instance.ts';
import type { Outcome } from '../../fleet/outcomes.ts';
import { streamOf, type DdiSettings } from './config.ts';
import { actionId } from './action-id.ts';

export interface Offered {
  stream: string;
  instance: string;
  release: Release;
  actionId: number;
}

/** What a controller's request says about it. */
export interface ControllerRequest {
  controllerId: string;
  method: string;
  /** The request's path (`/DEFAULT/controller/v1/esp32-a`), for authenticators. */
  path?: string;
  /** Lower-cased names. */
  headers: Record<string, string>;
  remoteAddress: string;
  /** The client certificate the TLS connection showed (already checked against the client CA). */
  peerCertificate?: PeerCertificate;
}

/** Outcome states after which a deployment is not offered again to that instance. */
const CLOSED = new Set(['verified', 'failed', 'rolled_back', 'timed_out', 'canceled']);
const REMEMBERED = 10_000;

export class DdiController {
  /** Results reported by feedback, for when fleet control is off (and before a replica syncs). */
  private readonly results = new Map<string, { version: string; result: 'success' | 'failure' }>();
  /** Controllers whose configData arrived. */
  private readonly configured = new Set<string>();
  /** Deployments this replica offered, by action id: feedback names only the id. */
  private readonly actions = new Map<number, { stream: string; version: string }>();
  /** Cancellations answered (confirmed or rejected), per instance and action id: never sent again. */
  private readonly cancelled = new Set<string>();

  constructor(private readonly rt: Runtime, readonly settings: DdiSettings) {}

  /** The request facts of a DDI request: TargetToken / GatewayToken become the bearer token the token authenticator reads. */
  facts(c: ControllerRequest, route: 'version' | 'firmware'): RequestFacts {
    const headers: Record<string, string> = { ...c.headers, 'x-device-instance': `ddi:${c.controllerId}` };
    const auth = /^(?:TargetToken|GatewayToken)[ ]+(\S+)\s*$/i.exec(headers.authorization ?? '');
    if (auth) headers.authorization = `Bearer ${auth[1]}`;
    delete headers['x-firmware-version'];
    const f: RequestFacts = { method: c.method, path: c.path ?? `/${route}`, headers, query: new URLSearchParams(), remoteAddress: c.remoteAddress };
    if (c.peerCertificate) f.peerCertificate = c.peerCertificate;
    return f;
  }

  /** The device request a DDI request makes, for the stream the controller follows (its id validated: throws a DeviceError otherwise). */
  query(c: ControllerRequest, route: 'version' | 'firmware'): DeviceCall {
    // The artifact route reports a download's end itself (download-end.ts), not the listener's `/firmware`
    // event; feedback, not a poll, says how the update ended.
    return this.rt.devices.call(streamOf(this.settings, c.controllerId), this.facts(c, route), route === 'firmware' ? { route, protocol: 'ddi', download: 'pieces', reportsResult: true } : { route, protocol: 'ddi', reportsResult: true });
  }

  /** The instance and stream of a controller without admitting it (for links that need no release). */
  who(c: ControllerRequest): { instance: string; stream: string } {
    return { instance: deriveInstance(this.facts(c, 'version')).id, stream: streamOf(this.settings, c.controllerId) };
  }

  /** The release offered to this controller now (throws the device service's DeviceError otherwise). */
  async offered(c: ControllerRequest, route: 'version' | 'firmware'): Promise<Offered> {
    const q = this.query(c, route);
    const a = await this.rt.devices.admit(q);
    // A token proves the controller may follow the stream; the controller id names the instance.
    const identity = a.identity?.startsWith('cert:') ? a.identity : undefined;
    const instance = deriveInstance({ ...q, ...(identity ? { identity } : {}) }).id;
    const newest = await this.rt.resolver.current(deviceRef(a.deviceId, a.composition), a.composition);
    const release = this.rt.fleet ? await this.rt.fleet.choose(a.deviceId, a.composition, newest, q, identity) : newest;
    const id = actionId(a.deviceId, release.sha256);
    this.actions.set(id, { stream: a.deviceId, version: release.version });
    if (this.actions.size > REMEMBERED) this.actions.delete(this.actions.keys().next().value as number);
    return { stream: a.deviceId, instance, release, actionId: id };
  }

  /** Whether the offered deployment is still open for the instance (no final result yet). */
  open(o: Offered): boolean {
    const mine = this.outcome(o.instance, o.stream, o.release.version);
    if (mine && CLOSED.has(mine.state)) return false;
    const local = this.results.get(`${o.stream}\0${o.instance}`);
    return !(local && local.version === o.release.version);
  }

  /** An open deployment of this instance whose rollout was aborted: the action to cancel, if any. */
  cancellable(instance: string, stream: string): number | undefined {
    const fleet = this.rt.fleet;
    if (!fleet) return undefined;
    const aborted = new Set(fleet.decisionState().rollouts.filter((r) => r.state === 'aborted').map((r) => r.id));
    for (const o of fleet.outcomesOf(instance)) {
      if (o.stream !== stream || !o.rolloutId || !aborted.has(o.rolloutId) || CLOSED.has(o.state)) continue;
      const id = this.idOf(stream, o.version);
      if (id !== undefined && !this.cancelled.has(`${instance}\0${id}`)) return id;
    }
    return undefined;
  }

  /**
   * The controller answered a cancelAction: either way it is not sent again. A confirmed cancel makes
   * the deployment's fleet outcome `canceled` (written to the store, so every replica sees it closed);
   * a rejected one leaves the outcome as it was. Feedback on a cancel that was never sent (the action's
   * rollout not aborted, or already answered) changes nothing: a live deployment is not closed this way.
   */
  cancelAnswered(instance: string, id: number, confirmed: boolean): void {
    const action = this.actions.get(id);
    if (action === undefined || this.cancellable(instance, action.stream) !== id) return;
    this.cancelled.add(`${instance}\0${id}`);
    if (this.cancelled.size > REMEMBERED) this.cancelled.delete(this.cancelled.keys().next().value as string);
    if (confirmed) this.rt.fleet?.report(instance, action.stream, action.version, 'canceled');
  }

  /** The deployment an action id names, for feedback: remembered, else the current offer if it matches. */
  async deploymentOf(c: ControllerRequest, id: number): Promise<{ stream: string; instance: string; version: string } | undefined> {
    let current: Offered | undefined;
    try {
      current = await this.offered({ ...c, method: 'HEAD' }, 'version');
    } catch {
      current = undefined;
    }
    if (current?.actionId === id) return { stream: current.stream, instance: current.instance, version: current.release.version };
    const known = this.actions.get(id);
    if (!known) return undefined;
    return { stream: known.stream, instance: this.who(c).instance, version: known.version };
  }

  /** Feedback `closed` + `success` / `failure`: the fleet outcome for that instance and release. */
  report(d: { stream: string; instance: string; version: string }, result: 'success' | 'failure'): void {
    this.results.set(`${d.stream}\0${d.instance}`, { version: d.version, result });
    if (this.results.size > REMEMBERED) this.results.delete(this.results.keys().next().value as string);
    this.rt.fleet?.report(d.instance, d.stream, d.version, result);
  }

  /** configData is asked for until it arrives. */
  wantsConfig(controllerId: string): boolean {
    return !this.configured.has(controllerId);
  }

  configReceived(controllerId: string): void {
    this.configured.add(controllerId);
    if (this.configured.size > REMEMBERED) this.configured.delete(this.configured.values().next().value as string);
  }

  private outcome(instance: string, stream: string, version: string): Outcome | undefined {
    return this.rt.fleet?.outcomesOf(instance).find((x) => x.stream === stream && x.version === version);
  }

  private idOf(stream: string, version: string): number | undefined {
    for (const [id, a] of this.actions) if (a.stream === stream && a.version === version) return id;
    return undefined;
  }
}
