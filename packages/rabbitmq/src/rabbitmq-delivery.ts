/**
 * One delivery from a RabbitMQ channel, and what it needs of the consumer it came from. Settling a
 * delivery of a dead channel (an older generation, or a channel its consumer replaced) is a no-op:
 * the broker already requeued it, and an "unknown delivery tag" would close the live channel.
 *
 * `nack` without options requeues; with a delay or new headers the message is republished (to its
 * delay bucket, or straight back to the queue), confirmed, and only then acked.
 *
 * @example
 * ```ts
 * const delivery = new RabbitDelivery(consumer, channel, raw, host.generation);
 * await delivery.ack();
 * ```
 * @module
 */
import type * as amqp from 'amqplib';
import type { DeadLetterFailure, TransportMessage } from '@missive/core';
import { SETTLED, SettleOnceDelivery, TransportHeader, type NackOptions } from '@missive/core/transport';
import type { ConsumerHost } from './consumer-host.js';
import { DEAD_LETTER_SUFFIX, returnKey } from './topology.js';
import { REPUBLISHED, brokerRedeliveries, republishedCount, transportMessage } from './wire.js';

/**
 * Runs a channel operation that may meet a closing or closed channel. Such a channel's un-settled
 * messages go back to the queue anyway, so the failure is dropped rather than thrown (a throw from
 * inside amqplib's delivery callback would tear down the whole connection).
 */
export function onChannel(operation: () => void): void {
  try {
    operation();
  } catch {
    /* the channel is closing: the broker requeues */
  }
}

/** What a {@link RabbitDelivery} needs of the consumer it came from. */
export interface DeliveryOwner {
  readonly transport: ConsumerHost;
  /** The endpoint's queue (for an ordered consumer, not the partition's). */
  readonly queue: string;
  /** Whether settling on `channel` still reaches the broker (it is the owner's live channel). */
  isCurrent(channel: amqp.Channel): boolean;
  /** The delivery was settled (or handed back): it no longer counts as held. */
  settled(delivery: RabbitDelivery): void;
  /**
   * Takes over a `nack` to keep the message's place (ordered consumers: the message stays
   * un-acked and is handed out again after the delay). False: republish as usual.
   */
  redeliver?(delivery: RabbitDelivery, delayMs: number, headers: Readonly<Record<string, string>> | undefined): boolean;
  /** Sends the broker-side ack (`true`) or requeue; the owner may batch acks. Default: at once. */
  toBroker?(delivery: RabbitDelivery, ack: boolean): void;
  /**
   * The settle's broker-side work was sent (the ack written, the dead letter confirmed), or failed,
   * or there was none (a stale channel). Called once per settle, after `settled`.
   */
  finished?(delivery: RabbitDelivery): void;
}

/** One delivery from a RabbitMQ channel. */
export class RabbitDelivery extends SettleOnceDelivery {
  readonly message: TransportMessage;
  readonly deliveryCount: number;

  constructor(
    private readonly consumer: DeliveryOwner,
    readonly channel: amqp.Channel,
    readonly raw: amqp.ConsumeMessage,
    readonly generation: number,
    again?: { readonly headers: Readonly<Record<string, string>>; readonly deliveryCount: number },
  ) {
    super(consumer);
    if (again !== undefined) {
      this.message = { ...transportMessage(raw), headers: again.headers };
      this.deliveryCount = again.deliveryCount;
      return;
    }
    this.message = transportMessage(raw);
    const headers = (raw.properties.headers ?? {}) as Record<string, unknown>;
    this.deliveryCount = 1 + brokerRedeliveries(headers, raw.fields.redelivered) + republishedCount(headers[REPUBLISHED]);
  }

  /** The same un-acked message, handed out again in-process (ordered consumers). */
  again(headers: Readonly<Record<string, string>> | undefined): RabbitDelivery {
    return new RabbitDelivery(this.consumer, this.channel, this.raw, this.generation, {
      headers: headers ?? this.message.headers,
      deliveryCount: this.deliveryCount + 1,
    });
  }

  /** Whether this delivery's channel is still the one that can settle it (checked once settled). */
  private live(): boolean {
    return this.generation === this.consumer.transport.generation && this.consumer.isCurrent(this.channel);
  }

  /**
   * Queues the ack for the connection's next write (the consumer batches the acks of a turn): the
   * settle is handed off by the time this returns, so it returns the kit's `SETTLED` and the bus
   * goes on at once, without a promise and a reaction per message (a throw still rejects: see
   * `SettleOnceDelivery.ack`).
   */
  protected onAck(): Promise<void> {
    if (this.live()) this.toBroker(true);
    this.consumer.finished?.(this);
    return SETTLED;
  }

  /** The delivery tag: the order in which its channel received it. */
  get tag(): number {
    return this.raw.fields.deliveryTag;
  }

  private toBroker(ack: boolean): void {
    if (this.consumer.toBroker !== undefined) this.consumer.toBroker(this, ack);
    else onChannel(() => (ack ? this.channel.ack(this.raw) : this.channel.nack(this.raw, false, true)));
  }

  override async nack(options?: NackOptions): Promise<void> {
    if (!this.isSettled && this.consumer.redeliver?.(this, options?.delayMs ?? 0, options?.headers) === true) return;
    await super.nack(options);
  }

  protected async onNack(options: NackOptions): Promise<void> {
    try {
      await this.nackAtBroker(options);
    } finally {
      this.consumer.finished?.(this);
    }
  }

  private async nackAtBroker(options: NackOptions): Promise<void> {
    if (!this.live()) return;
    const delayMs = options.delayMs ?? 0;
    if (delayMs <= 0 && options.headers === undefined) {
      this.toBroker(false);
      return;
    }
    const headers = { ...(options.headers ?? this.message.headers), [REPUBLISHED]: String(this.deliveryCount) };
    const transport = this.consumer.transport;
    try {
      if (delayMs > 0) await transport.publishDelayed(returnKey('q', 'none', this.consumer.queue), this.message, delayMs, headers);
      else await transport.confirmPublish('', this.consumer.queue, this.message, headers, true, this.consumer.queue);
    } catch (error) {
      if (this.consumer.isCurrent(this.channel)) this.toBroker(false);
      throw error;
    }
    if (this.consumer.isCurrent(this.channel)) this.toBroker(true);
  }

  protected async onDeadLetter(failure: DeadLetterFailure): Promise<void> {
    try {
      await this.deadLetterAtBroker(failure);
    } finally {
      this.consumer.finished?.(this);
    }
  }

  private async deadLetterAtBroker(failure: DeadLetterFailure): Promise<void> {
    if (!this.live()) return;
    const queue = this.consumer.queue;
    try {
      await this.consumer.transport.confirmPublish(
        '',
        queue + DEAD_LETTER_SUFFIX,
        this.message,
        { ...this.message.headers, [TransportHeader.Failure]: JSON.stringify(failure), [TransportHeader.Queue]: queue },
        true,
        queue + DEAD_LETTER_SUFFIX,
      );
    } catch (error) {
      if (this.consumer.isCurrent(this.channel)) this.toBroker(false);
      throw error;
    }
    if (this.consumer.isCurrent(this.channel)) this.toBroker(true);
  }

  /** Puts back an un-yielded delivery. */
  requeue(): void {
    if (this.settleOnce() && this.live()) this.toBroker(false);
  }
}
