/**
 * The settle-once half of the {@link Delivery} contract, written once for every transport.
 *
 * What it promises:
 * - exactly one of `ack`, `nack`, `deadLetter` (or the transport's own `giveBack`-style call through
 *   {@link SettleOnceDelivery.settleOnce}) reaches the subclass's `on…` method; every later call
 *   resolves at once and does nothing;
 * - on that first settle, before the `on…` method runs, the owner's `settled(delivery)` is called
 *   (synchronously), so the consumer frees the prefetch slot even if the broker call then fails;
 * - {@link SettleOnceDelivery.claim} marks it settled without any of that, for a transport that takes
 *   the message over itself (an in-process redelivery);
 * - {@link SettleOnceDelivery.canSettle} lets a transport refuse a settle that no longer applies
 *   (the message was taken back); a refused settle is a no-op and does not mark it settled.
 *
 * What the subclass provides: `message`, `deliveryCount`, and what each settle does at the broker.
 * A rejection of an `on…` method reaches the caller of `ack`/`nack`/`deadLetter`; the delivery stays
 * settled (the bus does not settle twice; the broker redelivers what it did not remove).
 *
 * @example
 * ```ts
 * class RowDelivery extends SettleOnceDelivery {
 *   readonly message = rowToMessage(this.row);
 *   readonly deliveryCount = this.row.delivery_count;
 *   constructor(owner: SettleOwner<RowDelivery>, private readonly row: Row) { super(owner); }
 *   protected onAck() { return db.delete(this.row.seq); }
 *   protected onNack(options: NackOptions) { return db.release(this.row.seq, options.delayMs ?? 0); }
 *   protected onDeadLetter(failure: DeadLetterFailure) { return db.bury(this.row.seq, failure); }
 * }
 * ```
 * @module
 */
import { rejection } from '../errors.js';
import type { DeadLetterFailure, Delivery, TransportMessage } from './transport.js';

/**
 * A resolved promise for a settle hook to return when the settle's work is done, or handed off for
 * good (an ack queued for the connection's next write), by the time the hook returns; a settle that
 * has nothing to do returns it too. The bus, finding this very promise, goes on with the delivery at
 * once (counts it, frees its slot) instead of in a promise reaction. Any other promise is waited for
 * as usual, so returning it is an optimisation, never required.
 */
export const SETTLED: Promise<void> = Promise.resolve();

/** The options of {@link Delivery.nack}. */
export type NackOptions = NonNullable<Parameters<Delivery['nack']>[0]>;

/** What a {@link SettleOnceDelivery} tells when it is first settled: its consumer (a {@link BufferedConsumer} is one). */
export interface SettleOwner<D> {
  /** The delivery was settled or handed back: it no longer counts against the prefetch. Called once per delivery. */
  settled(delivery: D): void;
}

/** A {@link Delivery} whose settle methods run at most once between them. */
export abstract class SettleOnceDelivery implements Delivery {
  abstract readonly message: TransportMessage;
  abstract readonly deliveryCount: number;
  private done = false;

  /** `owner.settled(this)` runs on the first settle. */
  constructor(private readonly owner: SettleOwner<never>) {}

  /** Whether it was settled, handed back or claimed. */
  get isSettled(): boolean {
    return this.done;
  }

  // Not `async`: the hook's own promise is handed back, so a settle costs no second promise. A
  // hook that throws rather than rejects still gives a rejected promise.
  ack(): Promise<void> {
    try {
      return this.settleOnce() ? this.onAck() : SETTLED;
    } catch (error) {
      return rejection(error);
    }
  }

  nack(options?: NackOptions): Promise<void> {
    try {
      return this.settleOnce() ? this.onNack(options ?? {}) : SETTLED;
    } catch (error) {
      return rejection(error);
    }
  }

  deadLetter(failure: DeadLetterFailure): Promise<void> {
    try {
      return this.settleOnce() ? this.onDeadLetter(failure) : SETTLED;
    } catch (error) {
      return rejection(error);
    }
  }

  /**
   * Marks it settled and tells the owner, if it was not settled yet and {@link canSettle} allows.
   * Returns whether this call settled it: the caller then does the broker work. For a transport's
   * own settles (handing an un-read delivery back when its consumer closes).
   */
  protected settleOnce(): boolean {
    if (this.done || !this.canSettle()) return false;
    this.done = true;
    (this.owner as SettleOwner<this>).settled(this);
    return true;
  }

  /** Marks it settled without telling the owner or the broker. False if it already was settled. */
  claim(): boolean {
    if (this.done) return false;
    this.done = true;
    return true;
  }

  /** Whether a settle may still happen (default: always). Checked on every settle before it marks anything. */
  protected canSettle(): boolean {
    return true;
  }

  /** Removes the message for good (see {@link Delivery.ack}). Runs at most once, instead of the other two. */
  protected abstract onAck(): Promise<void>;
  /** Returns the message to its queue (see {@link Delivery.nack}). Runs at most once, instead of the other two. */
  protected abstract onNack(options: NackOptions): Promise<void>;
  /** Moves the message to its dead-letter queue (see {@link Delivery.deadLetter}). Runs at most once, instead of the other two. */
  protected abstract onDeadLetter(failure: DeadLetterFailure): Promise<void>;
}
