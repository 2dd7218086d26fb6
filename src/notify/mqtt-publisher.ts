/**
 * MqttPublisher tells an MQTT broker about new releases: when a device's latest release changes
 * (a refresh or a webhook found it), it publishes a retained QoS 1 message to `{topic}/{device}`
 * with version, size, CRC-32 and SHA-256, as the Rust server did on webhooks.
 *
 * - Only the newest notification per device is kept pending; older ones are dropped unsent.
 * - A notification counts as delivered when the broker acknowledges it (PUBACK); the ledger on
 *   disk records that, so a restart neither republishes nor loses a change.
 * - The broker being down never blocks the server: the publisher reconnects on its own with
 *   exponential backoff (0.5 s doubling to 30 s, with jitter) and sends what is pending.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from '../plugin.ts';
import type { MqttSettings } from '../config/settings.ts';
import type { CoreEventBus, CoreEvents } from '../core/events.ts';
import type { Release } from '../core/release.ts';
import { Backoff } from './backoff.ts';
import { brokerOptions, type BrokerOptions } from './mqtt-options.ts';
import { notificationPayload, notificationTopic } from './mqtt-payload.ts';
import { PublishedLedger, type LedgerEntry } from './published-ledger.ts';

/** A publish not acknowledged within this time counts as failed, and the connection is restarted. */
const PUBACK_TIMEOUT_MS = 15_000;

export interface MqttPublisherOptions {
  settings: MqttSettings;
  events: CoreEventBus;
  /** Folder of the published ledger, e.g. `<cache>/notify/mqtt`. */
  ledgerDir: string;
  logger: Logger;
  /** Reconnect delays (tests shorten them). */
  backoff?: Backoff;
  /**
   * True while a notice must wait (the fleet: a staged rollout of that release is under 100 %). The
   * notice is a per-stream retained message, so it goes out once every instance may take the release;
   * `releaseHeld()` re-asks for the waiting ones.
   */
  hold?: (device: string, release: Release) => boolean;
}

export interface MqttPublisherStats {
  connected: boolean;
  /** Notifications waiting for the broker. */
  pending: number;
  /** Notifications the broker acknowledged since start. */
  published: number;
  /** Changes not published because the broker already retains the same message. */
  skipped: number;
}

export class MqttPublisher {
  private readonly known = new Map<string, LedgerEntry>();
  private readonly pending = new Map<string, LedgerEntry>();
  private readonly held = new Map<string, Release>();
  private readonly broker: BrokerOptions;
  private readonly ledger: PublishedLedger;
  private readonly backoff: Backoff;
  private readonly log: Logger;
  private client?: MqttClient;
  private connected = false;
  private draining?: Promise<void>;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private closed = false;
  private failures = 0;
  private counts = { published: 0, skipped: 0 };
  private readonly onChanged = (e: CoreEvents['release-changed'][0]) => this.changed(e.device, e.release);

  private constructor(private readonly o: MqttPublisherOptions) {
    this.broker = brokerOptions(o.settings);
    this.ledger = new PublishedLedger(o.ledgerDir);
    this.backoff = o.backoff ?? new Backoff();
    this.log = o.logger.child({ component: 'notify.mqtt' });
  }

  /**
   * Reads the ledger, queues what the broker has not acknowledged yet, subscribes to release
   * changes and starts connecting in the background. Throws only for bad settings (URL, files).
   */
  static async start(o: MqttPublisherOptions): Promise<MqttPublisher> {
    const p = new MqttPublisher(o);
    for (const [device, entry] of await p.ledger.load()) {
      const wanted: LedgerEntry = { ...entry, topic: notificationTopic(o.settings.topic, device), broker: p.broker.display };
      const same = entry.published && entry.topic === wanted.topic && entry.broker === wanted.broker;
      p.known.set(device, same ? entry : { ...wanted, published: false });
      if (!same) p.pending.set(device, p.known.get(device) as LedgerEntry);
    }
    o.events.on('release-changed', p.onChanged);
    p.log.info('MQTT notifications on', { broker: p.broker.display, topic: `${notificationTopic(o.settings.topic, '+')}`, pending: p.pending.size });
    p.connect();
    return p;
  }

  stats(): MqttPublisherStats {
    return { connected: this.connected, pending: this.pending.size, ...this.counts };
  }

  /** Resolves once nothing is pending (or after `timeoutMs`); true when nothing is pending. */
  async idle(timeoutMs = 5000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while ((this.pending.size > 0 || this.draining) && Date.now() < until) await Bun.sleep(20);
    await this.ledger.flush();
    return this.pending.size === 0;
  }

  /** Stops listening, gives pending notifications up to `graceMs` to be acknowledged, then disconnects. */
  async close(graceMs = 2000): Promise<void> {
    if (this.closed) return;
    this.o.events.off('release-changed', this.onChanged);
    if (this.connected && this.pending.size > 0) await this.idle(graceMs);
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    const wasConnected = this.connected;
    this.client = undefined;
    this.connected = false;
    if (client) {
      // A clean DISCONNECT when connected (bounded); a connection still being set up is just dropped.
      if (wasConnected) await settleWithin(client.endAsync(false), graceMs);
      client.end(true);
    }
    await this.ledger.flush();
    if (this.pending.size > 0) this.log.warn('MQTT notifications left unpublished; they are sent at the next start', { pending: this.pending.size });
  }

