/**
 * The part of a transport's {@link Consumer} that is the same on every broker: a
 * {@link DeliveryBuffer} between the transport's fetch and the one reader, the prefetch count,
 * and what happens to the deliveries on close and on a lost connection.
 *
 * What it promises:
 * - the iterator is the buffer's: fetch order, one reader at a time, ends on close;
 * - {@link BufferedConsumer.room} is how many more deliveries the transport may fetch now
 *   (`prefetch` minus held, 0 once closed); a settle frees a slot through {@link BufferedConsumer.settled};
 * - {@link BufferedConsumer.offer} hands a fetched delivery to the reader, or back to the broker
 *   through `giveBack(delivery, true)` when the consumer is already closed;
 * - {@link BufferedConsumer.close} is idempotent: the first call runs `detach` (stop fetching for it),
 *   ends the iteration and gives back every delivery never read (`giveBack(d, true)`); deliveries
 *   already read stay valid;
 * - {@link BufferedConsumer.drop} (the connection is going away) closes, then gives back the read
 *   and un-settled ones too (`giveBack(d, false)`).
 *
 * A transport whose close must wait for the broker first (cancel a subscription) overrides `close`.
 *
 * @example
 * ```ts
 * class RowConsumer extends BufferedConsumer<RowDelivery> {
 *   constructor(private readonly conn: Connection, queue: string, prefetch: number) { super('postgres', prefetch); }
 *   protected detach() { this.conn.forget(this); }
 *   protected giveBack(delivery: RowDelivery, unread: boolean) { delivery.giveBack(unread); }
 * }
 * // in the connection's fetch loop:
 * for (const row of await fetch(consumer.room())) consumer.offer(new RowDelivery(consumer, row));
 * ```
 * @module
 */
import type { Consumer, Delivery } from './transport.js';
import { DeliveryBuffer } from './delivery-buffer.js';

/** A consumer built on a {@link DeliveryBuffer}. */
export abstract class BufferedConsumer<D extends Delivery> implements Consumer {
  /** Deliveries fetched and not yet settled. */
  protected readonly buffer: DeliveryBuffer<D>;

  /** `kind` names the transport in errors; `prefetch` is the most deliveries held un-settled at once. */
  constructor(
    kind: string,
    protected readonly prefetch: number,
  ) {
    this.buffer = new DeliveryBuffer<D>(kind, () => this.close());
  }

  /** Whether {@link close} ran. */
  get closed(): boolean {
    return this.buffer.closed;
  }

  /** Free prefetch slots: how many deliveries the transport may fetch for it now. */
  room(): number {
    return this.buffer.closed ? 0 : this.prefetch - this.buffer.held;
  }

  /** Hands a fetched delivery to the reader; once closed, gives it back instead. */
  offer(delivery: D): void {
    if (!this.buffer.push(delivery)) this.giveBack(delivery, true);
  }

  /** A delivery was settled or handed back: it frees its slot. Deliveries call it (see `SettleOwner`). */
  settled(delivery: D): void {
    this.buffer.settled(delivery);
  }

  /**
   * The delivery the iterator would yield next if one is waiting, taken now (it counts as read);
   * undefined when none is. For the bus's consumer loop, which drains what is waiting between two
   * turns of the iterator.
   */
  takeWaiting(): D | undefined {
    return this.buffer.take();
  }

  [Symbol.asyncIterator](): AsyncIterator<Delivery> {
    return this.buffer[Symbol.asyncIterator]();
  }

  async close(): Promise<void> {
    this.closeNow();
  }

  /** {@link close} without waiting: returns false if it was already closed. */
  closeNow(): boolean {
    if (this.buffer.closed) return false;
    this.detach();
    for (const delivery of this.buffer.close()) this.giveBack(delivery, true);
    return true;
  }

  /** The connection is going away: closes, and gives back the read and un-settled deliveries too. */
  drop(): void {
    this.closeNow();
    for (const delivery of this.buffer.yielded) this.giveBack(delivery, false);
  }

  /** Stops the transport fetching for this consumer. Runs once, at the first close. */
  protected abstract detach(): void;

  /**
   * Returns an un-settled delivery to the broker: `unread` when the reader never saw it (a transport
   * that can should not count it as a delivery), else its consumer is gone (count it).
   */
  protected abstract giveBack(delivery: D, unread: boolean): void;
}
