/**
 * A consumer of one queue on its own channel (prefetch = the consumer's prefetch, manual acks).
 * After a reconnect the consumer resumes on a new channel; deliveries of the dead channel are stale
 * and settling them is a no-op (see `rabbitmq-delivery.ts`). Acks of one event-loop turn go out as
 * one `multiple` ack where their tags allow.
 *
 * @example
 * ```ts
 * for await (const delivery of transport.consume('billing', { prefetch: 10 })) await delivery.ack();
 * ```
 * @module
 */
import type * as amqp from 'amqplib';
import { TransportError } from '@missive/core';
import { BufferedConsumer } from '@missive/core/transport';
import type { ConsumerHost } from './consumer-host.js';
import { Latch } from './latch.js';
import { RabbitDelivery, onChannel, type DeliveryOwner } from './rabbitmq-delivery.js';
import { ReplyCode, replyCode } from './reply-codes.js';

/** Backoff before consuming again on a new channel after the broker closed ours. */
const REOPEN_MIN_MS = 50;
const REOPEN_MAX_MS = 5_000;

/** The consumer. */
export class RabbitConsumer extends BufferedConsumer<RabbitDelivery> implements DeliveryOwner {
  private channel: amqp.Channel | undefined;
  /** The connection this consumer consumes on, or is starting to (see `resume`). */
  private resumedOn: amqp.ChannelModel | undefined;
  private tag: string | undefined;
  /** Delivery tags of the current channel not yet acked or requeued at the broker. */
  private readonly outstanding = new Set<number>();
  /** Acks waiting for the end of this turn, sent as one `multiple` ack where they are contiguous. */
  private acks: RabbitDelivery[] = [];
  private flushScheduled = false;
  /** Handed-out deliveries settled but whose broker work (ack, dead letter, delayed retry) is not done yet. */
  private readonly settling = new Set<RabbitDelivery>();
  private reopenTimer: NodeJS.Timeout | undefined;
  private reopenDelayMs = REOPEN_MIN_MS;
  private readonly started = new Latch();

  constructor(
    readonly transport: ConsumerHost,
    readonly queue: string,
    prefetch: number,
  ) {
    super('rabbitmq', prefetch);
  }

  isCurrent(channel: amqp.Channel): boolean {
    return this.channel === channel;
  }

  /** Settles when the broker has registered the first subscription (see `Consumer.ready`). */
  get ready(): Promise<void> {
    return this.started.promise;
  }

  /**
   * Starts (or restarts, after a reconnect) consuming on a new channel; once per connection (a
   * second call for the same one is a no-op until the channel is lost). A channel it replaces is
   * closed, so none is left on the broker holding deliveries no one can ack.
   */
  async resume(connection: amqp.ChannelModel): Promise<void> {
    if (this.buffer.closed || this.resumedOn === connection) return;
    this.resumedOn = connection;
    try {
      await this.consumeOn(connection);
    } catch (error) {
      if (this.resumedOn === connection) this.resumedOn = undefined;
      throw error;
    }
  }

  private async consumeOn(connection: amqp.ChannelModel): Promise<void> {
    const channel = await connection.createChannel();
    if (this.buffer.closed) {
      await channel.close().catch(() => undefined);
      return;
    }
    channel.on('error', (error: Error) =>
      this.transport.logger.warn({ err: error.message }, `rabbitmq consumer channel of ${this.queue} failed`),
    );
    channel.on('close', () => {
      if (this.channel !== channel) return;
      this.lost();
      this.reopen(connection);
    });
    await channel.prefetch(this.prefetch);
    if (this.buffer.closed) {
      await channel.close().catch(() => undefined);
      return;
    }
    const generation = this.transport.generation;
    this.flushAcks();
    this.outstanding.clear();
    const replaced = this.channel;
    this.channel = channel;
    if (replaced !== undefined) void replaced.close().catch(() => undefined);
    const { consumerTag } = await channel.consume(
      this.queue,
      (raw) => {
        if (raw === null) {
          void this.close(); // the broker cancelled us: the queue was deleted
          return;
        }
        this.push(new RabbitDelivery(this, channel, raw, generation));
      },
      { noAck: false },
    );
    this.tag = consumerTag;
    this.reopenDelayMs = REOPEN_MIN_MS;
    this.started.open();
  }

