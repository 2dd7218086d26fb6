/**
 * Request bodies: which routes take one, and one budget of buffered body bytes shared by every
 * connection of every listener, so that many clients sending bodies at once cannot exhaust memory.
 *
 * The device routes and probes take no body (they answer from the query and headers alone): a
 * request to them that declares one is refused with 413 before a byte of it is read. Other routes
 * (the Harbor webhook, the operator API) get their body buffered whole, up to `maxBodyBytes` each,
 * while the sum of the bodies being received or answered stays under the budget: the bytes are
 * reserved when the head declares them and given back when the answer is written. A request that
 * does not fit gets 503 with Retry-After.
 */

/** Routes that never take a request body, whatever the method. */
const BODILESS_PATHS = new Set(['/version', '/firmware', '/health', '/ready']);

/** Whether a request to this route may carry a body: never for GET and HEAD, never on a device route or probe. */
export function routeTakesBody(method: string, path: string): boolean {
  return method !== 'GET' && method !== 'HEAD' && !BODILESS_PATHS.has(path);
}

export class BodyBudget {
  private used = 0;
  private refusedCount = 0;

  constructor(readonly capacity: number) {}

  /** Reserves `bytes`; false (and counted as refused) when the budget cannot hold them now. */
  reserve(bytes: number): boolean {
    if (this.used + bytes > this.capacity) {
      this.refusedCount++;
      return false;
    }
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }

  /** Body bytes reserved right now. */
  get buffered(): number {
    return this.used;
  }

  /** Requests refused for want of budget since start. */
  get refused(): number {
    return this.refusedCount;
  }
}