  /** Publishes the held notices whose hold is over (call when the fleet's rollouts change). */
  releaseHeld(): void {
    for (const [device, release] of [...this.held]) if (!this.o.hold?.(device, release)) this.changed(device, release);
  }

  private changed(device: string, release: Release): void {
    if (this.closed) return;
    this.held.delete(device);
    if (this.o.hold?.(device, release)) {
      this.held.set(device, release);
      this.log.debug('MQTT notification held: a staged rollout of this release is under 100 %', { device, version: release.version });
      return;
    }
    const entry: LedgerEntry = {
      topic: notificationTopic(this.o.settings.topic, device),
      payload: notificationPayload(release),
      broker: this.broker.display,
      published: false,
      at: new Date().toISOString(),
    };
    const known = this.known.get(device);
    if (known?.published && known.topic === entry.topic && known.payload === entry.payload && known.broker === entry.broker) {
      this.counts.skipped++;
      this.log.debug('MQTT notification unchanged, not published', { device, version: release.version });
      return;
    }
    this.known.set(device, entry);
    this.pending.set(device, entry);
    this.persist(device, entry);
    void this.drain();
  }

  private connect(): void {
    if (this.closed) return;
    const client = mqtt.connect(this.broker.client);
    this.client = client;
    let down = false;
    client.on('connect', () => {
      if (this.client !== client) return;
      this.connected = true;
      this.backoff.reset();
      this.log.info('connected to MQTT broker', { broker: this.broker.display, ...(this.failures ? { afterFailures: this.failures } : {}) });
      this.failures = 0;
      void this.drain();
    });
    client.on('error', (err) => {
      if (this.client !== client) return;
      this.noteFailure(err);
    });
    client.on('close', () => {
      if (this.client !== client || down) return;
      down = true;
      if (this.connected) this.log.warn('MQTT connection lost', { broker: this.broker.display });
      this.connected = false;
      client.removeAllListeners('connect');
      client.end(true);
      this.client = undefined;
      if (this.closed) return;
      const delay = this.backoff.next();
      this.log.debug('reconnecting to MQTT broker', { broker: this.broker.display, inMs: delay });
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
    });
  }

  /** Logs the first failure of a streak as a warning, later ones at debug (a broker down for hours is one warning). */
  private noteFailure(err: Error): void {
    this.failures++;
    const fields = { broker: this.broker.display, error: err.message, attempt: this.failures };
    if (this.failures === 1) this.log.warn('MQTT broker unreachable, retrying with backoff', fields);
    else this.log.debug('MQTT broker still unreachable', fields);
  }

  /** Publishes pending notifications one after another while connected; one loop at a time. */
  private drain(): Promise<void> {
    if (this.draining) return this.draining;
    if (!this.connected) return Promise.resolve();
    const run: Promise<void> = this.drainLoop().finally(() => {
      if (this.draining === run) this.draining = undefined;
    });
    this.draining = run;
    return run;
  }

  private async drainLoop(): Promise<void> {
    while (this.connected && this.client && this.pending.size > 0) {
      const [device, entry] = this.pending.entries().next().value as [string, LedgerEntry];
      const client = this.client;
      try {
        await publishAcknowledged(client, entry.topic, entry.payload, PUBACK_TIMEOUT_MS);
      } catch (err) {
        this.log.warn('MQTT publish failed, will retry after reconnecting', { device, topic: entry.topic, error: (err as Error).message });
        // A connection that fails a publish is not trusted: drop it, the close handler reconnects.
        if (this.client === client) client.stream?.destroy();
        return;
      }
      this.counts.published++;
      if (this.pending.get(device) === entry) this.pending.delete(device);
      if (this.known.get(device) === entry) {
        entry.published = true;
        this.persist(device, entry);
      }
      this.log.info('MQTT notification published', { device, topic: entry.topic, version: (JSON.parse(entry.payload) as { version: string }).version });
    }
  }

  private persist(device: string, entry: LedgerEntry): void {
    this.ledger.put(device, entry).catch((err: Error) => {
      this.log.warn('cannot record MQTT notification state; it may be published again after a restart', { device, error: err.message });
    });
  }
}

/** Waits for a promise, at most `ms`, leaving no timer behind (so it never holds the process open). */
async function settleWithin(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([p.catch(() => {}), new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); })]);
  clearTimeout(timer);
}

/** Publishes retained at QoS 1 and resolves on PUBACK; rejects on error or after `timeoutMs`. */
function publishAcknowledged(client: MqttClient, topic: string, payload: string, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no PUBACK within ${timeoutMs} ms`)), timeoutMs);
    client.publish(topic, payload, { qos: 1, retain: true }, (err) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    });
  });
}
