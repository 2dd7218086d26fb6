/**
 * The request log: one info line per answered request, with the device id, status, body bytes and
 * time taken. Only the route template is logged (never the query string, which may carry a device
 * token), and never a header.
 */
import type { Logger } from '../plugin.ts';
import type { CoreEventBus, HttpRequestDone } from '../core/events.ts';

/** Starts logging requests; returns a function that stops it. */
export function logRequests(events: CoreEventBus, logger: Logger, routeOf: (path: string) => string = (p) => p): () => void {
  const onRequest = (e: HttpRequestDone) => {
    // Plain assignments, no spreads: this runs for every request.
    const line: Record<string, unknown> = { method: e.method, route: routeOf(e.route), status: e.status, bytes: e.bytes, ms: Math.round(e.durationMs * 100) / 100 };
    if (e.device) line.device = e.device;
    line.remote = e.remoteAddress;
    if (e.errorCode) line.error = e.errorCode;
    logger.info('request', line);
  };
  events.on('http-request', onRequest);
  return () => events.off('http-request', onRequest);
}
