/**
 * The hand-over between a transport and the one reader of a consumer: deliveries the transport
 * fetched wait in order until the reader asks; the buffer tracks which deliveries were yielded and
 * not yet settled (what "held" means for prefetch), and on close returns the ones never yielded so
 * the transport can put them back. Every transport's `Consumer` is built on it, so they all keep
 * the same iterator contract.
 *
 * @example
 * ```ts
 * const buffer = new DeliveryBuffer<MyDelivery>('sqlite');
 * buffer.push(delivery);                   // from the transport's fetch
 * for await (const d of buffer) await d.ack();
 * const unyielded = buffer.close();        // give these back
 * ```
 * @module
 */
import { BusStateError, ErrorCode } from '../errors.js';
import { InFlightList } from './in-flight-list.js';
import type { Delivery } from './transport.js';

/** A transport consumer's buffer of deliveries. */
export class DeliveryBuffer<D extends Delivery> implements AsyncIterable<Delivery> {
  private readonly waiting: D[] = [];
  private readonly yielded_ = new InFlightList<D>();
  private waiter: ((result: IteratorResult<Delivery>) => void) | undefined;
  private closed_ = false;

  /** `kind` names the transport in the one-reader error; `onReturn` runs when a `for await` loop exits early. */
  constructor(
    private readonly kind: string,
    private readonly onReturn: () => Promise<void> = async () => undefined,
  ) {}

  /** Deliveries fetched and not yet settled: waiting to be read, or read and un-settled. */
  get held(): number {
    return this.waiting.length + this.yielded_.size;
  }

  /** Fetched and not yet read. */
  get unread(): number {
    return this.waiting.length;
  }

  get closed(): boolean {
    return this.closed_;
  }

  /** Read and not yet settled. */
  get yielded(): readonly D[] {
    return this.yielded_.toArray();
  }

  /** Hands a delivery to the reader (at once if it is waiting). False once closed: give it back. */
  push(delivery: D): boolean {
    if (this.closed_) return false;
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.waiter = undefined;
      this.yielded_.add(delivery);
      waiter({ value: delivery, done: false });
    } else {
      this.waiting.push(delivery);
    }
    return true;
  }

  /** The next unread delivery, read now (as the iterator would yield it), or undefined when none is waiting. */
  take(): D | undefined {
    const next = this.waiting.shift();
    if (next !== undefined) this.yielded_.add(next);
    return next;
  }

  /** A delivery was settled: it no longer counts as held. */
  settled(delivery: D): void {
    this.yielded_.remove(delivery);
  }

  /** Whether `delivery` was read and is not yet settled. */
  isYielded(delivery: D): boolean {
    return this.yielded_.has(delivery);
  }

  /** Takes the unread deliveries that `match` out of the buffer (the transport gives them back); returns them. */
  remove(match: (delivery: D) => boolean): D[] {
    const removed: D[] = [];
    for (let i = this.waiting.length - 1; i >= 0; i--) if (match(this.waiting[i]!)) removed.unshift(...this.waiting.splice(i, 1));
    return removed;
  }

  /** Empties the unread deliveries without ending the iteration (their channel died); returns them. */
  discard(): D[] {
    return this.waiting.splice(0);
  }

  /** Ends the iteration; returns the deliveries that were never read, for the transport to put back. */
  close(): D[] {
    this.closed_ = true;
    const unread = this.waiting.splice(0);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.({ value: undefined, done: true });
    return unread;
  }

  [Symbol.asyncIterator](): AsyncIterator<Delivery> {
    return {
      next: () => {
        const next = this.take();
        if (next !== undefined) return Promise.resolve({ value: next, done: false });
        if (this.closed_) return Promise.resolve({ value: undefined, done: true });
        if (this.waiter !== undefined)
          return Promise.reject(new BusStateError(ErrorCode.Closed, `a ${this.kind} consumer supports one reader at a time`));
        return new Promise((resolve) => (this.waiter = resolve));
      },
      return: async () => {
        await this.onReturn();
        return { value: undefined, done: true };
      },
    };
  }
}
