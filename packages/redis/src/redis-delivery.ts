/**
 * One delivery of a Redis queue stream, and what settles it. The delivery remembers the entry id
 * and the delivery count in the pending-entries list when it was fetched: the settle scripts check
 * both, so a settle that arrives after the entry was reclaimed is never applied to the new copy.
 * It settles through a {@link RedisSettler} (the consumer that fetched it).
 *
 * @example
 * ```ts
 * const delivery = new RedisDelivery(consumer, entryId, pelCount, message, deliveryCount, token);
 * await delivery.ack();
 * ```
 * @module
 */
import {
  SettleOnceDelivery,
  type DeadLetterFailure,
  type NackOptions,
  type SettleOwner,
  type TransportMessage,
} from '@missive/core/transport';

/**
 * What a delivery settles through: the consumer that fetched it. Each call applies the settle to
 * Redis (or queues it, for acks); `settled` (from `SettleOwner`) runs first, once.
 */
export interface RedisSettler extends SettleOwner<never> {
  /** Acks the delivery (batched; resolves at once). */
  ack(delivery: RedisDelivery): Promise<void>;
  /** Writes the message again (now or after `delayMs`); `undo` takes back this delivery's count. */
  requeue(delivery: RedisDelivery, delayMs: number, headers: Readonly<Record<string, string>> | undefined, undo: boolean): Promise<void>;
  /** Moves the delivery with its failure to the dead-letter stream. */
  deadLetter(delivery: RedisDelivery, failure: DeadLetterFailure): Promise<void>;
}

/**
 * A batch entry being handled (several messages in one entry, see `entry.ts`): each message is a
 * delivery of its own, and the entry is acked (`XACK` + `XDEL`) once every one is settled. A
 * nacked or dead-lettered message is written again alone, and counts as settled here.
 */
export class BatchEntry {
  /** Its messages not settled yet. */
  private open: number;
  /** What a plain entry's delivery has: batch entries hold no key. */
  readonly key = undefined;
  readonly token: string;
  /** Messages beyond the first (what the ack takes off the stream's count). */
  readonly extra: number;

  constructor(
    readonly entryId: string,
    /** The delivery count in the pending-entries list when fetched (what settles check). */
    readonly pelCount: number,
    size: number,
  ) {
    this.open = size;
    this.token = entryId;
    this.extra = size - 1;
  }

  /** One of its messages is settled: the entry itself, to ack, once it was the last. */
  settleOne(): BatchEntry | undefined {
    return --this.open === 0 ? this : undefined;
  }
}

/** One message of a batch entry: its entry, and its `m` and headers values (to write it again alone). */
export interface Membership {
  readonly entry: BatchEntry;
  /** Its position in the entry, from 1 (what the settle scripts record). */
  readonly position: number;
  readonly value: Buffer;
  readonly headers: Buffer | undefined;
}

/** A delivery fetched from a queue stream. */
export class RedisDelivery extends SettleOnceDelivery {
  constructor(
    private readonly consumer: RedisSettler,
    readonly entryId: string,
    /** The delivery count in the pending-entries list when fetched (what settles check). */
    readonly pelCount: number,
    readonly message: TransportMessage,
    readonly deliveryCount: number,
    /** What holds the message's key: the token it was re-written with, else its entry id. */
    readonly token: string,
    /** Set when the message is one of a batch entry's. */
    readonly member?: Membership,
    /** Why the entry could not be read as a message (see `Delivery.unreadable`): the bus dead-letters it with `DECODE`. */
    readonly unreadable?: string,
  ) {
    super(consumer);
  }

  /** The message's partition key (what an ack releases). */
  get key(): string | undefined {
    return this.message.partitionKey;
  }

  /** Messages beyond this one in its entry, when acked as an entry: none (a batch is acked as its {@link BatchEntry}). */
  get extra(): number {
    return 0;
  }

  protected onAck(): Promise<void> {
    return this.consumer.ack(this);
  }

  protected onNack(options: NackOptions): Promise<void> {
    return this.consumer.requeue(this, options.delayMs ?? 0, options.headers, false);
  }

  protected onDeadLetter(failure: DeadLetterFailure): Promise<void> {
    return this.consumer.deadLetter(this, failure);
  }

  /** Returns the message to its queue: `undo` when it was never yielded (its count goes back). */
  giveBack(undo: boolean): Promise<void> {
    if (!this.settleOnce()) return Promise.resolve();
    return this.consumer.requeue(this, 0, undefined, undo).catch(() => undefined);
  }
}

/** Orders two stream entry ids (`<ms>-<seq>`). */
export function compareEntryIds(a: string, b: string): number {
  const dashA = a.indexOf('-');
  const dashB = b.indexOf('-');
  const ms = Number(a.slice(0, dashA)) - Number(b.slice(0, dashB));
  return ms !== 0 ? ms : Number(a.slice(dashA + 1)) - Number(b.slice(dashB + 1));
}
