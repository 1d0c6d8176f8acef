/**
 * The transport's heartbeat: every couple of seconds (a third of the lease at most) it extends the
 * leases of every unsettled delivery this transport holds, and every ten seconds it records in the
 * connection's row that the connection is alive. Liveness is the advisory lock (`pg-reaper.ts`);
 * the beat only dates a connection's death (the idle time of a queue whose consumers died).
 *
 * @example
 * ```ts
 * const heartbeat = new Heartbeat(host);
 * heartbeat.start();
 * ```
 * @module
 */
import type pg from 'pg';
import type { Clock, Logger } from '@missive/core';
import type { Named, Statements } from './statements.js';

const HEARTBEAT_MS = 2000;
/** How often the connection's row records that it is alive (the idle time of a queue whose consumers died). */
const CONNECTION_BEAT_MS = 10_000;

/** What the heartbeat needs of the transport. */
export interface HeartbeatHost {
  readonly sql: Statements;
  readonly connectionId: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly leaseMs: number;
  run<R extends pg.QueryResultRow>(statement: Named | string, values: unknown[], lane?: 'main' | 'consume'): Promise<pg.QueryResult<R>>;
  /** The seqs of the deliveries this transport's consumers hold unsettled. */
  heldSeqs(): string[];
  /** Whether the link is up (while it is not, there is nothing to beat through: skipped, not queued). */
  isUp(): boolean;
}

/** The heartbeat timer. */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private lastBeat = 0;

  constructor(private readonly host: HeartbeatHost) {}

  /** Starts beating (the timer does not keep the process alive). */
  start(): void {
    this.timer = setInterval(() => this.beat(), Math.min(HEARTBEAT_MS, Math.floor(this.host.leaseMs / 3)));
    this.timer.unref();
  }

  /** Stops beating. */
  stop(): void {
    clearInterval(this.timer);
  }

  private beat(): void {
    if (!this.host.isUp()) return;
    const { sql, connectionId, logger } = this.host;
    const now = this.host.clock.now();
    if (now - this.lastBeat >= CONNECTION_BEAT_MS) {
      this.lastBeat = now;
      this.host
        .run(sql.connectionBeat, [connectionId, now])
        .catch((error: unknown) => logger.debug({ err: error }, 'postgres connection heartbeat failed'));
    }
    const held = this.host.heldSeqs();
    // Liveness is the advisory lock; the connection's beat only dates its death (a queue's idle time).
    if (held.length === 0) return;
    this.host
      .run(sql.extend, [now + this.host.leaseMs, held, connectionId], 'consume')
      .catch((error: unknown) => logger.warn({ err: error }, 'postgres lease extension failed'));
  }
}
