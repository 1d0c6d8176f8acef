/**
 * A consumer of a memory queue and its deliveries, built on the transport kit: the broker pushes
 * items while the consumer has room; a delivery settles its item once, through the broker.
 * @module
 */
import { BufferedConsumer } from '../buffered-consumer.js';
import { withHeaders } from '../in-process-message.js';
import { SETTLED, SettleOnceDelivery, type NackOptions } from '../settle-once-delivery.js';
import type { DeadLetterFailure, TransportMessage } from '../transport.js';
import type { BrokerOps, Item, MemoryQueue, QueueConsumer, QueueOwner } from './memory-queue.js';

/** One delivery of an item. */
export class MemoryDelivery extends SettleOnceDelivery {
  readonly message: TransportMessage;
  readonly deliveryCount: number;

  constructor(
    private readonly broker: BrokerOps,
    private readonly queue: MemoryQueue,
    private readonly item: Item,
    consumer: MemoryConsumer,
  ) {
    super(consumer);
    this.message = item.message;
    this.deliveryCount = item.deliveryCount;
  }

  /** Settles without touching the item: its queue was deleted. */
  orphan(): void {
    this.claim();
  }

  protected override canSettle(): boolean {
    return this.item.holder === this;
  }

  /**
   * Synchronous: the broker's bookkeeping is done when it returns (the base class turns a throw into
   * a rejection), so it returns the kit's `SETTLED` and the bus goes on at once.
   */
  protected onAck(): Promise<void> {
    this.broker.release(this.item, this.queue, 'remove');
    return SETTLED;
  }

  protected async onNack(options: NackOptions): Promise<void> {
    if (options.headers !== undefined) this.item.message = withHeaders(this.item.message, { ...options.headers });
    this.broker.release(this.item, this.queue, 'return', Math.max(0, options.delayMs ?? 0));
  }

  protected async onDeadLetter(failure: DeadLetterFailure): Promise<void> {
    this.queue.deadLetters.push({ queue: this.queue.name, message: this.item.message, failure });
    this.broker.release(this.item, this.queue, 'remove');
  }

  /** Gives the item back as if the consumer's connection was lost. */
  giveBack(): void {
    if (this.settleOnce()) this.broker.release(this.item, this.queue, 'return');
  }
}

/** A consumer of one memory queue. */
export class MemoryConsumer extends BufferedConsumer<MemoryDelivery> implements QueueConsumer {
  constructor(
    private readonly broker: BrokerOps,
    readonly queue: MemoryQueue,
    prefetch: number,
    readonly owner: QueueOwner,
  ) {
    super('memory', prefetch);
  }

  hasRoom(): boolean {
    return this.room() > 0;
  }

  push(item: Item): void {
    const delivery = new MemoryDelivery(this.broker, this.queue, item, this);
    item.holder = delivery;
    this.offer(delivery);
  }

  protected detach(): void {
    this.broker.removeConsumer(this);
  }

  protected giveBack(delivery: MemoryDelivery): void {
    delivery.giveBack();
  }
}
