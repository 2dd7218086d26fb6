/**
 * DownloadsInFlight counts firmware responses being sent, from the core's events, whatever
 * listener sends them: a download starts when `/firmware` found the device's release
 * (`device-seen`, route `firmware`) and ends when that request is reported answered
 * (`http-request`, route `/firmware` or a hawkBit DDI artifact, same device). It feeds the `otaflux_downloads_in_flight` gauge.
 * A listener must report a download cut short too (an `http-request` event), else it stays counted.
 */
import type { CoreEventBus, CoreEvents, HttpRequestDone } from '../core/events.ts';

export class DownloadsInFlight {
  private readonly byDevice = new Map<string, number>();
  private total = 0;
  private readonly detach: () => void;

  constructor(events: CoreEventBus) {
    const onSeen = (e: CoreEvents['device-seen'][0]) => {
      if (e.route !== 'firmware') return;
      this.byDevice.set(e.device, (this.byDevice.get(e.device) ?? 0) + 1);
      this.total++;
    };
    const onDone = (e: HttpRequestDone) => {
      if ((e.route !== '/firmware' && e.protocol !== 'ddi') || !e.device) return;
      const n = this.byDevice.get(e.device) ?? 0;
      if (n === 0) return;
      if (n === 1) this.byDevice.delete(e.device);
      else this.byDevice.set(e.device, n - 1);
      this.total--;
    };
    events.on('device-seen', onSeen);
    events.on('http-request', onDone);
    this.detach = () => {
      events.off('device-seen', onSeen);
      events.off('http-request', onDone);
    };
  }

  /** Firmware downloads being sent now. */
  count(): number {
    return this.total;
  }

  close(): void {
    this.detach();
  }
}
