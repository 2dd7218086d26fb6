/**
 * What the broker holds: the retained notice of each stream under `{topic}/+`, read by a short-lived
 * client of its own. A process that starts to lead compares them with the releases it serves and
 * announces the ones the broker does not have yet (changes found while no process led, or whose
 * leader died before the broker acknowledged them).
 */
import mqtt from 'mqtt';
import semver from 'semver';
import type { Logger } from '../plugin.ts';
import type { MqttSettings } from '../config/settings.ts';
import type { Release } from '../core/release.ts';
import { brokerOptions } from '../notify/mqtt-options.ts';
import { notificationPayload, notificationTopic } from '../notify/mqtt-payload.ts';

/** Retained payloads by stream; resolves after `settleMs` without a new message (or `timeoutMs` in all). */
export async function readRetained(settings: MqttSettings, settleMs = 500, timeoutMs = 5000): Promise<Map<string, string>> {
  const { client: options } = brokerOptions(settings);
  const prefix = notificationTopic(settings.topic, '');
  const client = mqtt.connect({ ...options, clientId: `${options.clientId ?? 'otaflux'}-retained`, clean: true, reconnectPeriod: 0 });
  const found = new Map<string, string>();
  try {
    await new Promise<void>((resolve, reject) => {
      const giveUp = setTimeout(() => reject(new Error('the broker did not answer')), timeoutMs);
      let settle: ReturnType<typeof setTimeout> | undefined;
      const quiet = () => {
        clearTimeout(settle);
        settle = setTimeout(() => {
          clearTimeout(giveUp);
          resolve();
        }, settleMs);
      };
      client.on('error', (e) => {
        clearTimeout(giveUp);
        clearTimeout(settle);
        reject(e);
      });
      client.on('message', (topic, payload, packet) => {
        if (packet.retain && topic.startsWith(prefix)) found.set(topic.slice(prefix.length), payload.toString());
        quiet();
      });
      client.on('connect', () => client.subscribe(`${prefix}+`, { qos: 1 }, (e) => (e ? reject(e) : quiet())));
    });
  } finally {
    client.end(true);
  }
  return found;
}

/**
 * The releases to announce: those whose notice the broker does not hold, unless the broker holds a
 * newer version (this process has not seen that release yet, and announces it when it does).
 */
export function missingNotices(serving: Iterable<{ device: string; release?: Release }>, retained: Map<string, string>): { device: string; release: Release }[] {
  const out: { device: string; release: Release }[] = [];
  for (const { device, release } of serving) {
    if (!release) continue;
    const held = retained.get(device);
    if (held === notificationPayload(release)) continue;
    const heldVersion = held ? versionOf(held) : undefined;
    if (heldVersion && semver.valid(heldVersion) && semver.valid(release.version) && semver.gt(heldVersion, release.version)) continue;
    out.push({ device, release });
  }
  return out;
}

function versionOf(payload: string): string | undefined {
  try {
    const v = (JSON.parse(payload) as { version?: unknown }).version;
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Reads the broker's retained notices and announces, through `announce`, each release it lacks. */
export async function announceMissing(
  settings: MqttSettings,
  serving: () => Iterable<{ device: string; release?: Release }>,
  announce: (e: { device: string; release: Release }) => Promise<void>,
  log: Logger,
): Promise<void> {
  const missing = missingNotices(serving(), await readRetained(settings));
  for (const m of missing) {
    log.info('announcing a release the broker has no notice of (found while no process led)', { device: m.device, version: m.release.version });
    await announce(m);
  }
}
