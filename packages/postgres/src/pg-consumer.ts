/**
 * A consumer of one queue on the PostgreSQL transport, and its deliveries. A wake-up (a
 * notification for the queue, the due timer, the poll) makes the consumer claim up to its free
 * prefetch in one statement; the iterator yields in claim order; settling frees a slot and wakes
 * it again. Each delivery carries the lease token it was claimed with: settling with a lost lease
 * is a logged no-op, never a settle of another instance's copy.
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
import type { Logger } from '@missive/core';

/** A leased row as a claim returns it (`seq` is a bigint, as text). */
export interface ClaimedRow {
  seq: string;
  id: string;
  type: string;
  body: Buffer;
  headers: string;
  partition_key: string | null;
  delivery_count: number;
  lease_token: string;
}

/** What a consumer and its deliveries need from their transport (`PostgresTransport` is one). */
export interface ConsumerConnection {
  readonly logger: Logger;
  /** Leases up to `room` claimable messages of `queue` to this connection. */
  claim(queue: string, room: number): Promise<ClaimedRow[]>;
  /** Removes a leased message (batched); false when the lease was lost. */
  ack(seq: string, token: string): Promise<boolean>;
  /** Returns (`nack`, `release`: un-yielded) or dead-letters a leased message; false when the lease was lost. */
  settle(
    kind: 'nack' | 'release' | 'dead',
    seq: string,
    token: string,
    extra?: { delayMs?: number; headers?: Readonly<Record<string, string>>; failure?: unknown },
  ): Promise<boolean>;
  /** The consumer closed: stop waking it. */
  forget(consumer: PostgresConsumer): void;
}

class PostgresDelivery extends SettleOnceDelivery {
  readonly message: TransportMessage;
  readonly deliveryCount: number;
  /** Why the row could not be read (headers that are not a JSON object of strings): the bus dead-letters it with `DECODE`. */
  readonly unreadable: string | undefined;

  constructor(
    private readonly consumer: PostgresConsumer,
    readonly row: ClaimedRow,
  ) {
    super(consumer);
    const { message, unreadable } = readMessageRow(row);
    this.message = message;
    this.unreadable = unreadable;
    this.deliveryCount = row.delivery_count;
  }

  protected async onAck(): Promise<void> {
    await this.consumer.transport.ack(this.row.seq, this.row.lease_token);
  }

  protected async onNack(options: NackOptions): Promise<void> {
    await this.consumer.transport.settle('nack', this.row.seq, this.row.lease_token, {
      delayMs: options.delayMs,
      headers: options.headers,
    });
  }

  protected async onDeadLetter(failure: DeadLetterFailure): Promise<void> {
    await this.consumer.transport.settle('dead', this.row.seq, this.row.lease_token, { failure });
  }

  /** Returns the message without counting this delivery: no handler started (see `Delivery.release`). */
  async release(): Promise<void> {
    if (this.settleOnce()) await this.consumer.transport.settle('release', this.row.seq, this.row.lease_token);
  }

  /** Returns the message un-yielded (`undo` the delivery count) or after a lost connection. */
  giveBack(undo: boolean): Promise<void> | undefined {
    if (!this.settleOnce()) return undefined;
    return this.consumer.transport.settle(undo ? 'release' : 'nack', this.row.seq, this.row.lease_token).then(
      () => undefined,
      () => undefined,
    );
  }
}

/** The consumer. */
export class PostgresConsumer extends BufferedConsumer<PostgresDelivery> {
  private readonly held = new Set<PostgresDelivery>();
  private readonly givingBack = new Set<Promise<void>>();
  private fetching = false;
  private fetch: Promise<void> = Promise.resolve();
  private again = false;
  private started = false;
  /** The last claim found fewer rows than it asked for, and nothing said there is more since. */
  private drained = false;
  private retryTimer: NodeJS.Timeout | undefined;
  ready: Promise<void> = Promise.resolve();

  constructor(
    readonly transport: ConsumerConnection,
    readonly queue: string,
    prefetch: number,
  ) {
    super('postgres', prefetch);
  }

  /** @internal Starts claiming once `check` (the queue exists) passes; `ready` follows it. */
  start(check: Promise<void>): void {
    this.ready = check.then(() => {
      this.started = true;
      this.signal();
    });
    this.ready.catch(() => this.closeNow());
  }

  /** Whether a claim is worth a round trip: half the prefetch is free, or the reader has nothing left. */
  private wantsFetch(): boolean {
    const room = this.room();
    return room > 0 && (room * 2 >= this.prefetch || this.buffer.unread === 0);
  }

  /** There may be new messages (a notification, the poll, a due time): claim what fits. */
  signal(): void {
    this.drained = false;
    this.wake();
  }

  /**
   * Claims what fits, now or right after the claim under way, unless the last claim found the queue
   * drained and no signal came since (a settle alone does not make a claim worth its round trip).
   */
  private wake(): void {
    if (!this.started || this.closed) return;
    if (this.fetching) {
      if (!this.drained) this.again = true;
      return;
    }
    if (this.drained) return;
    this.fetching = true;
    this.fetch = this.fetchLoop();
  }

  private async fetchLoop(): Promise<void> {
    try {
      do {
        this.again = false;
        while (this.wantsFetch()) {
          const room = this.room();
          const rows = await this.transport.claim(this.queue, room);
          for (const row of rows) {
            const delivery = new PostgresDelivery(this, row);
            this.held.add(delivery);
            this.offer(delivery);
          }
          if (rows.length < room) {
            this.drained = true;
            break;
          }
        }
      } while (this.again && !this.closed);
    } catch (error) {
      if (!this.closed) {
        this.transport.logger.warn({ err: error, queue: this.queue }, 'postgres claim failed; trying again');
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.signal(), 100 + Math.random() * 200);
        this.retryTimer.unref();
      }
    } finally {
      this.fetching = false;
    }
  }

  /** Seqs of the deliveries held (claimed, not settled), for lease extension. */
  heldSeqs(): string[] {
    return [...this.held].map((d) => d.row.seq);
  }

  override settled(delivery: PostgresDelivery): void {
    this.held.delete(delivery);
    super.settled(delivery);
    this.wake();
  }

  /**
   * Resolves when the claim under way ended and every hand-back reached the database (the
   * transport waits for it before closing: rows claimed as it closes go back at once).
   */
  async handedBack(): Promise<void> {
    await this.fetch;
    await Promise.all([...this.givingBack]);
  }

  protected detach(): void {
    clearTimeout(this.retryTimer);
    this.transport.forget(this);
  }

  protected giveBack(delivery: PostgresDelivery, unread: boolean): void {
    const done = delivery.giveBack(unread);
    if (done === undefined) return;
    this.givingBack.add(done);
    void done.then(() => this.givingBack.delete(done));
  }
}