  /**
   * The broker closed this consumer's channel while the connection lives on (its acknowledgement
   * timeout, `consumer_timeout`, is the usual cause; it requeued the channel's messages): consume
   * again on a new channel, after a backoff that grows while that keeps failing. A lost connection
   * is the transport's to recover, and it resumes every consumer.
   */
  private reopen(connection: amqp.ChannelModel): void {
    if (this.buffer.closed || this.reopenTimer !== undefined) return;
    const delay = this.reopenDelayMs;
    this.reopenDelayMs = Math.min(REOPEN_MAX_MS, delay * 2);
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      if (this.buffer.closed || this.channel !== undefined || !this.transport.isConnection(connection)) return;
      this.transport.logger.warn(`the broker closed the channel of the consumer of ${this.queue}; consuming again on a new channel`);
      this.resume(connection).catch((error: unknown) => {
        if (replyCode(error) === ReplyCode.NotFound)
          this.fail(error); // deleted; not a queue that is still starting
        else this.reopen(connection);
      });
    }, delay);
  }

  /**
   * The channel is gone: the broker requeued everything it had handed out on it. Deliveries still
   * waiting to be read are dropped (settling them would be a no-op anyway).
   */
  lost(): void {
    this.acks = [];
    this.outstanding.clear();
    this.channel = undefined;
    this.resumedOn = undefined;
    this.tag = undefined;
    this.buffer.discard();
  }

  fail(error: unknown): void {
    if (!this.buffer.closed) this.transport.logger.error({ err: error }, `cannot consume ${this.queue}`);
    this.started.fail(
      new TransportError(`cannot consume queue "${this.queue}": ${(error as Error).message}`, { cause: error, retryable: false }),
    );
    void this.close();
  }

  private push(delivery: RabbitDelivery): void {
    if (delivery.channel === this.channel) this.outstanding.add(delivery.tag);
    this.offer(delivery);
  }

  /** @internal */
  override settled(delivery: RabbitDelivery): void {
    // A handed-out delivery's settle may still have broker work to do (a dead letter or a delayed
    // retry is published and confirmed before the original is acked): see `finished`.
    if (this.buffer.isYielded(delivery)) this.settling.add(delivery);
    super.settled(delivery);
  }

  /** @internal The settle's broker work is done: once closed with nothing left to settle, the channel closes. */
  finished(delivery: RabbitDelivery): void {
    this.settling.delete(delivery);
    if (this.buffer.closed && this.idle()) {
      // After this turn, so the ack of the delivery being settled goes out before the channel closes.
      setImmediate(() => {
        if (this.settling.size > 0) return;
        this.transport.forget(this);
        this.flushAcks();
        void this.channel?.close().catch(() => undefined);
      });
    }
  }

  /** Nothing handed out is waiting to be settled, or still settling at the broker. */
  private idle(): boolean {
    return this.buffer.yielded.length === 0 && this.settling.size === 0;
  }

  /**
   * Requeues at once; queues an ack for the end of the turn. Acking handler results one frame each
   * costs the broker more than anything else the consumer does, so acks of one turn whose tags are
   * all below every still-outstanding tag go out as a single `basic.ack` with `multiple`.
   */
  toBroker(delivery: RabbitDelivery, ack: boolean): void {
    if (delivery.channel !== this.channel) return; // a dead channel: the broker already requeued it
    this.outstanding.delete(delivery.tag);
    if (!ack) {
      onChannel(() => delivery.channel.nack(delivery.raw, false, true));
      return;
    }
    this.acks.push(delivery);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flushAcks());
  }

  private flushAcks(): void {
    this.flushScheduled = false;
    const acks = this.acks;
    if (acks.length === 0) return;
    this.acks = [];
    const channel = this.channel;
    if (channel === undefined) return;
    let floor = Number.POSITIVE_INFINITY;
    for (const tag of this.outstanding) if (tag < floor) floor = tag;
    let top: RabbitDelivery | undefined;
    for (const delivery of acks) {
      if (delivery.channel !== channel) continue;
      if (delivery.tag < floor) {
        if (top === undefined || delivery.tag > top.tag) top = delivery;
      } else {
        onChannel(() => channel.ack(delivery.raw));
      }
    }
    // Every tag at or below `top` is settled: acked in this batch, or already acked or requeued.
    if (top !== undefined) onChannel(() => channel.ack(top.raw, true));
  }

  protected detach(): void {
    this.started.open(); // closed before it started: nothing to wait for
    clearTimeout(this.reopenTimer);
    // Not forgotten by the transport yet: see `close`.
  }

  protected giveBack(delivery: RabbitDelivery): void {
    delivery.requeue();
  }

  /** Cancels the subscription before it ends the iteration, so what the broker still sends is put back too. */
  override async close(): Promise<void> {
    if (this.buffer.closed) return;
    this.detach();
    const channel = this.channel;
    if (channel !== undefined && this.tag !== undefined) await channel.cancel(this.tag).catch(() => undefined);
    for (const delivery of this.buffer.close()) delivery.requeue();
    this.flushAcks();
    if (this.idle()) {
      this.transport.forget(this);
      await channel?.close().catch(() => undefined);
    }
    // Otherwise the transport keeps it until the last yielded delivery's settle is done, or until
    // `shutdown`, so the acks of handlers that finish during a drain reach the broker.
  }

  /**
   * For the transport's close: closes the consumer, sends the acks still queued for the end of
   * the turn, and closes the channel, waiting for the broker's close-ok. The broker handles a
   * channel's frames in order, so every ack sent before it counts; acks queued after the
   * connection began to close would be dropped (and their messages redelivered).
   */
  async shutdown(): Promise<void> {
    await this.close();
    this.transport.forget(this);
    this.flushAcks();
    const channel = this.channel;
    if (channel !== undefined) await channel.close().catch(() => undefined);
  }
}
