/**
 * Publishing on the transport's confirm channel: to a type's exchange, to a queue, with a delay (a
 * delay bucket, or a cancellable scheduled message's own queue).
 *
 * `confirmPublish` resolves when the broker confirmed; a nack rejects with `PublishRejectedError`,
 * an unroutable mandatory message with `UnroutableError`. Messages are persistent. A publish during
 * an outage waits for the reconnect, up to `publishTimeout` and `maxBuffered` waiting publishes,
 * then fails with a `TransportError`. While the socket cannot take more, publishes wait for it to
 * drain instead of piling up in memory.
 *
 * @example
 * ```ts
 * await publisher.publish('shop.order-placed', message);
 * await publisher.send('billing', message, { notBefore: Date.now() + 5_000 });
 * ```
 * @module
 */
import type * as amqp from 'amqplib';
import { ConfigurationError, PublishRejectedError, TransportError, UnroutableError, type TransportMessage } from '@missive/core';
import { isExactTopic, TransportHeader, type EnqueueOptions } from '@missive/core/transport';
import type { Republisher } from './consumer-host.js';
import type { ResolvedRabbitMqOptions } from './rabbitmq-options.js';
import { ReplyCode, replyCode } from './reply-codes.js';
import {
  DELAY_EXCHANGE,
  KEYED_EXCHANGE,
  MAX_DELAY_MS,
  RETURN_EXCHANGE,
  delayBucket,
  isTypeExchange,
  returnKey,
  scheduledQueue,
  sendKey,
  slotOf,
  typeKey,
} from './topology.js';
import { CONTENT_TYPE, DELAY_HEADER } from './wire.js';

/**
 * How long the broker may refuse every publish on one publisher channel, with none confirmed in
 * between, before the channel is replaced (see `RabbitConnection.renewPublisher`): a channel can keep
 * refusing after a quorum queue's leader died while a new channel is confirmed at once.
 */
export const RENEW_REFUSING_CHANNEL_MS = 1_000;

/** How long a scheduled message's queue outlives the message, so a late `cancel` finds nothing instead of racing a new queue. */
const SCHEDULED_GRACE_MS = 60_000;

/** What publishing needs of the live connection. */
export interface PublishLink {
  readonly open: boolean;
  /** The publisher channel when usable at once, else undefined. */
  readonly publisherNow: amqp.ConfirmChannel | undefined;
  /** Waits for a usable publisher channel (`publishing`: also while the broker blocks publishes). */
  publisherChannel(publishing?: boolean): Promise<amqp.ConfirmChannel>;
  isPublisher(channel: amqp.Channel): boolean;
  /** Replaces `stale`, the publisher channel, with a new one on the same connection (no-op if it is not current). */
  renewPublisher(stale: amqp.ConfirmChannel): Promise<void>;
  adminChannel(): Promise<amqp.Channel>;
  /** One of a pool of channels, for declarations many callers make at once. */
  rpcChannel(): Promise<amqp.Channel>;
}

/** What publishing needs of the declarations: the type exchanges. */
export interface TypeExchanges {
  /** Resolves once the type's exchange exists; undefined when it is known to. */
  typeExchange(type: string): Promise<void> | undefined;
  forgetType(type: string): void;
}

/** The publisher. */
export class RabbitPublisher implements Republisher {
  private readonly returned = new Map<string, amqp.Message>();
  /** Publisher channels the broker closed with 404: a publish to an exchange that no longer exists. */
  private readonly closedByNotFound = new WeakSet<amqp.Channel>();
  /** Delay queues declared on this connection. */
  private readonly delayQueues = new Set<number>();
  /** When each publisher channel that keeps refusing began to (cleared by a confirm on it). */
  private readonly refusingSince = new WeakMap<amqp.Channel, number>();
  /** Set while the publisher's socket buffer is full (see `waitForDrain`). */
  private draining: Promise<void> | undefined;

  constructor(
    private readonly link: PublishLink,
    private readonly exchanges: TypeExchanges,
    private readonly options: ResolvedRabbitMqOptions,
  ) {}

