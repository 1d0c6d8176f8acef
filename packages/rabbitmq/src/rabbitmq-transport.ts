/**
 * The RabbitMQ transport (amqplib).
 *
 * Topology, declared idempotently and again after every reconnect:
 *
 * | name | kind | role |
 * | --- | --- | --- |
 * | `missive.topics` | topic exchange, durable | every event and routed command is published here with its type as routing key; endpoint queues bind their exact topics and wildcard patterns |
 * | `<endpoint>` | quorum queue (classic by option), durable | the endpoint's messages; commands sent straight to it go through the default exchange |
 * | `<endpoint>.dead-letters` | same type, durable | the endpoint's dead letters: the original message, the failure in the `x-missive-failure` header |
 * | `missive.delay` | headers exchange | routes delayed messages to the delay queue of their bucket |
 * | `missive.delay.<ms>` | classic queue with `x-message-ttl` = ms, expiring when unused | holds delayed messages, then dead-letters them to `missive.delay.return` |
 * | `missive.delay.return` | topic exchange | routes them home: `q.<endpoint>` to a queue, `t.<topic>` to the queues bound to a topic |
 * | `missive.keyed` | topic exchange | messages with a partition key: `<p>.t.<topic>` / `<p>.q.<queue>`; see `partitions.ts` |
 * | `<endpoint>.partition-<p>` | single-active-consumer queue | an ordered endpoint's keyed messages (`OrderedConsumer`) |
 * | `missive.control` | direct exchange | an ordered endpoint's instances ask each other to rebalance |
 *
 * Publishing uses a confirm channel: `publish` resolves when the broker confirmed; a nack rejects
 * with `PublishRejectedError`, an unroutable mandatory message with `UnroutableError`. Messages are
 * persistent. Each consumer has its own channel with `prefetch`, manual acks. On connection loss
 * amqplib reconnects with capped exponential backoff and jitter; the transport recreates its
 * channels, re-declares what it declared and resumes its consumers; deliveries from the dead channel
 * become no-ops when settled (no "unknown delivery tag"). A publish during the outage waits, up to
 * `publishTimeout` and `maxBuffered` waiting publishes, then fails with a `TransportError`.
 *
 * @example
 * ```ts
 * const bus = createBus({ service: 'shop', transport: 'amqp://guest:guest@127.0.0.1:5672' });
 * ```
 * @module
 */
import * as amqp from 'amqplib';
import {
  BusStateError,
  ConfigurationError,
  ErrorCode,
  PublishRejectedError,
  TransportError,
  UnroutableError,
  consoleLogger,
  isExactTopic,
  redactUrl,
  topicMatcher,
  type Consumer,
  type DeadLetterStore,
  type EnqueueOptions,
  type Logger,
  type QueueInfo,
  type QueueSpec,
  type Transport,
  type TransportCapabilities,
  type TransportMessage,
} from '@missive/core';
import { RabbitConsumer } from './rabbitmq-consumer.js';
import { OrderedConsumer } from './rabbitmq-ordered-consumer.js';
import { CONTROL_EXCHANGE, KEYED_EXCHANGE, PARTITIONS, keyedRoutingKey, partitionOf, partitionQueue } from './partitions.js';
import { RabbitDeadLetters } from './rabbitmq-dead-letters.js';
import { resolveRabbitMqOptions, type RabbitMqOptions, type ResolvedRabbitMqOptions } from './rabbitmq-options.js';

export const TOPICS_EXCHANGE = 'missive.topics';
export const DELAY_EXCHANGE = 'missive.delay';
export const RETURN_EXCHANGE = 'missive.delay.return';
export const DEAD_LETTER_SUFFIX = '.dead-letters';
/** Header holding the number of republishes of a message (nack with new headers, delays). */
export const REPUBLISHED = 'x-missive-republished';
/** Header that routes a delayed message to its delay queue; dropped from the message's headers on delivery. */
export const DELAY_HEADER = 'missive-delay-bucket';

/** Dependencies a factory passes in. */
export interface RabbitMqDeps {
  readonly logger?: Logger;
}

