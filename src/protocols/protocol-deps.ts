/**
 * What the device protocols (Arduino HTTPUpdate, ESP-IDF, RAUC) need besides the device API's
 * services: digests of releases, the newest release of a stream without a check-in (an Arduino
 * filesystem image), the fleet for downloads read in pieces, and the protocols' settings.
 */
import type { DeviceCall } from '../core/device-request.ts';
import type { Release } from '../core/release.ts';
import type { DeviceApiDeps } from '../http/device-api.ts';
import type { Runtime } from '../runtime.ts';
import { deviceRef } from '../core/composition.ts';
import { ofDevice } from '../core/errors.ts';
import { validateDeviceId } from '../core/device-id.ts';
import { deriveInstance } from '../fleet/instance.ts';
import type { ArduinoSettings } from './arduino/config.ts';
import type { RaucSettings } from './rauc/config.ts';
import { releaseDigests, type ReleaseDigests } from './image-digests.ts';
import { RaucSessions } from './rauc/sessions.ts';

export interface ProtocolDeps extends DeviceApiDeps {
  digests: ReleaseDigests;
  /**
   * What the device service would answer (auth, rollout decision, check-in), with the instance the
   * fleet counted it under: for front doors that report the download's end themselves.
   */
  offer(call: DeviceCall): Promise<{ release: Release; instance: string }>;
  /** The stream's newest verified release as the source has it (no auth, no check-in); undefined when it has none. */
  newest(stream: string): Promise<Release | undefined>;
  /** Tells the fleet an image read in pieces reached an instance whole (absent without fleet control). */
  downloadCompleted?(instance: string, stream: string, version: string, bootId: string | undefined, address: string, protocol: string): void;
  arduino?: ArduinoSettings;
  rauc: RaucSessions;
  /** `protocols.rauc`: the manifest endpoints answer (absent: they are 404). */
  raucManifest?: RaucSettings;
}

/** The protocols' dependencies from the running core. */
export function protocolDeps(rt: Runtime): ProtocolDeps {
  const { settings, resolver, devices, fleet } = rt;
  return {
    devices, bodies: rt.bodies, events: rt.events, logger: rt.logger,
    digests: releaseDigests(rt.bodies),
    async newest(stream) {
      let id: string;
      try {
        id = validateDeviceId(stream, settings.repositoryPrefix);
      } catch {
        return undefined;
      }
      const comp = settings.composer.for(id);
      return comp ? resolver.current(deviceRef(id, comp), comp) : undefined;
    },
    async offer(call) {
      try {
        const a = await devices.admit(call);
        const newest = await resolver.current(deviceRef(a.deviceId, a.composition), a.composition);
        const release = fleet ? await fleet.choose(a.deviceId, a.composition, newest, call, a.identity) : newest;
        return { release, instance: deriveInstance(a.identity ? { ...call, identity: a.identity } : call).id };
      } catch (e) {
        throw ofDevice(e, call.deviceId);
      }
    },
    ...(fleet ? { downloadCompleted: (instance, stream, version, bootId, address, protocol) => fleet.downloadCompleted(instance, stream, version, bootId, address, protocol) } : {}),
    ...(settings.arduino ? { arduino: settings.arduino } : {}),
    ...(settings.rauc ? { raucManifest: settings.rauc } : {}),
    rauc: new RaucSessions(),
  };
}