  /** A new publisher channel: returned messages and a 404 close are noted on it. Delay queues are declared again on it. */
  prepare(publisher: amqp.ConfirmChannel): void {
    this.delayQueues.clear();
    publisher.on('return', (message: amqp.Message) => {
      const id = message.properties.messageId as string | undefined;
      if (id !== undefined) this.returned.set(id, message);
    });
    publisher.on('error', (error: Error) => {
      // A publish to a type exchange someone deleted closes the channel: its publishes declare their exchanges again (`confirmPublish`).
      if (replyCode(error) === ReplyCode.NotFound) this.closedByNotFound.add(publisher);
    });
  }

  // `publish` and `send` are not `async`: a message that goes out at once costs one promise (the
  // confirm's) instead of three, and, with a context manager's promise hook on (the OpenTelemetry
  // Node SDK's), two more for the awaits. A throw still becomes a rejection.
  publish(topic: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    try {
      if (!isExactTopic(topic)) throw new ConfigurationError(`cannot publish to a wildcard topic "${topic}"`);
      const delay = options?.notBefore === undefined ? 0 : options.notBefore - Date.now();
      const slot = slotOf(message.partitionKey);
      if (delay > 0) return this.delayed(returnKey('t', slot, topic), message, delay, options?.scheduleId);
      const mandatory = options?.mandatory === true;
      const declaring = this.exchanges.typeExchange(topic);
      if (declaring !== undefined)
        return declaring.then(() => this.confirmPublish(topic, typeKey(slot, topic), message, message.headers, mandatory, topic));
      return this.confirmPublish(topic, typeKey(slot, topic), message, message.headers, mandatory, topic);
    } catch (error) {
      return rejection(error);
    }
  }

  send(queue: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    try {
      const delay = options?.notBefore === undefined ? 0 : options.notBefore - Date.now();
      const slot = slotOf(message.partitionKey);
      if (delay > 0) return this.delayed(returnKey('q', slot, queue), message, delay, options?.scheduleId);
      if (slot === 'none') return this.confirmPublish('', queue, message, message.headers, true, queue);
      return this.confirmPublish(KEYED_EXCHANGE, sendKey(slot, queue), message, message.headers, true, queue);
    } catch (error) {
      return rejection(error);
    }
  }

  /** A message with a schedule id waits alone, so it can be cancelled; any other in its delay bucket. */
  private delayed(routingKey: string, message: TransportMessage, delayMs: number, scheduleId: string | undefined): Promise<void> {
    if (delayMs > MAX_DELAY_MS) {
      throw new ConfigurationError(
        `RabbitMQ holds a message at most ${MAX_DELAY_MS} ms (48.6 days; its TTLs are 32-bit); ${message.id} was to wait ${Math.round(delayMs)} ms`,
      );
    }
    return scheduleId === undefined
      ? this.publishDelayed(routingKey, message, delayMs)
      : this.publishScheduled(routingKey, message, delayMs, scheduleId);
  }

  /**
   * Puts a scheduled message in a queue of its own, `missive.scheduled.<scheduleId>`, whose TTL is
   * the delay (exact, not bucketed) and which dead-letters it to `missive.delay.return` with its
   * routing key home. `cancelScheduled` deletes that queue. The queue deletes itself
   * {@link SCHEDULED_GRACE_MS} after the message left.
   */
  private async publishScheduled(routingKey: string, message: TransportMessage, delayMs: number, scheduleId: string): Promise<void> {
    const name = scheduledQueue(scheduleId);
    const ttl = Math.max(1, Math.ceil(delayMs));
    const channel = await this.link.rpcChannel();
    await channel.assertQueue(name, {
      durable: true,
      arguments: {
        'x-queue-type': 'classic',
        'x-message-ttl': ttl,
        'x-dead-letter-exchange': RETURN_EXCHANGE,
        'x-dead-letter-routing-key': routingKey,
        'x-expires': ttl + SCHEDULED_GRACE_MS,
      },
    });
    await this.confirmPublish('', name, message, message.headers, true, name);
  }

