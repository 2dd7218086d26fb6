/**
 * Which client protocol a `/firmware` request speaks, from its headers only (never on the `/version`
 * path): Arduino HTTPUpdate by its fixed User-Agent, RAUC by its first range or `RAUC-*` headers (or
 * an open session), ESP-IDF's `esp_http_client` by its default User-Agent. Everything else is the
 * native API.
 */
import type { DeviceReply, FrontDoorRequest } from '../http/device-api.ts';
import { arduinoClient, arduinoFirmware } from './arduino/firmware.ts';
import { raucFirmware } from './rauc/firmware.ts';
import type { ProtocolDeps } from './protocol-deps.ts';

/** `esp_http_client`'s default User-Agent (esp_https_ota uses it unless the app sets another). */
export const ESP_IDF_USER_AGENT = 'ESP32 HTTP Client/1.0';

/**
 * The answer of a protocol front door to a `/firmware` request (`target`: its path and query), or
 * undefined when the native route answers it.
 */
export function protocolFirmware(req: FrontDoorRequest, target: string, deps: ProtocolDeps): Promise<DeviceReply> | undefined {
  const arduino = arduinoClient(req.headers);
  if (arduino) return arduinoFirmware(req, arduino, deps);
  return raucFirmware(req, target, deps);
}

/** The protocol label of a request the native route answers: `esp-idf` or `native`. */
export function nativeProtocol(headers: Readonly<Record<string, string | undefined>>): string {
  return headers['user-agent'] === ESP_IDF_USER_AGENT ? 'esp-idf' : 'native';
}
