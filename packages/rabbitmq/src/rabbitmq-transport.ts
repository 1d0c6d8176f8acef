/**
 * The RabbitMQ transport (amqplib).
 *
 * Topology, declared idempotently and again after every reconnect (names and routing keys in
 * `topology.ts`):
 *
 * | name | kind | role |
 * | --- | --- | --- |
 * | `<type>` | topic exchange, durable, one per message type | messages of the type, routing key `<slot>.<type>`; queues that handle the type bind here |
 * | `missive.topics` | topic exchange, durable | fed by every type's exchange; wildcard subscriptions (wire taps) bind here |
 * | `<endpoint>` | quorum queue (classic by option), durable | the endpoint's messages; commands sent straight to it go through the default exchange |
 * | `<endpoint>.dead-letters` | same type, durable | the endpoint's dead letters: the original message, the failure in the `x-missive-failure` header |
 * | `missive.delay` | headers exchange | routes delayed messages to the delay queue of their bucket |
 * | `missive.delay.<ms>` | classic queue with `x-message-ttl` = ms, expiring when unused | holds delayed messages, then dead-letters them to `missive.delay.return` |
 * | `missive.delay.return` | topic exchange | routes them home: `q.<slot>.<endpoint>` to a queue, `t.<slot>.<type>` to the queues bound to a type |
 * | `missive.keyed` | topic exchange | messages sent to a queue with a partition key: `<slot>.<queue>` |
 * | `<endpoint>.partition-<p>` | single-active-consumer queue | an ordered endpoint's keyed messages (`OrderedConsumer`) |
 * | `missive.control` | direct exchange | an ordered endpoint's instances ask each other to rebalance |
 * | `missive.scheduled.<id>` | classic queue, TTL = the delay | one cancellable scheduled message; `cancelScheduled` deletes it |
 * | `missive.registry` | stream | records of endpoint queues, for `queues()` (`queue-registry.ts`), and command claims (`rabbitmq-command-owners.ts`) |
 * | `missive.registry.snapshots` | stream | snapshots of the registry, so a new reader starts near its end (`registry-snapshot.ts`) |
 *
 * The transport puts its parts together, one file each:
 *
 * | part | file |
 * | --- | --- |
 * | the live connection: recovery, channels, waiting during an outage | `rabbitmq-connection.ts` |
 * | publishing with confirms, delays, scheduled messages | `rabbitmq-publisher.ts` |
 * | declarations: fixed exchanges, endpoint queues, type exchanges and the taps | `rabbitmq-declarations.ts` |
 * | the registry stream on this connection | `rabbitmq-registry.ts` (records: `queue-registry.ts`) |
 * | `queues()` | `rabbitmq-listing.ts` |
 * | consumers and deliveries | `rabbitmq-consumer.ts`, `rabbitmq-ordered-consumer.ts`, `rabbitmq-delivery.ts` |
 * | command owners, dead letters | `rabbitmq-command-owners.ts`, `rabbitmq-dead-letters.ts` |
 *
 * Publishing uses a confirm channel: `publish` resolves when the broker confirmed; a nack rejects
 * with `PublishRejectedError`, an unroutable mandatory message with `UnroutableError`. Messages are
 * persistent. Each consumer has its own channel with `prefetch`, manual acks. On connection loss
 * amqplib reconnects with capped exponential backoff and jitter; the transport sets the new
 * connection up once, re-declares what it declared and resumes its consumers; deliveries from the
 * dead channel become no-ops when settled (no "unknown delivery tag"). A publish during the outage
 * waits, up to `publishTimeout` and `maxBuffered` waiting publishes, then fails with a `TransportError`.
 *
 * @example
 * ```ts
 * const bus = createBus({ service: 'shop', transport: 'amqp://guest:guest@127.0.0.1:5672' });
 * ```
 * @module
 */
