/**
 * Connection accounting for the device listeners: one cap on open connections shared by the HTTP
 * and HTTPS listeners. A connection over the cap is closed as soon as it is accepted, before any
 * byte of it is read; refusals are counted (for `/metrics`) and logged at most once per interval,
 * with how many were refused since the last line, so a flood does not flood the log too.
 */
import type { Logger } from '../plugin.ts';

export class ConnectionGate {
  private openCount = 0;
  private refusedCount = 0;
  private refusedSinceLog = 0;
  private loggedAt = -Infinity;

  constructor(
    readonly maxConnections: number,
    private readonly logger: Logger,
    /** Least time between two "connections refused" log lines. */
    private readonly logIntervalMs = 60_000,
  ) {}

  /** Counts a new connection in; false when the cap is reached (the caller closes it at once). */
  admit(): boolean {
    if (this.openCount >= this.maxConnections) {
      this.refusedCount++;
      this.refusedSinceLog++;
      const now = Date.now();
      if (now - this.loggedAt >= this.logIntervalMs) {
        this.loggedAt = now;
        this.logger.warn('connections refused: the open-connection cap is reached (server.maxConnections / --max-connections)', {
          maxConnections: this.maxConnections,
          refused: this.refusedSinceLog,
        });
        this.refusedSinceLog = 0;
      }
      return false;
    }
    this.openCount++;
    return true;
  }

  /** Counts an admitted connection out. */
  leave(): void {
    this.openCount--;
  }

  get open(): number {
    return this.openCount;
  }

  /** Connections refused since start. */
  get refused(): number {
    return this.refusedCount;
  }
}
