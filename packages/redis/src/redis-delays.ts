/**
 * The promotion of due delays: delayed and scheduled messages wait in a sorted set of due times
 * and a script moves the due ones into their queues (any connection may run it; the script makes
 * each move happen once). The transport promotes on a poll and, sooner, at the earliest due time
 * it knows of (`dueAt`): one timer, moved earlier when an earlier delay is written.
 *
 * @example
 * ```ts
 * const delays = new DelayPromoter(transport);
 * delays.dueAt(Date.now() + 5000); // promote no later than in 5 s
 * ```
 * @module
 */
import type { RedisConnection } from './redis-connection.js';

/** What the promoter runs through. */
export type DelayConnection = Pick<RedisConnection, 'open' | 'scripts' | 'keys' | 'clock' | 'logger'>;

/** How many due entries one script call moves at most. */
const BATCH = 200;

/** The due-delay promoter of one transport. */
export class DelayPromoter {
  private dueTimer: NodeJS.Timeout | undefined;
  private nextDue = Number.POSITIVE_INFINITY;
  private promoting = false;

  constructor(private readonly connection: DelayConnection) {}

  /** A delay is due at `at`: promote no later than then. */
  dueAt(at: number): void {
    if (!this.connection.open || at >= this.nextDue) return;
    clearTimeout(this.dueTimer);
    this.nextDue = at;
    this.dueTimer = setTimeout(
      () => {
        this.nextDue = Number.POSITIVE_INFINITY;
        void this.promote();
      },
      Math.max(0, at - this.connection.clock.now()) + 1,
    );
    this.dueTimer.unref();
  }

  /** Moves due delays into their queues; never rejects (a failure is logged and retried at the next poll). */
  async promote(): Promise<void> {
    const { connection } = this;
    if (this.promoting || !connection.open) return;
    this.promoting = true;
    try {
      for (;;) {
        const [moved, next] = (await connection.scripts.run('promote', [], [connection.keys.prefix, connection.clock.now(), BATCH])) as [
          number,
          string,
        ];
        if (Number(next) >= 0) this.dueAt(Number(next));
        if (moved < BATCH) break;
      }
    } catch (error) {
      if (connection.open) connection.logger.warn({ err: error }, 'redis transport could not promote due delays; retrying');
    } finally {
      this.promoting = false;
    }
  }

  /** Stops the timer (the transport is closing). */
  stop(): void {
    clearTimeout(this.dueTimer);
  }
}