import type * as amqp from 'amqplib';
import {
  consoleLogger,
  redactUrl,
  type Logger,
  type QueueInfo,
  type Transport,
  type TransportCapabilities,
  type TransportMessage,
  type TransportStatus,
} from '@missive/core';
import {
  isExactTopic,
  type CommandOwnership,
  type Consumer,
  type DeadLetterStore,
  type EnqueueOptions,
  type QueueSpec,
} from '@missive/core/transport';
import type { ConsumerHost, DeadLetterHost } from './consumer-host.js';
import { PARTITIONS, partitionQueue } from './partitions.js';
import { appendRecord, deletionRecord, registryRecord, typesRecord } from './queue-registry.js';
import { RabbitCommandOwners } from './rabbitmq-command-owners.js';
import { RabbitConnection } from './rabbitmq-connection.js';
import { RabbitConsumer } from './rabbitmq-consumer.js';
import { RabbitDeadLetters } from './rabbitmq-dead-letters.js';
import { RabbitDeclarations } from './rabbitmq-declarations.js';
import { listQueues } from './rabbitmq-listing.js';
import { resolveRabbitMqOptions, type RabbitMqOptions, type ResolvedRabbitMqOptions } from './rabbitmq-options.js';
import { OrderedConsumer } from './rabbitmq-ordered-consumer.js';
import { RabbitPublisher } from './rabbitmq-publisher.js';
import { RabbitRegistry } from './rabbitmq-registry.js';
import { DEAD_LETTER_SUFFIX, checkTypeExchange, scheduledQueue } from './topology.js';

export { DEAD_LETTER_SUFFIX, MAX_DELAY_MS, delayBucket, scheduledQueue } from './topology.js';
export { CONTENT_TYPE, DELAY_HEADER, REPUBLISHED } from './wire.js';

/** An endpoint's default prefetch per handler on quorum queues (see `TransportCapabilities.prefetchPerHandler`). */
export const QUORUM_PREFETCH_PER_HANDLER = 8;

/** Dependencies a factory passes in. */
export interface RabbitMqDeps {
  readonly logger?: Logger;
}

/** The RabbitMQ transport. */
export class RabbitMqTransport implements Transport, ConsumerHost, DeadLetterHost {
  readonly kind = 'rabbitmq';
  readonly capabilities: TransportCapabilities;
  readonly deadLetters: DeadLetterStore;
  readonly options: ResolvedRabbitMqOptions;
  readonly logger: Logger;
  private readonly link: RabbitConnection;
  private readonly registry: RabbitRegistry;
  private readonly declarations: RabbitDeclarations;
  private readonly publisher: RabbitPublisher;
  private readonly owners: RabbitCommandOwners;
  private readonly consumers = new Set<RabbitConsumer | OrderedConsumer>();
  private closing: Promise<void> | undefined;

  constructor(options: RabbitMqOptions, deps: RabbitMqDeps = {}) {
    this.options = resolveRabbitMqOptions(options);
    this.capabilities = Object.freeze({
      delayedDelivery: true,
      cancelScheduled: true,
      orderingKeys: true,
      multiProcess: true,
      // A quorum queue counts an ack against the consumer's window until its Raft commit: with the
      // usual 2 per handler, the window filled with acks on their way under load and the handlers
      // waited for deliveries (the example shop's order endpoint: most of an order's time).
      ...(this.options.queueType === 'quorum' ? { prefetchPerHandler: QUORUM_PREFETCH_PER_HANDLER } : {}),
    });
    this.logger = deps.logger ?? consoleLogger('warn');
    this.link = new RabbitConnection(this.options, redactUrl(this.options.url), this.logger, {
      preparePublisher: (publisher) => this.publisher.prepare(publisher),
      setUp: (connection, admin) => this.setUp(connection, admin),
      resume: (connection) => this.resume(connection),
      lost: () => {
        for (const consumer of this.consumers) consumer.lost();
      },
    });
    this.registry = new RabbitRegistry(this.link, this.logger, (channel) => this.appendOwnRecords(channel));
    this.declarations = new RabbitDeclarations(this.link, this.registry, this.options, this.logger);
    this.publisher = new RabbitPublisher(this.link, this.declarations, this.options);
    this.owners = new RabbitCommandOwners({
      registry: this.registry.view,
      logger: this.logger,
      readRegistryAfter: (channel, record) => this.registry.readAfter(channel, record),
      // The view follows before a claim expects its outcome (following starts with an empty book).
      adminChannelNow: () => this.registry.ensureFollowing().then(() => this.adminChannelNow()),
      newChannel: () => this.newChannel(),
      queueExists: (name) => this.queueExists(name),
      dropTopic: (queue, topic) => this.declarations.dropTopic(queue, topic),
    });
    this.deadLetters = new RabbitDeadLetters(this);
  }

