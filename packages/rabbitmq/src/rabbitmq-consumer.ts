/**
 * A consumer of one queue on its own channel (prefetch = the consumer's prefetch, manual acks),
 * and its deliveries. After a reconnect the consumer resumes on a new channel; deliveries of the
 * dead channel are stale and settling them is a no-op (the broker already requeued them), so no
 * "unknown delivery tag" error can close a channel.
 *
 * `nack` without options requeues; with a delay or new headers the message is republished (to its
 * delay bucket, or straight back to the queue), confirmed, and only then acked.
 *
 * @example
 * ```ts
 * for await (const delivery of transport.consume('billing', { prefetch: 10 })) await delivery.ack();
 * ```
 * @module
 */
import type * as amqp from 'amqplib';
import { Header, TransportError, type DeadLetterFailure, type TransportMessage } from '@missive/core';
import { BufferedConsumer, SettleOnceDelivery, TransportHeader, bytesView, isTransportHeader, type NackOptions } from '@missive/core/transport';
import { Latch } from './latch.js';
import { ReplyCode, replyCode } from './reply-codes.js';
import { returnKey } from './topology.js';
import { CONTENT_TYPE, DEAD_LETTER_SUFFIX, DELAY_HEADER, REPUBLISHED, type RabbitMqTransport } from './rabbitmq-transport.js';

/** Missive's headers of an AMQP message (its `x-` headers are the broker's). */
export function missiveHeaders(message: amqp.Message): Record<string, string> {
  const out: Record<string, string> = {};
  const headers = message.properties.headers;
  // A loop over the keys rather than Object.entries: this runs for every delivery, mostly on no headers.
  for (const key in headers) {
    if (!Object.hasOwn(headers, key)) continue;
    const value = headers[key];
    if (!isTransportHeader(key) && key !== DELAY_HEADER && value !== undefined && value !== null) out[key] = typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  }
  return out;
}

/** A count a header carries: a whole number from 0, else 0 (anyone who can publish can write it). */
function wholeCount(value: unknown): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' || Buffer.isBuffer(value) ? Number(String(value)) : Number.NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

/** Earlier deliveries the broker counted: a quorum queue's `x-delivery-count`, else the redelivered flag. */
export function brokerRedeliveries(headers: Readonly<Record<string, unknown>>, redelivered: boolean): number {
  const counted = headers['x-delivery-count'];
  return counted !== undefined && counted !== null ? Math.max(wholeCount(counted), redelivered ? 1 : 0) : redelivered ? 1 : 0;
}

/** Deliveries made before the message was republished (delayed nack); never negative. */
export function republishedCount(value: unknown): number {
  return value === undefined || value === null ? 0 : wholeCount(value);
}

/** The transport message of an AMQP message. */
export function transportMessage(message: amqp.Message): TransportMessage {
  const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
  const key = headers[TransportHeader.PartitionKey];
  const { contentType, contentEncoding } = message.properties as { contentType?: string; contentEncoding?: string };
  let missive = missiveHeaders(message);
  // The bus checks what the body claims to be against its codec; the usual case costs nothing.
  if ((contentType !== undefined && contentType !== CONTENT_TYPE) || contentEncoding !== undefined) {
    missive = { ...missive };
    if (contentType !== undefined && contentType !== CONTENT_TYPE) missive[Header.ContentType] = contentType;
    if (contentEncoding !== undefined) missive[Header.ContentEncoding] = contentEncoding;
  }
  return {
    id: String(message.properties.messageId ?? ''),
    type: String(message.properties.type ?? ''),
    body: bytesView(message.content),
    headers: missive,
    partitionKey: typeof key === 'string' ? key : Buffer.isBuffer(key) ? key.toString('utf8') : undefined,
  };
}

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
  readonly transport: RabbitMqTransport;
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
    return new RabbitDelivery(this.consumer, this.channel, this.raw, this.generation, { headers: headers ?? this.message.headers, deliveryCount: this.deliveryCount + 1 });
  }

  /** Whether this delivery's channel is still the one that can settle it (checked once settled). */
  private live(): boolean {
    return this.generation === this.consumer.transport.generation && this.consumer.isCurrent(this.channel);
  }

  protected async onAck(): Promise<void> {
    if (this.live()) this.toBroker(true);
    this.consumer.finished?.(this);
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
  private reopenTimer: NodeJS.Timeout | undefined;
  private reopenDelayMs = REOPEN_MIN_MS;
  private readonly started = new Latch();

  constructor(
    readonly transport: RabbitMqTransport,
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
    channel.on('error', (error: Error) => this.transport.logger.warn({ err: error.message }, `rabbitmq consumer channel of ${this.queue} failed`));
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
        if (replyCode(error) === ReplyCode.NotFound) this.fail(error); // deleted; not a queue that is still starting
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
    this.started.fail(new TransportError(`cannot consume queue "${this.queue}": ${(error as Error).message}`, { cause: error, retryable: false }));
    void this.close();
  }

  private push(delivery: RabbitDelivery): void {
    if (delivery.channel === this.channel) this.outstanding.add(delivery.tag);
    this.offer(delivery);
  }

  /** @internal */
  override settled(delivery: RabbitDelivery): void {
    super.settled(delivery);
    if (this.buffer.closed && this.buffer.yielded.length === 0) {
      // After this turn, so the ack of the delivery being settled goes out before the channel closes.
      setImmediate(() => {
        this.transport.forget(this);
        this.flushAcks();
        void this.channel?.close().catch(() => undefined);
      });
    }
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
    if (this.buffer.yielded.length === 0) {
      this.transport.forget(this);
      await channel?.close().catch(() => undefined);
    }
    // Otherwise the transport keeps it until the last yielded delivery is settled, or until
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
