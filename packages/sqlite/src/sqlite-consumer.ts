/**
 * A consumer of one queue on a SQLite connection, and its deliveries. The connection's pump fills
 * the consumer up to its prefetch; the iterator yields in fetch order; settling frees a slot and
 * wakes the pump. Each delivery carries the lease token it was fetched with: settling with a lost
 * lease is a logged no-op, never a settle of another process's copy.
 *
 * @example
 * ```ts
 * const consumer = transport.consume('billing', { prefetch: 10 });
 * for await (const delivery of consumer) await delivery.ack();
 * ```
 * @module
 */
import type { DeadLetterFailure, TransportMessage } from '@missive/core';
import { BufferedConsumer, SettleOnceDelivery, readMessageRow, type NackOptions } from '@missive/core/transport';
import type { SqliteLink } from './sqlite-link.js';

/** A leased row as the pump fetched it. */
export interface FetchedRow {
  seq: number;
  id: string;
  type: string;
  body: Buffer;
  headers: string;
  partition_key: string | null;
  delivery_count: number;
  token: string;
}

class SqliteDelivery extends SettleOnceDelivery {
  readonly message: TransportMessage;
  readonly deliveryCount: number;
  readonly unreadable: string | undefined;

  constructor(
    private readonly consumer: SqliteConsumer,
    private readonly row: FetchedRow,
  ) {
    super(consumer);
    const { message, unreadable } = readMessageRow(row);
    this.message = message;
    this.unreadable = unreadable;
    this.deliveryCount = row.delivery_count;
  }

  protected async onAck(): Promise<void> {
    await this.consumer.link.ack(this.row.seq, this.row.token);
  }

  protected async onNack(options: NackOptions): Promise<void> {
    await this.consumer.link.settle('nack', this.row.seq, this.row.token, { delayMs: options.delayMs, headers: options.headers });
  }

  protected async onDeadLetter(failure: DeadLetterFailure): Promise<void> {
    await this.consumer.link.settle('dead', this.row.seq, this.row.token, { failure });
  }

  /** Returns the message un-yielded (`undo` the delivery count) or after a lost connection. */
  giveBack(undo: boolean): void {
    if (!this.settleOnce()) return;
    void this.consumer.link.settle(undo ? 'release' : 'nack', this.row.seq, this.row.token).catch(() => undefined);
  }
}

/** The consumer. */
export class SqliteConsumer extends BufferedConsumer<SqliteDelivery> {
  /** `onDetach` is called once the consumer stopped (the connection then forgets it). */
  constructor(
    readonly link: SqliteLink,
    readonly queue: string,
    prefetch: number,
    private readonly onDetach: () => void,
  ) {
    super('sqlite', prefetch);
  }

  /**
   * Whether a fetch is worth its write transaction: when half the prefetch is free, or when the
   * reader has nothing left to read (so a trickle of messages is not delayed). Refilling one slot
   * per ack would cost a commit (an fsync with synchronous=full) per message.
   */
  wantsFetch(): boolean {
    const room = this.room();
    return room > 0 && (room * 2 >= this.prefetch || this.buffer.unread === 0);
  }

  /** Takes fetched rows. */
  push(rows: readonly FetchedRow[]): void {
    for (const row of rows) this.offer(new SqliteDelivery(this, row));
  }

  protected detach(): void {
    this.onDetach();
  }

  protected giveBack(delivery: SqliteDelivery, unread: boolean): void {
    delivery.giveBack(unread);
  }
}