/** The smallest bucket ≥ `ms` with two significant digits: at most ~10 % late, a bounded set of delay queues. */
export function delayBucket(ms: number): number {
  if (ms <= 10) return 10;
  const magnitude = 10 ** (Math.floor(Math.log10(ms)) - 1);
  return Math.ceil(ms / magnitude) * magnitude;
}

/** The RabbitMQ transport. */
export class RabbitMqTransport implements Transport {
  readonly kind = 'rabbitmq';
  readonly capabilities: TransportCapabilities = Object.freeze({ delayedDelivery: true, cancelScheduled: false, orderingKeys: true, multiProcess: true });
  readonly deadLetters: DeadLetterStore;
  readonly options: ResolvedRabbitMqOptions;
  readonly logger: Logger;
  private model: amqp.RecoveringChannelModel | undefined;
  private connection: amqp.ChannelModel | undefined;
  private publisher: amqp.ConfirmChannel | undefined;
  private admin: amqp.Channel | undefined;
  /** Grows with every (re)connection; deliveries of older generations are stale. */
  generation = 0;
  private state: 'new' | 'open' | 'closed' = 'new';
  private readonly declared = new Map<string, QueueSpec>();
  private readonly delayQueues = new Set<number>();
  private readonly consumers = new Set<RabbitConsumer | OrderedConsumer>();
  private readonly returned = new Map<string, amqp.Message>();
  private waiters: { resolve: () => void; reject: (error: Error) => void; timer: NodeJS.Timeout }[] = [];
  private ready: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: RabbitMqOptions, deps: RabbitMqDeps = {}) {
    this.options = resolveRabbitMqOptions(options);
    this.logger = deps.logger ?? consoleLogger('warn');
    this.deadLetters = new RabbitDeadLetters(this);
  }

  /** The URL without its password, for messages. */
  get safeUrl(): string {
    return redactUrl(this.options.url);
  }

  async connect(): Promise<void> {
    if (this.state === 'open') return;
    if (this.state === 'closed') throw new BusStateError(ErrorCode.Closed, 'rabbitmq transport is closed');
    this.state = 'open';
    const model = await amqp.connect(this.options.url, {
      ...this.options.socketOptions,
      recovery: { initialDelay: 100, maxDelay: 10_000, factor: 2, jitter: 0.2, initialMaxRetries: 2, maxRetries: Number.POSITIVE_INFINITY, waitForConnect: false },
    });
    this.model = model;
    model.on('error', (error: Error) => {
      if (this.state === 'open') this.logger.warn('rabbitmq connection error', { error: error.message });
    });
    model.on('disconnect', (error: Error) => this.onDisconnect(error));
    model.on('connect', (connection: amqp.ChannelModel) => {
      this.ready = this.onConnect(connection);
      this.ready.catch((error: unknown) => this.logger.error('rabbitmq setup after connect failed', { error }));
    });
    model.on('reconnect-scheduled', (info: { attempt: number; delay: number }) => this.logger.info(`rabbitmq reconnect ${info.attempt} in ${info.delay} ms`));
    model.on('reconnect-failed', (error: Error) => this.logger.error('rabbitmq gave up reconnecting', { error: error.message }));
    try {
      await model.waitForConnect();
      await this.ready;
    } catch (error) {
      await model.close().catch(() => undefined);
      this.state = 'closed';
      throw new TransportError(`cannot connect to RabbitMQ at ${this.safeUrl}: ${(error as Error).message}`, { cause: error, retryable: false });
    }
  }

  private async onConnect(connection: amqp.ChannelModel): Promise<void> {
    if (this.connection === connection && this.publisher !== undefined) return;
    this.connection = connection;
    this.generation++;
    const publisher = await connection.createConfirmChannel();
    publisher.on('return', (message: amqp.Message) => {
      const id = message.properties.messageId as string | undefined;
      if (id !== undefined) this.returned.set(id, message);
    });
    publisher.on('error', () => undefined);
    publisher.on('close', () => {
      if (this.publisher === publisher) this.publisher = undefined;
    });
    this.admin = await this.adminChannel(connection);
    await this.admin.assertExchange(TOPICS_EXCHANGE, 'topic', { durable: true });
    await this.admin.assertExchange(DELAY_EXCHANGE, 'headers', { durable: true });
    await this.admin.assertExchange(RETURN_EXCHANGE, 'topic', { durable: true });
    await this.admin.assertExchange(KEYED_EXCHANGE, 'topic', { durable: true });
    await this.admin.assertExchange(CONTROL_EXCHANGE, 'direct', { durable: true });
    this.delayQueues.clear();
    for (const spec of this.declared.values()) await this.declareOn(this.admin, spec);
    this.publisher = publisher;
    for (const consumer of this.consumers) await consumer.resume(connection).catch((error: unknown) => this.logger.error(`cannot resume the consumer of ${consumer.queue}`, { error }));
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
  }

  private async adminChannel(connection: amqp.ChannelModel): Promise<amqp.Channel> {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    channel.on('close', () => {
      if (this.admin === channel) this.admin = undefined;
    });
    return channel;
  }

  private onDisconnect(error: Error): void {
    if (this.state !== 'open') return;
    this.logger.warn(`rabbitmq connection lost (${error.message}); reconnecting`);
    this.publisher = undefined;
    this.admin = undefined;
    this.connection = undefined;
    for (const consumer of this.consumers) consumer.lost();
  }

  /** Waits for a usable publisher channel, within the outage limits. */
  private async channel(): Promise<amqp.ConfirmChannel> {
    if (this.state !== 'open') throw new BusStateError(this.state === 'new' ? ErrorCode.NotStarted : ErrorCode.Closed, `rabbitmq transport is ${this.state === 'new' ? 'not connected' : 'closed'}`);
    if (this.publisher !== undefined) return this.publisher;
    if (this.connection !== undefined) {
      await this.onConnect(this.connection).catch(() => undefined);
      if (this.publisher !== undefined) return this.publisher;
    }
    if (this.waiters.length >= this.options.maxBuffered) {
      throw new TransportError(`rabbitmq connection is down and ${this.waiters.length} publishes are already waiting (maxBuffered)`);
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new TransportError(`rabbitmq connection did not come back within ${this.options.publishTimeoutMs} ms (publishTimeout); the message was not published`));
      }, this.options.publishTimeoutMs);
      this.waiters.push({ resolve, reject, timer });
    });
    return this.channel();
  }

  /** An admin channel, recreated if a declaration closed it. */
  async adminChannelNow(): Promise<amqp.Channel> {
    if (this.admin !== undefined) return this.admin;
    await this.channel();
    this.admin ??= await this.adminChannel(this.connection!);
    return this.admin;
  }

  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    if (this.state !== 'open') {
      this.state = 'closed';
      return;
    }
    this.state = 'closed';
    for (const consumer of [...this.consumers]) await consumer.close().catch(() => undefined);
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new BusStateError(ErrorCode.Closed, 'rabbitmq transport closed'));
    }
    try {
      await this.publisher?.waitForConfirms();
    } catch {
      /* confirms of a dying channel */
    }
    await this.model?.close().catch(() => undefined);
  }

  async declare(spec: QueueSpec): Promise<void> {
    for (const pattern of spec.topics) topicMatcher(pattern);
    const previous = this.declared.get(spec.name);
    const merged: QueueSpec =
      previous === undefined ? spec : { ...spec, topics: [...new Set([...previous.topics, ...spec.topics])], ordered: previous.ordered === true || spec.ordered === true };
    await this.declareOn(await this.adminChannelNow(), merged);
    this.declared.set(spec.name, merged);
  }

  /** Whether `queue` was declared ordered by this connection: its keyed messages go to partition queues. */
  isOrdered(queue: string): boolean {
    return this.declared.get(queue)?.ordered === true;
  }

  private async declareOn(channel: amqp.Channel, spec: QueueSpec): Promise<void> {
    const temporary = spec.temporary === true;
    const ordered = !temporary && spec.ordered === true;
    const args = temporary ? {} : { 'x-queue-type': this.options.queueType };
    try {
      await channel.assertQueue(spec.name, temporary ? { exclusive: true, autoDelete: true, durable: false } : { durable: true, arguments: args });
      if (!temporary) await channel.assertQueue(spec.name + DEAD_LETTER_SUFFIX, { durable: true, arguments: args });
      const partitionArgs = { ...args, 'x-single-active-consumer': true };
      if (ordered) for (let i = 0; i < PARTITIONS; i++) await channel.assertQueue(partitionQueue(spec.name, i), { durable: true, arguments: partitionArgs });
    } catch (error) {
      this.admin = undefined;
      const text = (error as Error).message;
      if (/PRECONDITION_FAILED/.test(text)) {
        throw new ConfigurationError(
          `queue "${spec.name}" already exists on ${this.safeUrl} with different settings: ${text.replace(/^.*PRECONDITION_FAILED - /, '')}. Delete it, or declare it the same way (queueType=${this.options.queueType})`,
          { cause: error },
        );
      }
      throw new TransportError(`cannot declare queue "${spec.name}": ${text}`, { cause: error });
    }
    await channel.bindQueue(spec.name, RETURN_EXCHANGE, `q.${spec.name}`);
    for (const topic of spec.topics) {
      await channel.bindQueue(spec.name, TOPICS_EXCHANGE, topic);
      await channel.bindQueue(spec.name, RETURN_EXCHANGE, `t.${topic}`);
    }
    // Keyed messages: to the partition of their key on an ordered queue, else to the queue itself.
    const targets = ordered ? Array.from({ length: PARTITIONS }, (_, i) => ({ queue: partitionQueue(spec.name, i), slot: i })) : [{ queue: spec.name, slot: '*' as const }];
    for (const { queue, slot } of targets) {
      for (const [kind, name] of [['q', spec.name] as const, ...spec.topics.map((topic) => ['t', topic] as const)]) {
        await channel.bindQueue(queue, KEYED_EXCHANGE, keyedRoutingKey(slot, kind, name));
        await channel.bindQueue(queue, RETURN_EXCHANGE, `k.${keyedRoutingKey(slot, kind, name)}`);
      }
    }
  }

  async publish(topic: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    if (!isExactTopic(topic)) throw new ConfigurationError(`cannot publish to a wildcard topic "${topic}"`);
    const delay = options?.notBefore === undefined ? 0 : options.notBefore - Date.now();
    const key = message.partitionKey;
    if (key !== undefined) {
      const routingKey = keyedRoutingKey(partitionOf(key), 't', topic);
      if (delay > 0) return this.publishDelayed(`k.${routingKey}`, message, delay);
      return this.confirmPublish(KEYED_EXCHANGE, routingKey, message, message.headers, options?.mandatory === true, topic);
    }
    if (delay > 0) return this.publishDelayed(`t.${topic}`, message, delay);
    await this.confirmPublish(TOPICS_EXCHANGE, topic, message, message.headers, options?.mandatory === true, topic);
  }

  async send(queue: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    const delay = options?.notBefore === undefined ? 0 : options.notBefore - Date.now();
    const key = message.partitionKey;
    if (key !== undefined) {
      const routingKey = keyedRoutingKey(partitionOf(key), 'q', queue);
      if (delay > 0) return this.publishDelayed(`k.${routingKey}`, message, delay);
      return this.confirmPublish(KEYED_EXCHANGE, routingKey, message, message.headers, true, queue);
    }
    if (delay > 0) return this.publishDelayed(`q.${queue}`, message, delay);
    await this.confirmPublish('', queue, message, message.headers, true, queue);
  }

  /** Sends to the delay queue of the delay's bucket; it comes back through `missive.delay.return` by `routingKey`. */
  async publishDelayed(routingKey: string, message: TransportMessage, delayMs: number, headers: Readonly<Record<string, string>> = message.headers): Promise<void> {
    const bucket = delayBucket(delayMs);
    if (!this.delayQueues.has(bucket)) {
      const channel = await this.adminChannelNow();
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

  /** Publishes with a confirm; rejects on nack, on return (mandatory), and on a channel that died first. */
  async confirmPublish(exchange: string, routingKey: string, message: TransportMessage, headers: Readonly<Record<string, unknown>>, mandatory: boolean, destination: string): Promise<void> {
    const body = Buffer.isBuffer(message.body) ? message.body : Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength);
    // amqplib reads the headers without changing them (it layers its own on top), so they are passed as they are.
    const properties = {
      persistent: true,
      mandatory,
      messageId: message.id,
      type: message.type,
      contentType: 'application/cloudevents+json',
      headers: message.partitionKey === undefined ? headers : { ...headers, 'x-missive-partition-key': message.partitionKey },
    };
    for (let attempt = 1; ; attempt++) {
      const channel = this.state === 'open' && this.publisher !== undefined ? this.publisher : await this.channel();
      try {
        await new Promise<void>((resolve, reject) => {
          channel.publish(
            exchange,
            routingKey,
            body,
            properties,
            (error: unknown) => {
              if (error !== null && error !== undefined) reject(new PublishRejectedError(`RabbitMQ refused message ${message.id} to ${destination}`, { cause: error }));
              else resolve();
            },
          );
        });
      } catch (error) {
        if (error instanceof PublishRejectedError && this.publisher === channel) throw error;
        if (attempt >= 3) throw new TransportError(`publish of ${message.id} to ${destination} failed: ${(error as Error).message}`, { cause: error });
        continue; // the channel died before the confirm: publish again on the next one (at least once)
      }
      if (this.returned.delete(message.id)) throw new UnroutableError(destination);
      return;
    }
  }

  consume(queue: string, options: { readonly prefetch: number }): Consumer {
    if (this.state !== 'open') throw new BusStateError(ErrorCode.NotStarted, 'rabbitmq transport is not connected');
    const prefetch = Math.max(1, Math.floor(options.prefetch));
    const consumer = this.isOrdered(queue) ? new OrderedConsumer(this, queue, prefetch) : new RabbitConsumer(this, queue, prefetch);
    this.consumers.add(consumer);
    if (this.connection !== undefined) void consumer.resume(this.connection).catch((error: unknown) => consumer.fail(error));
    return consumer;
  }

  /** @internal */
  forget(consumer: RabbitConsumer | OrderedConsumer): void {
    this.consumers.delete(consumer);
  }

  async cancelScheduled(): Promise<boolean> {
    throw new ConfigurationError('the rabbitmq transport cannot cancel scheduled messages: delayed messages wait in TTL queues that cannot be searched');
  }

  /** Queues this connection declared, with their depths (RabbitMQ lists no queues over AMQP). */
  async queues(): Promise<QueueInfo[]> {
    const channel = await this.adminChannelNow();
    const out: QueueInfo[] = [];
    for (const spec of this.declared.values()) {
      let depth = (await channel.checkQueue(spec.name)).messageCount;
      if (spec.ordered === true) for (let i = 0; i < PARTITIONS; i++) depth += (await channel.checkQueue(partitionQueue(spec.name, i))).messageCount;
      const dead = spec.temporary === true ? { messageCount: 0 } : await channel.checkQueue(spec.name + DEAD_LETTER_SUFFIX);
      out.push({ name: spec.name, depth, inFlight: 0, deadLetters: dead.messageCount, topics: spec.topics });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async deleteQueue(name: string): Promise<void> {
    for (const consumer of [...this.consumers]) if (consumer.queue === name) await consumer.close();
    const partitioned = this.isOrdered(name) || (await this.queueExists(partitionQueue(name, 0)));
    this.declared.delete(name);
    const channel = await this.adminChannelNow();
    await channel.deleteQueue(name);
    await channel.deleteQueue(name + DEAD_LETTER_SUFFIX);
    if (partitioned) for (let i = 0; i < PARTITIONS; i++) await channel.deleteQueue(partitionQueue(name, i));
  }

  /** Whether the queue exists on the broker (a failed check closes a channel, so use a throwaway one). */
  async queueExists(name: string): Promise<boolean> {
    await this.channel();
    const probe = await this.connection!.createChannel();
    probe.on('error', () => undefined);
    try {
      await probe.checkQueue(name);
      await probe.close();
      return true;
    } catch {
      return false;
    }
  }

  /** A fresh channel on the current connection (dead-letter browsing). */
  async newChannel(): Promise<amqp.Channel> {
    await this.channel();
    const channel = await this.connection!.createChannel();
    channel.on('error', () => undefined);
    return channel;
  }
}