  /** Sends to the delay queue of the delay's bucket; it comes back through `missive.delay.return` by `routingKey`. */
  async publishDelayed(
    routingKey: string,
    message: TransportMessage,
    delayMs: number,
    headers: Readonly<Record<string, string>> = message.headers,
  ): Promise<void> {
    const bucket = delayBucket(delayMs);
    if (!this.delayQueues.has(bucket)) {
      const channel = await this.link.adminChannel();
      const name = `${DELAY_EXCHANGE}.${bucket}`;
      await channel.assertQueue(name, {
        durable: true,
        arguments: { 'x-message-ttl': bucket, 'x-dead-letter-exchange': RETURN_EXCHANGE, 'x-expires': bucket + 10 * 60_000 },
      });
      // Headers exchanges ignore binding arguments named x-…: the bucket header must not be one.
      await channel.bindQueue(name, DELAY_EXCHANGE, '', { 'x-match': 'all', [DELAY_HEADER]: String(bucket) });
      this.delayQueues.add(bucket);
    }
    await this.confirmPublish(DELAY_EXCHANGE, routingKey, message, { ...headers, [DELAY_HEADER]: String(bucket) }, false, routingKey);
  }

  /**
   * Publishes with a confirm; rejects on return (mandatory), on channels that keep dying, and on a
   * nack that lasts (each for `publishTimeout` after the first try): a broker nacks while a quorum
   * queue elects a new leader (its old one's node died), so a nacked publish is tried again with
   * backoff (50 ms doubling to 1 s) until `publishTimeout` has passed since the first try, then
   * fails with `PublishRejectedError`. A publisher channel that refused everything for
   * {@link RENEW_REFUSING_CHANNEL_MS} is replaced by a new one.
   *
   * The first try, when the publisher channel is there and the socket takes more, is made at once
   * and costs one promise, the confirm's; anything else goes through {@link tryPublishing}.
   */
  confirmPublish(
    exchange: string,
    routingKey: string,
    message: TransportMessage,
    headers: Readonly<Record<string, unknown>>,
    mandatory: boolean,
    destination: string,
  ): Promise<void> {
    const publish = outgoing(exchange, routingKey, message, headers, mandatory, destination);
    const started = Date.now();
    const channel = this.draining === undefined ? this.link.publisherNow : undefined;
    if (channel === undefined) return this.tryPublishing(publish, started, undefined);
    return new Promise<void>((resolve, reject) => {
      let retrying = false; // once: a channel that calls back with an error and then throws is one failed try
      const failed = (error: unknown): void => {
        if (retrying) return;
        retrying = true;
        resolve(this.tryPublishing(publish, started, { channel, error }));
      };
      try {
        const accepted = channel.publish(exchange, routingKey, publish.body, publish.properties, (error: unknown) => {
          if (error !== null && error !== undefined) failed(rejected(publish, error));
          else {
            const unroutable = this.confirmed(channel, publish);
            if (unroutable === undefined) resolve();
            else reject(unroutable);
          }
        });
        if (!accepted) this.waitForDrain(channel);
      } catch (error) {
        failed(error);
      }
    });
  }

  /** The broker confirmed `publish` on `channel`: the channel no longer refuses. The error to fail with if it returned the message. */
  private confirmed(channel: amqp.ConfirmChannel, publish: Outgoing): UnroutableError | undefined {
    this.refusingSince.delete(channel);
    return this.returned.delete(publish.message.id) ? new UnroutableError(publish.destination) : undefined;
  }