  /**
   * Command owners, kept in the registry stream (`rabbitmq-command-owners.ts`). Absent before
   * `connect` and where the broker refused the stream.
   */
  get commandOwners(): CommandOwnership | undefined {
    return this.registry.available ? this.owners : undefined;
  }

  /** The URL without its password, for messages. */
  get safeUrl(): string {
    return this.link.safeUrl;
  }

  /** Grows with every (re)connection; deliveries of older generations are stale. */
  get generation(): number {
    return this.link.generation;
  }

  /**
   * Why RabbitMQ blocks this connection's publishes (it raised a memory or disk alarm), or undefined.
   * While it does, publishes wait like during an outage: up to `publishTimeout`, at most `maxBuffered`.
   */
  get blocked(): string | undefined {
    return this.link.blocked;
  }

  connect(): Promise<void> {
    return this.link.connect();
  }

  /** Declares the topology on a new connection (the publisher channel is not current yet). */
  private async setUp(connection: amqp.ChannelModel, admin: amqp.Channel): Promise<void> {
    await this.declarations.declareFixed(admin);
    const channel = await this.registry.setUp(connection, admin, () => this.link.reopenAdmin(connection));
    if (this.registry.available && this.declarations.declared.size > 0) {
      // Bindings are declared again below; those of commands taken over meanwhile go again once the registry is read.
      void this.registry
        .ensureFollowing()
        .then(() => this.owners.enforce())
        .catch((error: unknown) => this.logger.warn(`could not check command ownership after reconnecting: ${(error as Error).message}`));
    }
    await this.declarations.redeclare(channel);
  }

  /** The publisher channel is current: every consumer resumes on the new connection. */
  private async resume(connection: amqp.ChannelModel): Promise<void> {
    for (const consumer of this.consumers)
      await consumer
        .resume(connection)
        .catch((error: unknown) => this.logger.error({ err: error }, `cannot resume the consumer of ${consumer.queue}`));
  }

  /** Connected and able to publish; else why not (see `Transport.status`). */
  status(): TransportStatus {
    return this.link.status();
  }

  declare(spec: QueueSpec): Promise<void> {
    return this.declarations.declare(spec);
  }

  publish(topic: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    return this.publisher.publish(topic, message, options);
  }

  send(queue: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    return this.publisher.send(queue, message, options);
  }

  /** Sends to the delay queue of the delay's bucket (see `RabbitPublisher.publishDelayed`). */
  publishDelayed(
    routingKey: string,
    message: TransportMessage,
    delayMs: number,
    headers?: Readonly<Record<string, string>>,
  ): Promise<void> {
    return this.publisher.publishDelayed(routingKey, message, delayMs, headers);
  }

  /** Publishes with a confirm (see `RabbitPublisher.confirmPublish`). */
  confirmPublish(
    exchange: string,
    routingKey: string,
    message: TransportMessage,
    headers: Readonly<Record<string, unknown>>,
    mandatory: boolean,
    destination: string,
  ): Promise<void> {
    return this.publisher.confirmPublish(exchange, routingKey, message, headers, mandatory, destination);
  }

