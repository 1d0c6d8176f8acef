/**
 * Publishing and sending on the PostgreSQL transport. A topic is routed to every bound queue and
 * the copies inserted in one statement (one implicit transaction); `publish` resolves after the
 * commit. A message with a future `notBefore` goes to the `scheduled` table instead, and the due
 * timer is armed for it. The queues written are then notified (see `pg-notifier.ts`), or, with
 * commits asynchronous (`commit: 'async'`) and fewer than four other inserts of this transport
 * under way, the insert notifies them in the same statement, one round trip less (a `NOTIFY` in the writing
 * transaction holds PostgreSQL's notify lock through its commit, which then does not wait for the
 * disk), and this process's consumers are woken at once. Inserts beyond those (a burst) go the
 * first way, so their notifications are gathered: one per insert would wake every listener and
 * every consumer's claim once per message (traced: 2.3× the claims and 1.5× the consumer's CPU
 * per message in a window of 32).
 *
 * @example
 * ```ts
 * const publishing = new PostgresPublishing(host);
 * await publishing.publish('orders.placed', message);
 * ```
 * @module
 */
import type pg from 'pg';
import { UnroutableError, type Clock, type TransportMessage } from '@missive/core';
import type { EnqueueOptions } from '@missive/core/transport';
import type { Named, Statements } from './statements.js';

/** What publishing needs of the transport. */
export interface PublishingHost {
  readonly sql: Statements;
  readonly clock: Clock;
  run<R extends pg.QueryResultRow>(statement: Named | string, values: unknown[]): Promise<pg.QueryResult<R>>;
  /** Arms the due timer for a scheduled message due at `at`. */
  armDue(at: number): void;
  /** Tells every transport that `queue` has work ('' : the schedule changed). */
  notify(queue: string): void;
  /** Wakes this process's consumers of `queue` (the statement that wrote it notified the others). */
  wakeLocal(queue: string): void;
  /** Whether an insert with few others under way notifies in its own statement (commits asynchronous). */
  readonly notifyInStatement: boolean;
}

/**
 * With commits asynchronous, an insert notifies in its own statement while fewer than this many
 * others are under way: a moderate rate on a loaded machine overlaps a few; a burst overlaps many.
 */
const NOTIFY_IN_STATEMENT_BELOW = 4;

/** Publishes to topics and sends to queues. */
export class PostgresPublishing {
  /** Inserts into queues under way. */
  private inserting = 0;

  constructor(private readonly host: PublishingHost) {}

  /** Publishes to every queue bound to `topic`; with `mandatory`, throws `UnroutableError` when none is. */
  async publish(topic: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    const { sql } = this.host;
    const rows = await this.enqueue(topic, message, options, sql.publishLater, sql.publish, sql.publishNotifying);
    if (rows === 0 && options?.mandatory === true) throw new UnroutableError(topic);
  }

  /** Sends to one queue; throws `UnroutableError` when it does not exist. */
  async send(queue: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    const { sql } = this.host;
    const rows = await this.enqueue(queue, message, options, sql.sendLater, sql.send, sql.sendNotifying);
    if (rows === 0) throw new UnroutableError(queue, 'no such queue');
  }

  private async enqueue(
    target: string,
    message: TransportMessage,
    options: EnqueueOptions | undefined,
    later: Named,
    now: Named,
    nowNotifying: Named,
  ): Promise<number> {
    const body = Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength);
    const headers = JSON.stringify(message.headers);
    const key = message.partitionKey ?? null;
    const notBefore = options?.notBefore;
    if (notBefore !== undefined && notBefore > this.host.clock.now()) {
      const result = await this.host.run<{ queue: string }>(later, [
        target,
        notBefore,
        options?.scheduleId ?? null,
        message.id,
        message.type,
        body,
        headers,
        key,
      ]);
      this.host.armDue(notBefore);
      if (result.rows.length > 0) this.host.notify('');
      return result.rows.length;
    }
    const notifying = this.host.notifyInStatement && this.inserting < NOTIFY_IN_STATEMENT_BELOW;
    this.inserting++;
    let rows: { queue: string }[];
    try {
      ({ rows } = await this.host.run<{ queue: string }>(notifying ? nowNotifying : now, [
        target,
        message.id,
        message.type,
        body,
        headers,
        key,
      ]));
    } finally {
      this.inserting--;
    }
    if (notifying) for (const row of rows) this.host.wakeLocal(row.queue);
    else for (const row of rows) this.host.notify(row.queue);
    return rows.length;
  }
}
