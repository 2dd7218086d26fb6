/**
 * MQTT notices from the leader only: the publisher runs while this process leads and is closed when
 * it stops leading, so one notice goes out per change however many workers and replicas run.
 */
import type { Logger } from '../plugin.ts';
import type { MqttPublisher } from '../notify/mqtt-publisher.ts';
import type { Leadership } from './leadership.ts';

export class LeaderNotices {
  private publisher?: MqttPublisher;
  private turn: Promise<void> = Promise.resolve();
  private closed = false;

  /**
   * `onLead`: run in the background each time a publisher starts here (replicas: announce what the
   * broker was not told of while no process led).
   */
  constructor(
    private readonly leadership: Leadership,
    private readonly start: () => Promise<MqttPublisher>,
    private readonly log: Logger,
    private readonly onLead?: () => Promise<void>,
  ) {}

  /** Starts the publisher now when this process leads, and follows leadership from then on. */
  async begin(): Promise<void> {
    // At start a failure (bad settings) stops the start, as without workers or replicas.
    if (this.leadership.leads()) this.started(await this.start());
    this.leadership.onChange((leads) => void this.follow(leads));
  }

  private started(p: MqttPublisher): void {
    this.publisher = p;
    void this.onLead?.().catch((e: unknown) => this.log.warn('MQTT notices: catching up after taking the lead failed', { error: e instanceof Error ? e.message : String(e) }));
  }

  get current(): MqttPublisher | undefined {
    return this.publisher;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.turn;
    await this.publisher?.close();
    this.publisher = undefined;
  }

  private follow(leads: boolean): Promise<void> {
    this.turn = this.turn.then(async () => {
      if (this.closed) return;
      if (leads && !this.publisher) {
        this.started(await this.start());
      } else if (!leads && this.publisher) {
        const p = this.publisher;
        this.publisher = undefined;
        this.log.info('MQTT notices stop here: another process leads');
        await p.close(500);
      }
    }).catch((e: unknown) => this.log.error('MQTT notices could not follow leadership', { error: e instanceof Error ? e.message : String(e) }));
    return this.turn;
  }
}
