/**
 * The outbox and inbox inside a transaction the application opened itself: with plain `pg`, or
 * through Drizzle, Kysely or Prisma. The business write, the handled mark and the outgoing
 * messages go through the application's own connection, so they commit or roll back together;
 * the relay (core's, started with the bus) publishes the committed messages afterwards.
 *
 * The only thing asked of the application's transaction is a {@link SqlExecutor}: a `query(text,
 * values)` that runs parameterised SQL on the transaction's connection and reports the rows it
 * changed. A `pg` `Client` or `PoolClient` is one as it is; the package README shows the
 * one-line adapters for Drizzle, Kysely (both tested, `pg-outbox-orm.integration.test.ts`) and
 * Prisma (untested here). Every value is sent as text (bodies as
 * base64), so any driver can bind them.
 *
 * @example
 * ```ts
 * const outbox = new PostgresOutbox(bus, store);
 * const client = await pool.connect();
 * await client.query('begin');
 * await client.query('insert into orders (id) values ($1)', ['o-1']);
 * await outbox.publish(client, OrderPlaced, { orderId: 'o-1', total: 30 });
 * await client.query('commit');
 * outbox.kick(); // publish now instead of at the relay's next poll
 *
 * bus.endpoint('payment', (e) => e.on(ChargeCard, async (cmd, ctx) => {
 *   await withTransaction(pool, async (client) => {
 *     if (!(await outbox.markHandled(client, ctx))) return; // a redelivery: already done
 *     await client.query('insert into charges (order_id) values ($1)', [cmd.orderId]);
 *     await outbox.publish(client, PaymentCaptured, { orderId: cmd.orderId }, ctx);
 *   });
 * }));
 * ```
 * @module
 */
import type {
  Bus,
  CommandContract,
  EventContract,
  MessageContext,
  Outbox,
  OutboxOptions,
  PayloadInput,
  PublishOptions,
  SendOptions,
} from '@missive/core';
import { outboxValues, type PgTx, type PostgresMessageStore } from './pg-message-store.js';

/** Runs parameterised SQL (`$1`, `$2` …) in the application's open transaction. */
export interface SqlExecutor {
  query(text: string, values: unknown[]): Promise<{ readonly rowCount: number | null }>;
}

/** The outbox of a {@link PostgresMessageStore}, usable inside the application's own transactions. */
export class PostgresOutbox {
  /** Core's outbox on the same store (its relay starts and stops with the bus). */
  readonly outbox: Outbox<PgTx>;

  constructor(
    bus: Bus,
    readonly store: PostgresMessageStore,
    options?: OutboxOptions,
  ) {
    this.outbox = bus.outbox(store, options);
  }

  /**
   * Appends an event to the outbox in the application's transaction on `db`. It is published after
   * that transaction commits (at the relay's next run; {@link kick} runs it now), never if it rolls
   * back. Pass the handler's `ctx` as `parent` to carry correlation and causation.
   */
  async publish<C extends EventContract>(
    db: SqlExecutor,
    contract: C,
    payload: PayloadInput<C>,
    options?: PublishOptions,
    parent?: MessageContext,
  ): Promise<void> {
    await this.append(db, this.outbox.record(contract, payload, options, parent));
  }

  /** Appends a command to the outbox in the application's transaction on `db`; see {@link publish}. */
  async send<C extends CommandContract>(
    db: SqlExecutor,
    contract: C,
    payload: PayloadInput<C>,
    options?: SendOptions,
    parent?: MessageContext,
  ): Promise<void> {
    await this.append(db, this.outbox.record(contract, payload, options, parent));
  }

  /**
   * Records, in the application's transaction on `db`, that the endpoint of `ctx` handled its
   * message. Resolves false when it already had (a redelivery): do nothing more in that
   * transaction. If the transaction rolls back the mark goes with it and the redelivery runs
   * again. (Two concurrent deliveries of one message: the second waits on the first's row lock
   * and then sees it, so one of them does the work.)
   */
  async markHandled(db: SqlExecutor, ctx: MessageContext): Promise<boolean> {
    await this.store.init();
    const result = await db.query(this.store.inboxInsertSql, [ctx.endpoint, ctx.messageId, String(this.outbox.now())]);
    return (result.rowCount ?? 0) > 0;
  }

  /** Runs the relay now (call it after your commit for the lowest latency). */
  kick(): void {
    this.outbox.kick();
  }

  private async append(db: SqlExecutor, record: Parameters<typeof outboxValues>[0]): Promise<void> {
    await this.store.init();
    await db.query(this.store.outboxInsertSql, outboxValues(record));
  }
}
