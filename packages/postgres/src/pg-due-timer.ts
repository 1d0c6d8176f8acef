/**
 * The transport's timer for the next due time: a scheduled message (`notBefore`) or a message
 * nacked with a delay. When it fires, due scheduled messages are moved into their queues (by
 * whichever transport looks first: `DELETE … SKIP LOCKED` then `INSERT`, one statement), every
 * consumer is woken, and the timer is armed again for the next due time the database holds.
 *
 * @example
 * ```ts
 * const due = new DueTimer(host);
 * due.arm(Date.now() + 5000);
 * ```
 * @module
 */
import type pg from 'pg';
import type { Clock, Logger } from '@missive/core';
import type { Named, Statements } from './statements.js';

/** What the timer needs of the transport. */
export interface DueTimerHost {
  readonly sql: Statements;
  readonly clock: Clock;
  readonly logger: Logger;
  isOpen(): boolean;
  run<R extends pg.QueryResultRow>(statement: Named | string, values: unknown[]): Promise<pg.QueryResult<R>>;
  /** Tells every transport that `queue` has work. */
  notify(queue: string): void;
  /** Wakes every consumer of this transport. */
  wakeAll(): void;
}

/** The due timer of one transport. */
export class DueTimer {
  private timer: NodeJS.Timeout | undefined;
  private at = Number.POSITIVE_INFINITY;

  constructor(private readonly host: DueTimerHost) {}

  /** Moves due scheduled messages into their queues and notifies those queues. */
  async promote(): Promise<void> {
    const { rows } = await this.host.run<{ queue: string }>(this.host.sql.promote, [this.host.clock.now()]);
    for (const row of rows) this.host.notify(row.queue);
  }

  /** Arms the timer for the next due time the database holds. */
  async armFromDatabase(): Promise<void> {
    const { rows } = await this.host.run<{ t: string | null }>(this.host.sql.nextDue, [this.host.clock.now()]);
    if (rows[0]?.t != null) this.arm(Number(rows[0].t));
  }

  /** Someone scheduled something: forget the armed time and look again. */
  rearm(): void {
    this.at = Number.POSITIVE_INFINITY;
    void this.armFromDatabase().catch(() => undefined);
  }

  /** Arms the timer for a message due at `at` (keeps an earlier one). */
  arm(at: number): void {
    if (!this.host.isOpen() || at >= this.at) return;
    clearTimeout(this.timer);
    this.at = at;
    this.timer = setTimeout(
      () => {
        this.at = Number.POSITIVE_INFINITY;
        void this.promote()
          .catch((error: unknown) => this.host.logger.warn({ err: error }, 'postgres transport could not move due messages'))
          .then(() => {
            this.host.wakeAll();
            return this.armFromDatabase();
          })
          .catch(() => undefined);
      },
      Math.max(0, at - this.host.clock.now()) + 1,
    );
    this.timer.unref();
  }

  close(): void {
    clearTimeout(this.timer);
  }
}
