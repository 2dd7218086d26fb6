/**
 * The bounds of the device listeners (HTTP and HTTPS), and the state they share: the connection
 * cap and the request-body budget are per process, not per listener. What one connection can hold
 * at most is listed in README.md (Operations → Bounds).
 */
import type { Logger } from '../plugin.ts';
import { BodyBudget } from './body-budget.ts';
import { ConnectionGate } from './connection-gate.ts';

export interface FrontDoorLimits {
  /** Bytes up to the end of a request head, empty lines before the request line included. */
  maxHeadBytes: number;
  /** A request head must arrive whole within this time (and then its body, within as long again). */
  headerTimeoutMs: number;
  /** Largest request body, on routes that take one. */
  maxBodyBytes: number;
  /** Body bytes buffered at once over all connections. */
  bodyBudgetBytes: number;
  /** Open connections over all device listeners. */
  maxConnections: number;
  /** Input a client may send ahead of the answers (pipelining) before its socket stops being read. */
  maxPipelinedBytes: number;
}

export const DEFAULT_LIMITS: FrontDoorLimits = {
  maxHeadBytes: 16 * 1024,
  headerTimeoutMs: 60_000,
  maxBodyBytes: 1024 * 1024,
  bodyBudgetBytes: 16 * 1024 * 1024,
  maxConnections: 10_000,
  maxPipelinedBytes: 16 * 1024,
};

/** What `/metrics` reads from the front door at scrape time. */
export interface FrontDoorStats {
  connectionsRefused: number;
  bodyBytesBuffered: number;
  bodiesRefused: number;
}

export class FrontDoor {
  readonly gate: ConnectionGate;
  readonly bodies: BodyBudget;

  constructor(readonly limits: FrontDoorLimits, logger: Logger) {
    this.gate = new ConnectionGate(limits.maxConnections, logger);
    this.bodies = new BodyBudget(limits.bodyBudgetBytes);
  }

  stats(): FrontDoorStats {
    return { connectionsRefused: this.gate.refused, bodyBytesBuffered: this.bodies.buffered, bodiesRefused: this.bodies.refused };
  }
}
