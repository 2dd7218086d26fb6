/**
 * The one place a device's request is made: a front door (the native API, DDI, Arduino, RAUC) hands
 * over what it parsed and the device id as the protocol names it; the id is validated here, and
 * from then on the core, the fleet and the authenticators see the same object, the contract's
 * `DeviceRequest`, with what the call is for beside it.
 */
import type { DeviceRequest } from '../plugin.ts';
import { validateDeviceId } from './device-id.ts';
import { MissingDevice } from './errors.ts';
import type { QuerySource } from './query-param.ts';

/** What a front door parsed from a device's request, before its device id is known to be valid. */
export type RequestFacts = Omit<DeviceRequest, 'deviceId' | 'rateLimited'>;

/** Request facts whose path the listener may not give: the call's route then stands in (`/version`, `/firmware`). */
export type FactsMaybeWithoutPath = Omit<RequestFacts, 'path'> & Partial<Pick<QuerySource, 'rawQuery' | 'parsedQuery'>> & { path?: string };

/** What a device call is for, besides the request itself (for the fleet's check-ins). */
export interface CallPurpose {
  /** The device route asked: `version` (a poll, a check-in) or `firmware` (a download). */
  route: 'version' | 'firmware';
  /** The client protocol that asked (`arduino`, `rauc`, `esp-idf`), for check-ins; absent: the native API. */
  protocol?: string;
  /**
   * How the end of a download is known: from the `/firmware` answer that reaches the last byte
   * (default), or `pieces`: the front door reports it (`FleetService.downloadCompleted`) once every
   * byte was read, over however many Range requests (RAUC streaming).
   */
  download?: 'response' | 'pieces';
  /** The client reports how an update ended itself (DDI feedback): its polls never infer it verified. */
  reportsResult?: boolean;
}

/** A device's request with its validated id, as the core takes it: the contract's shape and its purpose. */
export type DeviceCall = DeviceRequest & CallPurpose & Partial<Pick<QuerySource, 'rawQuery' | 'parsedQuery'>>;

const ROUTE_PATHS = { version: '/version', firmware: '/firmware' } as const;

/**
 * The request of `device` (as the protocol gave it: a query parameter, a controller id mapped to a
 * stream), its id validated: throws `MissingDevice` (no id) or `InvalidDevice` (400) otherwise.
 * `known`: the id passed validation before (the device service remembers such ids), skip it.
 * A query given raw and not parsed yet stays so until something reads `query` (query-param.ts).
 */
export function deviceCall(device: string | null | undefined, facts: FactsMaybeWithoutPath, purpose: CallPurpose, repositoryPrefix: string, known = false): DeviceCall {
  if (!device) throw new MissingDevice();
  const deviceId = known ? device : validateDeviceId(device, repositoryPrefix);
  const path = facts.path ?? ROUTE_PATHS[purpose.route];
  const call: DeviceCall = facts.rawQuery !== undefined && facts.parsedQuery === undefined
    ? {
        deviceId, method: facts.method, path, headers: facts.headers, remoteAddress: facts.remoteAddress, route: purpose.route,
        rawQuery: facts.rawQuery, parsedQuery: undefined, get query() { return (this.parsedQuery ??= new URLSearchParams(this.rawQuery)); },
      }
    : { deviceId, method: facts.method, path, headers: facts.headers, query: facts.query, remoteAddress: facts.remoteAddress, route: purpose.route };
  if (facts.peerCertificate) call.peerCertificate = facts.peerCertificate;
  if (purpose.protocol) call.protocol = purpose.protocol;
  if (purpose.download) call.download = purpose.download;
  if (purpose.reportsResult) call.reportsResult = true;
  return call;
}
