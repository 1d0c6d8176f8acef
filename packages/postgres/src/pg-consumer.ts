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
import { DeliveryBuffer, type Consumer, type DeadLetterFailure, type Delivery, type TransportMessage } from '@missive/core';
import type { PostgresTransport } from './pg-transport.js';

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

class PostgresDelivery implements Delivery {
  readonly message: TransportMessage;
  readonly deliveryCount: number;
  settled = false;

  constructor(
    private readonly consumer: PostgresConsumer,
    readonly row: ClaimedRow,
  ) {
    this.message = {
      id: row.id,
      type: row.type,
      body: new Uint8Array(row.body.buffer, row.body.byteOffset, row.body.byteLength),
      headers: JSON.parse(row.headers) as Record<string, string>,
      partitionKey: row.partition_key ?? undefined,
    };
    this.deliveryCount = row.delivery_count;
  }

  private take(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.consumer.settled(this);
    return true;
  }

  async ack(): Promise<void> {
    if (this.take()) await this.consumer.transport.ack(this.row.seq, this.row.lease_token);
  }

  async nack(options?: { readonly delayMs?: number; readonly headers?: Readonly<Record<string, string>> }): Promise<void> {
    if (this.take()) await this.consumer.transport.settle('nack', this.row.seq, this.row.lease_token, { delayMs: options?.delayMs, headers: options?.headers });
  }

  async deadLetter(failure: DeadLetterFailure): Promise<void> {
    if (this.take()) await this.consumer.transport.settle('dead', this.row.seq, this.row.lease_token, { failure });
  }

  /** Returns the message un-yielded (`undo` the delivery count) or after a lost connection. */
  giveBack(undo: boolean): Promise<void> {
    if (!this.take()) return Promise.resolve();
    return this.consumer.transport.settle(undo ? 'release' : 'nack', this.row.seq, this.row.lease_token).then(
      () => undefined,
      () => undefined,
    );
  }
}

/** The consumer. */
export class PostgresConsumer implements Consumer {
  private readonly buffer = new DeliveryBuffer<PostgresDelivery>('postgres', () => this.close());
  private readonly held = new Set<PostgresDelivery>();
  private fetching = false;
  private again = false;
  private started = false;
  /** The last claim found fewer rows than it asked for, and nothing said there is more since. */
  private drained = false;
  private retryTimer: NodeJS.Timeout | undefined;
  ready: Promise<void> = Promise.resolve();

  constructor(
    readonly transport: PostgresTransport,
    readonly queue: string,
    private readonly prefetch: number,
  ) {}

  /** @internal Starts claiming once `check` (the queue exists) passes; `ready` follows it. */
  start(check: Promise<void>): void {
    this.ready = check.then(() => {
      this.started = true;
      this.signal();
    });
    this.ready.catch(() => void this.close());
  }

  /** Free prefetch slots. */
  room(): number {
    return this.buffer.closed ? 0 : this.prefetch - this.buffer.held;
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
    if (!this.started || this.buffer.closed) return;
    if (this.fetching) {
      if (!this.drained) this.again = true;
      return;
    }
    if (this.drained) return;
    this.fetching = true;
    void this.fetchLoop();
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
            if (!this.buffer.push(delivery)) void delivery.giveBack(true);
          }
          if (rows.length < room) {
            this.drained = true;
            break;
          }
        }
      } while (this.again && !this.buffer.closed);
    } catch (error) {
      if (!this.buffer.closed) {
        this.transport.logger.warn('postgres claim failed; trying again', { error, queue: this.queue });
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

  /** @internal */
  settled(delivery: PostgresDelivery): void {
    this.held.delete(delivery);
    this.buffer.settled(delivery);
    this.wake();
  }

  [Symbol.asyncIterator](): AsyncIterator<Delivery> {
    return this.buffer[Symbol.asyncIterator]();
  }

  async close(): Promise<void> {
    if (this.buffer.closed) return;
    this.transport.forget(this);
    clearTimeout(this.retryTimer);
    await Promise.all(this.buffer.close().map((delivery) => delivery.giveBack(true)));
  }

  /** The transport is going away: also give back what was yielded and not settled. */
  async drop(): Promise<void> {
    const yielded = this.buffer.yielded;
    await Promise.all([this.close(), ...yielded.map((delivery) => delivery.giveBack(false))]);
  }
}