  consume(queue: string, options: { readonly prefetch: number }): Consumer {
    this.link.checkOpen();
    const prefetch = Math.max(1, Math.floor(options.prefetch));
    const consumer = this.declarations.isOrdered(queue)
      ? new OrderedConsumer(this, queue, prefetch)
      : new RabbitConsumer(this, queue, prefetch);
    this.consumers.add(consumer);
    // During a connection's setup this starts it early; the setup's resume is then a no-op (once per connection).
    const connection = this.link.current;
    if (connection !== undefined) void consumer.resume(connection).catch((error: unknown) => consumer.fail(error));
    return consumer;
  }

  /** Whether `connection` is the transport's current connection (not one that was lost). */
  isConnection(connection: amqp.ChannelModel): boolean {
    return this.link.isConnection(connection);
  }

  /** @internal */
  forget(consumer: object): void {
    this.consumers.delete(consumer as RabbitConsumer | OrderedConsumer);
  }

  /** An admin channel, recreated if a declaration closed it. */
  adminChannelNow(): Promise<amqp.Channel> {
    return this.link.adminChannel();
  }

  /** A fresh channel on the current connection (dead-letter browsing). */
  newChannel(): Promise<amqp.Channel> {
    return this.link.newChannel();
  }

  /** Deletes a type's exchange (its bindings go with it). For tests and operators; unknown names are ignored. */
  async deleteTopic(type: string): Promise<void> {
    if (!isExactTopic(type)) return;
    checkTypeExchange(type);
    this.declarations.forgetType(type);
    await (await this.adminChannelNow()).deleteExchange(type);
  }

  /**
   * Deletes the scheduled message's own queue: true if the message was still in it. Deleting and
   * expiring are one step in the queue, so a message is either cancelled or delivered, never both.
   */
  async cancelScheduled(scheduleId: string): Promise<boolean> {
    const { messageCount } = await (await this.link.rpcChannel()).deleteQueue(scheduledQueue(scheduleId));
    return messageCount > 0;
  }

  /** Missive's queues on the broker, with their depths (see `rabbitmq-listing.ts`). */
  async queues(): Promise<QueueInfo[]> {
    await this.link.publisherChannel();
    return listQueues(this.declarations, this.registry);
  }

  async deleteQueue(name: string): Promise<void> {
    for (const consumer of [...this.consumers]) if (consumer.queue === name) await consumer.close();
    const partitioned = this.declarations.isOrdered(name) || (await this.queueExists(partitionQueue(name, 0)));
    this.declarations.declared.delete(name);
    const channel = await this.adminChannelNow();
    await channel.deleteQueue(name);
    await channel.deleteQueue(name + DEAD_LETTER_SUFFIX);
    if (partitioned) for (let i = 0; i < PARTITIONS; i++) await channel.deleteQueue(partitionQueue(name, i));
    if (this.registry.available) appendRecord(channel, deletionRecord(name));
  }

  /** Whether the queue exists on the broker. */
  async queueExists(name: string): Promise<boolean> {
    await this.link.publisherChannel();
    return (await this.declarations.checkQueues([name])).has(name);
  }

  /**
   * Appends the records of this transport's queues and types to the registry again, so they outlive
   * its retention while the transport lives. Runs every day by itself.
   */
  refreshRegistry(): Promise<void> {
    return this.registry.refresh();
  }

  private appendOwnRecords(channel: amqp.Channel): void {
    for (const spec of this.declarations.declared.values()) if (spec.temporary !== true) appendRecord(channel, registryRecord(spec));
    if (this.declarations.types.size > 0) appendRecord(channel, typesRecord([...this.declarations.types]));
    this.owners.refresh(channel);
  }

  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    if (!this.link.open) {
      this.link.beginClose();
      return;
    }
    this.link.beginClose(); // publishes still waiting fail
    this.registry.stop();
    // Each consumer's queued acks go out and its channel closes before the connection does.
    await Promise.allSettled([...this.consumers].map((consumer) => consumer.shutdown()));
    await this.link.close();
  }
}