  /**
   * The tries of {@link confirmPublish} (see there): from the first, or, with `first`, after a first
   * try on `first.channel` that failed with `first.error`.
   */
  private async tryPublishing(
    publish: Outgoing,
    started: number,
    first: { readonly channel: amqp.ConfirmChannel; readonly error: unknown } | undefined,
  ): Promise<void> {
    const { exchange, routingKey, message, destination } = publish;
    let refusals = 0;
    let previous: amqp.ConfirmChannel | undefined;
    let failure = first;
    for (let attempt = 1; ; attempt++) {
      let channel: amqp.ConfirmChannel;
      let error: unknown;
      if (failure !== undefined) {
        ({ channel, error } = failure);
        failure = undefined;
        previous = channel;
      } else {
        while (this.draining !== undefined) await this.draining; // a drain lets waiters go one buffer-full at a time
        channel = this.link.publisherNow ?? (await this.link.publisherChannel(true));
        if (attempt > 1 && isTypeExchange(exchange)) {
          // The channel may have died of a publish to a type exchange deleted under us: declare it again.
          if (previous !== undefined && this.closedByNotFound.has(previous)) this.exchanges.forgetType(exchange);
          const declaring = this.exchanges.typeExchange(exchange);
          if (declaring !== undefined) await declaring;
        }
        previous = channel;
        try {
          await new Promise<void>((resolve, reject) => {
            const accepted = channel.publish(exchange, routingKey, publish.body, publish.properties, (failed: unknown) => {
              if (failed !== null && failed !== undefined) reject(rejected(publish, failed));
              else resolve();
            });
            if (!accepted) this.waitForDrain(channel);
          });
        } catch (thrown) {
          error = thrown;
        }
        if (error === undefined) {
          const unroutable = this.confirmed(channel, publish);
          if (unroutable !== undefined) throw unroutable;
          return;
        }
      }
      if (error instanceof PublishRejectedError && this.link.isPublisher(channel)) {
        const pause = Math.min(1000, 50 * 2 ** refusals++);
        if (Date.now() + pause - started > this.options.publishTimeoutMs || !this.link.open) {
          throw new PublishRejectedError(
            `RabbitMQ refused message ${message.id} to ${destination} ${refusals} times over ${Date.now() - started} ms (publishTimeout ${this.options.publishTimeoutMs} ms)`,
            { cause: error },
          );
        }
        const since = this.refusingSince.get(channel) ?? Date.now();
        this.refusingSince.set(channel, since);
        if (Date.now() - since >= RENEW_REFUSING_CHANNEL_MS) await this.link.renewPublisher(channel).catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, pause));
        attempt--; // a refusal is not a dead channel
        continue;
      }
      // The channel died before the confirm: publish again on the next one (at least once). In a
      // cluster losing a node, channels can die several times in a row: keep trying, with backoff
      // from the third try, until publishTimeout has passed since the first.
      if (attempt >= 3 && (Date.now() - started >= this.options.publishTimeoutMs || !this.link.open)) {
        throw new TransportError(`publish of ${message.id} to ${destination} failed: ${(error as Error).message}`, { cause: error });
      }
      if (attempt >= 3) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** (attempt - 3))));
    }
  }

  /**
   * The socket's write buffer is full: later publishes wait until the channel drains (or dies), so
   * a fast publisher cannot pile messages up in memory faster than the network takes them.
   */
  private waitForDrain(channel: amqp.ConfirmChannel): void {
    if (this.draining !== undefined) return;
    this.draining = new Promise<void>((resolve) => {
      const done = (): void => {
        channel.off('drain', done);
        channel.off('close', done);
        this.draining = undefined;
        resolve();
      };
      channel.on('drain', done);
      channel.on('close', done);
    });
  }
}

/** One message to publish with a confirm, as {@link RabbitPublisher.confirmPublish} was given it. */
interface Outgoing {
  readonly exchange: string;
  readonly routingKey: string;
  readonly message: TransportMessage;
  readonly body: Buffer;
  readonly properties: amqp.Options.Publish;
  readonly destination: string;
}

function outgoing(
  exchange: string,
  routingKey: string,
  message: TransportMessage,
  headers: Readonly<Record<string, unknown>>,
  mandatory: boolean,
  destination: string,
): Outgoing {
  const body = Buffer.isBuffer(message.body)
    ? message.body
    : Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength);
  // amqplib reads the headers without changing them (it layers its own on top), so they are passed as they are.
  const properties = {
    persistent: true,
    mandatory,
    messageId: message.id,
    type: message.type,
    contentType: CONTENT_TYPE,
    headers: message.partitionKey === undefined ? headers : { ...headers, [TransportHeader.PartitionKey]: message.partitionKey },
  };
  return { exchange, routingKey, message, body, properties, destination };
}

/** The error of a publish the broker nacked. */
function rejected(publish: Outgoing, cause: unknown): PublishRejectedError {
  return new PublishRejectedError(`RabbitMQ refused message ${publish.message.id} to ${publish.destination}`, { cause });
}

/**
 * A promise rejected with exactly what was thrown, as an `async` function that threw it would
 * return (`publish` and `send` are not `async`, to save their promises, but keep that contract).
 */
function rejection(thrown: unknown): Promise<never> {
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the thrown value, unchanged
  return Promise.reject(thrown);
}
