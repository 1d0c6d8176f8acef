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
  topicMatcher,
  type CommandOwnership,
  type Consumer,
  type DeadLetterStore,
  type EnqueueOptions,
  type QueueSpec,
} from '@missive/core/transport';
import { connectError } from './connect-error.js';
import { failoverTarget } from './failover.js';
import { RabbitConsumer } from './rabbitmq-consumer.js';
import { OrderedConsumer } from './rabbitmq-ordered-consumer.js';
import { CONTROL_EXCHANGE, PARTITIONS, partitionQueue } from './partitions.js';
import { DELAY_EXCHANGE, KEYED_EXCHANGE, RETURN_EXCHANGE, TOPICS_EXCHANGE, bindingsOf, checkTypeExchange, isTypeExchange, returnKey, sendKey, slotOf, typeExchangesOf, typeKey } from './topology.js';
import { RabbitDeadLetters } from './rabbitmq-dead-letters.js';
import { RabbitCommandOwners } from './rabbitmq-command-owners.js';
import { checkQueues, deleteQueues } from './queue-probe.js';
import { REGISTRY_QUEUE, REGISTRY_REFRESH_MS, RegistryFollower, appendRecord, assertRegistry, deletionRecord, registryRecord, typesRecord, type RegisteredQueue, type Registry } from './queue-registry.js';
import { resolveRabbitMqOptions, type RabbitMqOptions, type ResolvedRabbitMqOptions } from './rabbitmq-options.js';

export const DEAD_LETTER_SUFFIX = '.dead-letters';
/** Header holding the number of republishes of a message (nack with new headers, delays). */
export const REPUBLISHED = 'x-missive-republished';
/** The content type the transport publishes with (the JSON codec's). */
export const CONTENT_TYPE = 'application/cloudevents+json';
/** Header that routes a delayed message to its delay queue; dropped from the message's headers on delivery. */
export const DELAY_HEADER = 'missive-delay-bucket';
/** The longest delay (48.6 days): RabbitMQ's TTLs are 32-bit milliseconds, and a bucket rounds up. */
export const MAX_DELAY_MS = 4_200_000_000;
/**
 * Messages the publisher channel buffers while the socket is full before `publish` reports
 * backpressure (amqplib's default is 1,024, which for large messages is a lot of memory).
 */
const PUBLISH_BUFFER_MESSAGES = 64;
/** How long a scheduled message's queue outlives the message, so a late `cancel` finds nothing instead of racing a new queue. */
const SCHEDULED_GRACE_MS = 60_000;

/** The queue that holds one cancellable scheduled message. */
export function scheduledQueue(scheduleId: string): string {
  return `missive.scheduled.${scheduleId}`;
}

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
  readonly capabilities: TransportCapabilities = Object.freeze({ delayedDelivery: true, cancelScheduled: true, orderingKeys: true, multiProcess: true });
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
  /** Why the connection was lost, while it is being re-established. */
  private lostBecause: string | undefined;
  private readonly declared = new Map<string, QueueSpec>();
  private readonly delayQueues = new Set<number>();
  /** Type exchanges known to exist (declared on this connection); their declarations still under way. */
  private readonly typeExchanges = new Set<string>();
  private readonly typeDeclarations = new Map<string, Promise<void>>();
  private readonly consumers = new Set<RabbitConsumer | OrderedConsumer>();
  private readonly returned = new Map<string, amqp.Message>();
  private waiters: { resolve: () => void; reject: (error: Error) => void; timer: NodeJS.Timeout }[] = [];
  private ready: Promise<void> | undefined;
  private blockedBy: string | undefined;
  /** Set while the publisher's socket buffer is full (see `waitForDrain`). */
  private draining: Promise<void> | undefined;
  /** The queue registry stream exists (declared on the first connection). */
  private registry = false;
  /** This transport's live reader of the registry. */
  private readonly registryView = new RegistryFollower();
  private readonly owners: RabbitCommandOwners;
  private refreshTimer: NodeJS.Timeout | undefined;
  /** Settles once the registry view follows the stream on the current connection. */
  private following: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: RabbitMqOptions, deps: RabbitMqDeps = {}) {
    this.options = resolveRabbitMqOptions(options);
    this.logger = deps.logger ?? consoleLogger('warn');
    this.owners = new RabbitCommandOwners({
      registry: this.registryView,
      logger: this.logger,
      readRegistryAfter: (channel, record) => this.readRegistryAfter(channel, record),
      adminChannelNow: () => this.adminChannelNow(),
      newChannel: () => this.newChannel(),
      queueExists: (name) => this.queueExists(name),
      dropTopic: (queue, topic) => {
        const spec = this.declared.get(queue);
        if (spec !== undefined) this.declared.set(queue, { ...spec, topics: spec.topics.filter((t) => t !== topic) });
      },
    });
    this.deadLetters = new RabbitDeadLetters(this);
  }

  /**
   * Command owners, kept in the registry stream (`rabbitmq-command-owners.ts`). Absent before
   * `connect` and where the broker refused the stream.
   */
  get commandOwners(): CommandOwnership | undefined {
    return this.registry ? this.owners : undefined;
  }

  /** The URL without its password, for messages. */
  get safeUrl(): string {
    return redactUrl(this.options.url);
  }

  async connect(): Promise<void> {
    if (this.state === 'open') return;
    if (this.state === 'closed') throw new BusStateError(ErrorCode.Closed, 'rabbitmq transport is closed');
    this.state = 'open';
    const nodes = this.options.nodes;
    // Several nodes: each reconnection attempt goes to the next one (see failover.ts).
    const failover = nodes.length > 1 ? failoverTarget(this.options.url, nodes) : undefined;
    const model = await amqp.connect(failover?.target ?? this.options.url, {
      ...this.options.socketOptions,
      recovery: {
        initialDelay: 100,
        maxDelay: 10_000,
        factor: 2,
        jitter: 0.2,
        initialMaxRetries: Math.max(2, nodes.length * 2 - 1),
        maxRetries: Number.POSITIVE_INFINITY,
        waitForConnect: false,
        ...(failover === undefined ? {} : { calculateDelay: (attempt: number) => failover.advance(attempt) }),
      },
    });
    this.model = model;
    model.on('error', (error: Error) => {
      if (this.state === 'open') this.logger.warn({ err: error.message }, 'rabbitmq connection error');
    });
    model.on('disconnect', (error: Error) => this.onDisconnect(error));
    model.on('connect', (connection: amqp.ChannelModel) => this.setUp(connection, 0));
    model.on('blocked', (reason: string) => {
      this.blockedBy = reason === '' ? 'resource alarm' : reason;
      this.logger.warn(`RabbitMQ blocks publishing on this connection (${this.blockedBy}); publishes wait up to ${this.options.publishTimeoutMs} ms`);
    });
    model.on('unblocked', () => {
      this.blockedBy = undefined;
      this.logger.info('RabbitMQ unblocked publishing');
      this.releaseWaiters();
    });
    model.on('reconnect-scheduled', (info: { attempt: number; delay: number }) => this.logger.info(`rabbitmq reconnect ${info.attempt} in ${info.delay} ms`));
    let connected = false;
    // During the first connect, giving up is reported once, by the error connect() throws.
    model.on('reconnect-failed', (error: Error) => {
      if (connected) this.logger.error({ err: error }, 'rabbitmq gave up reconnecting');
    });
    try {
      await model.waitForConnect();
      await this.ready;
      connected = true;
    } catch (error) {
      await model.close().catch(() => undefined);
      this.state = 'closed';
      throw connectError(error as Error, this.options.url, this.safeUrl);
    }
  }

  /**
   * Runs `onConnect` for a new connection. Right after a broker restart its queues may not be
   * ready yet; a failed setup is tried again (backoff up to 5 s) while the connection lasts, and
   * publishes wait meanwhile, within their limits.
   */
  private setUp(connection: amqp.ChannelModel, failures: number): void {
    this.ready = this.onConnect(connection);
    this.ready.catch((error: unknown) => {
      if (this.state !== 'open' || this.connection !== connection) return;
      this.logger.warn(`rabbitmq setup after connect failed (${(error as Error).message}); trying again`);
      setTimeout(() => {
        if (this.state === 'open' && this.connection === connection && this.publisher === undefined) this.setUp(connection, failures + 1);
      }, Math.min(5_000, 100 * 2 ** failures)).unref();
    });
  }

  private async onConnect(connection: amqp.ChannelModel): Promise<void> {
    if (this.connection === connection && this.publisher !== undefined) return;
    this.connection = connection;
    this.generation++;
    const publisher = await connection.createConfirmChannel({ highWaterMark: PUBLISH_BUFFER_MESSAGES });
    try {
      await this.setUpOn(connection, publisher);
    } catch (error) {
      await publisher.close().catch(() => undefined);
      throw error;
    }
  }

  /** Declares the topology on a new connection, then makes `publisher` current and resumes the consumers. */
  private async setUpOn(connection: amqp.ChannelModel, publisher: amqp.ConfirmChannel): Promise<void> {
    publisher.on('return', (message: amqp.Message) => {
      const id = message.properties.messageId as string | undefined;
      if (id !== undefined) this.returned.set(id, message);
    });
    publisher.on('error', (error: Error) => {
      // A publish to a type exchange someone deleted closes the channel: declare it again next time.
      const missing = /NOT_FOUND - no exchange '([^']*)'/.exec(error.message)?.[1];
      if (missing !== undefined) this.typeExchanges.delete(missing);
    });
    publisher.on('close', () => {
      if (this.publisher === publisher) this.publisher = undefined;
    });
    this.admin = await this.adminChannel(connection);
    await this.admin.assertExchange(TOPICS_EXCHANGE, 'topic', { durable: true });
    await this.admin.assertExchange(DELAY_EXCHANGE, 'headers', { durable: true });
    await this.admin.assertExchange(RETURN_EXCHANGE, 'topic', { durable: true });
    await this.admin.assertExchange(KEYED_EXCHANGE, 'topic', { durable: true });
    await this.admin.assertExchange(CONTROL_EXCHANGE, 'direct', { durable: true });
    if (!this.registry) {
      try {
        await assertRegistry(this.admin);
        this.registry = true;
      } catch (error) {
        this.admin = await this.adminChannel(connection);
        this.logger.warn({ err: (error as Error).message }, `cannot declare the queue registry (${REGISTRY_QUEUE}, a stream); queues() lists only this connection's queues and every type's exchange feeds missive.topics`);
      }
    }
    if (this.registry) {
      this.following = this.follow(connection, 0);
      this.following.catch(() => undefined);
      if (this.declared.size > 0) {
        // Bindings are declared again below; those of commands taken over meanwhile go again once the registry is read.
        void this.following
          .then(() => this.owners.enforce())
          .catch((error: unknown) => this.logger.warn(`could not check command ownership after reconnecting: ${(error as Error).message}`));
      }
      if (this.refreshTimer === undefined) {
        this.refreshTimer = setInterval(() => void this.refreshRegistry().catch((error: unknown) => this.logger.warn({ err: error }, 'could not refresh the queue registry')), REGISTRY_REFRESH_MS);
        this.refreshTimer.unref();
      }
    }
    this.delayQueues.clear();
    // Type exchanges, bindings and registry records are durable: declared again, but not fed to the
    // taps or recorded again (a deleted exchange is declared afresh on its next publish).
    for (const spec of this.declared.values()) await this.declareOn(this.admin, spec, true);
    this.publisher = publisher;
    for (const consumer of this.consumers) await consumer.resume(connection).catch((error: unknown) => this.logger.error({ err: error }, `cannot resume the consumer of ${consumer.queue}`));
    if (this.lostBecause !== undefined) this.logger.info({ url: this.safeUrl }, 'rabbitmq connection recovered');
    this.lostBecause = undefined;
    this.releaseWaiters();
  }

  /** Connected and able to publish; else why not (see `Transport.status`). */
  status(): TransportStatus {
    if (this.state !== 'open') return { connected: false, reason: `the transport is ${this.state === 'new' ? 'not connected' : 'closed'}` };
    if (this.publisher === undefined) return { connected: false, reason: `rabbitmq connection lost${this.lostBecause === undefined ? '' : ` (${this.lostBecause})`}; reconnecting` };
    return { connected: true };
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
    this.logger.warn({ url: this.safeUrl, err: error }, `rabbitmq connection lost (${error.message}); reconnecting`);
    this.lostBecause = error.message;
    this.blockedBy = undefined; // a new connection starts unblocked; the broker blocks it again if its alarm is still on
    this.publisher = undefined;
    this.admin = undefined;
    this.connection = undefined;
    for (const consumer of this.consumers) consumer.lost();
  }

  /**
   * Waits for a usable publisher channel, within the outage limits. `publishing`: also wait while
   * the broker blocks this connection's publishes (a resource alarm); declarations and reads need not.
   */
  private async channel(publishing = false): Promise<amqp.ConfirmChannel> {
    if (this.state !== 'open') throw new BusStateError(this.state === 'new' ? ErrorCode.NotStarted : ErrorCode.Closed, `rabbitmq transport is ${this.state === 'new' ? 'not connected' : 'closed'}`);
    if (this.publisher !== undefined && (!publishing || this.blockedBy === undefined)) return this.publisher;
    if (this.publisher === undefined && this.connection !== undefined) {
      await this.onConnect(this.connection).catch(() => undefined);
      if (this.publisher !== undefined) return this.publisher;
    }
    const outage = this.publisher === undefined ? 'rabbitmq connection is down' : `RabbitMQ is blocking publishes (${this.blockedBy ?? 'resource alarm'})`;
    if (this.waiters.length >= this.options.maxBuffered) {
      throw new TransportError(`${outage} and ${this.waiters.length} publishes are already waiting (maxBuffered)`);
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        const what = this.publisher === undefined ? 'the connection did not come back' : `RabbitMQ kept blocking publishes (${this.blockedBy ?? 'resource alarm'})`;
        reject(new TransportError(`${what} within ${this.options.publishTimeoutMs} ms (publishTimeout); the message was not published`));
      }, this.options.publishTimeoutMs);
      this.waiters.push({ resolve, reject, timer });
    });
    return this.channel(publishing);
  }

  /**
   * Why RabbitMQ blocks this connection's publishes (it raised a memory or disk alarm), or undefined.
   * While it does, publishes wait like during an outage: up to `publishTimeout`, at most `maxBuffered`.
   */
  get blocked(): string | undefined {
    return this.blockedBy;
  }

  private releaseWaiters(): void {
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
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
    clearInterval(this.refreshTimer);
    // Each consumer's queued acks go out and its channel closes before the connection does.
    await Promise.allSettled([...this.consumers].map((consumer) => consumer.shutdown()));
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

  /**
   * Appends the records of this transport's queues and types to the registry again, so they outlive
   * its retention while the transport lives. Runs every day by itself.
   */
  async refreshRegistry(): Promise<void> {
    if (!this.registry) return;
    const channel = await this.adminChannelNow();
    for (const spec of this.declared.values()) if (spec.temporary !== true) appendRecord(channel, registryRecord(spec));
    if (this.typeExchanges.size > 0) appendRecord(channel, typesRecord([...this.typeExchanges]));
    this.owners.refresh(channel);
  }

  /** Starts following the registry on `connection`, trying again (backoff up to 5 s, about a minute in all) while the stream is not ready. */
  private async follow(connection: amqp.ChannelModel, failures: number): Promise<void> {
    try {
      const reader = await connection.createChannel();
      reader.on('error', () => undefined);
      await this.registryView.follow(reader);
    } catch (error) {
      if (this.state !== 'open' || this.connection !== connection || failures >= 15) throw new TransportError(`cannot read the queue registry (${REGISTRY_QUEUE}): ${(error as Error).message}`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 100 * 2 ** failures)));
      return this.follow(connection, failures + 1);
    }
  }

  /** Whether `queue` was declared ordered by this connection: its keyed messages go to partition queues. */
  isOrdered(queue: string): boolean {
    return this.declared.get(queue)?.ordered === true;
  }

  /**
   * Declares a queue with everything it needs: the exchanges of its types first, then its queues
   * (main, dead letters, partitions), then its bindings. A queue that exists with other settings
   * fails the declaration with a `ConfigurationError` naming it, and the queues this declaration
   * had just created are deleted again, so nothing is left half-declared.
   */
  private async declareOn(channel: amqp.Channel, spec: QueueSpec, again = false): Promise<void> {
    const temporary = spec.temporary === true;
    const ordered = !temporary && spec.ordered === true;
    const bound = { name: spec.name, topics: spec.topics, ordered };
    if (again) for (const type of typeExchangesOf(bound)) await channel.assertExchange(type, 'topic', { durable: true });
    else await this.declareTypesOn(channel, typeExchangesOf(bound));
    const args = { 'x-queue-type': this.options.queueType };
    const queues: [string, amqp.Options.AssertQueue][] = temporary
      ? [[spec.name, { exclusive: true, autoDelete: true, durable: false }]]
      : [
          [spec.name, { durable: true, arguments: args }],
          [spec.name + DEAD_LETTER_SUFFIX, { durable: true, arguments: args }],
          ...Array.from({ length: ordered ? PARTITIONS : 0 }, (_, i): [string, amqp.Options.AssertQueue] => [
            partitionQueue(spec.name, i),
            { durable: true, arguments: { ...args, 'x-single-active-consumer': true } },
          ]),
        ];
    const existed = temporary ? undefined : await this.checkQueues(queues.map(([name]) => name));
    for (const [name, options] of queues) {
      try {
        await channel.assertQueue(name, options);
      } catch (error) {
        this.admin = undefined;
        const created = existed === undefined ? [] : queues.map(([n]) => n).filter((n) => !existed.has(n));
        if (created.length > 0 && this.connection !== undefined) {
          await deleteQueues(this.connection, created).catch((cleanup: unknown) => this.logger.warn({ err: cleanup }, `could not delete the queues of a failed declaration (${created.join(', ')})`));
        }
        const text = (error as Error).message;
        if (/PRECONDITION_FAILED/.test(text)) {
          throw new ConfigurationError(
            `queue "${name}" already exists on ${this.safeUrl} with different settings: ${text.replace(/^.*PRECONDITION_FAILED - /, '')}. Delete it, or declare it the same way (queueType=${this.options.queueType})`,
            { cause: error },
          );
        }
        throw new TransportError(`cannot declare queue "${name}": ${text}`, { cause: error });
      }
    }
    for (const { queue, exchange, key } of bindingsOf(bound)) await channel.bindQueue(queue, exchange, key);
    if (!temporary && !again) await this.recordQueueOn(channel, spec);
  }

  /** The broker's counts of those of `names` that exist (see `queue-probe.ts`). */
  private async checkQueues(names: readonly string[]): Promise<Map<string, amqp.Replies.AssertQueue>> {
    // Straight from the connection: this also runs inside onConnect, before the publisher is back.
    const connection = this.connection;
    if (connection === undefined) throw new TransportError('rabbitmq connection lost while checking queues');
    return checkQueues(connection, names);
  }

  /**
   * Declares the exchanges of `types` and feeds each to `missive.topics` where a wire tap needs it.
   *
   * Feeding every type's exchange to `missive.topics` would cost the broker a second exchange on
   * every message; only types that a tap's pattern matches need it. Which those are is settled
   * through the registry without a race: this transport appends a record of the types, then reads
   * the registry up to a marker of its own and binds those types that a tap recorded before the
   * marker matches; a tap appends its record, then reads up to its marker and binds the types
   * recorded before that (see `bindTaps`). Of two such records, whichever came second in the stream
   * is seen by the other side's read, so every (tap, type) pair is bound by one of them.
   * Without a registry (streams disabled), every type's exchange feeds `missive.topics`.
   */
  private async declareTypesOn(channel: amqp.Channel, types: readonly string[]): Promise<void> {
    if (types.length === 0) return;
    for (const type of types) checkTypeExchange(type);
    for (const type of types) {
      try {
        await channel.assertExchange(type, 'topic', { durable: true });
      } catch (error) {
        this.admin = undefined;
        const text = (error as Error).message;
        if (/PRECONDITION_FAILED/.test(text)) {
          throw new ConfigurationError(`exchange "${type}" already exists on ${this.safeUrl} with different settings: ${text.replace(/^.*PRECONDITION_FAILED - /, '')}. Missive needs a durable topic exchange there; delete it`, { cause: error });
        }
        throw new TransportError(`cannot declare the exchange of type "${type}": ${text}`, { cause: error });
      }
    }
    try {
      if (this.registry) {
        const { queues } = await this.readRegistryAfter(channel, typesRecord(types));
        const taps = [...queues.values()].flatMap((q) => q.topics.filter((t) => !isExactTopic(t))).map(topicMatcher);
        for (const type of types) if (taps.some((matches) => matches(type))) await channel.bindExchange(TOPICS_EXCHANGE, type, '#');
      } else {
        for (const type of types) await channel.bindExchange(TOPICS_EXCHANGE, type, '#');
      }
    } catch (error) {
      this.admin = undefined;
      throw new TransportError(`cannot connect the exchanges of ${types.join(', ')} to the wire taps: ${(error as Error).message}`, { cause: error });
    }
    for (const type of types) this.typeExchanges.add(type);
  }

  /**
   * Records a queue in the registry. A tap (a queue with patterns) then takes its side of
   * `declareTypesOn`: it reads up to a marker after its record and binds every recorded type its
   * patterns match.
   */
  private async recordQueueOn(channel: amqp.Channel, spec: QueueSpec): Promise<void> {
    if (!this.registry) return;
    const patterns = spec.topics.filter((t) => !isExactTopic(t));
    if (patterns.length === 0) {
      appendRecord(channel, registryRecord(spec));
      return;
    }
    const matchers = patterns.map(topicMatcher);
    const { types } = await this.readRegistryAfter(channel, registryRecord(spec));
    for (const type of types) {
      if (!matchers.some((matches) => matches(type))) continue;
      await channel.assertExchange(type, 'topic', { durable: true });
      await channel.bindExchange(TOPICS_EXCHANGE, type, '#');
    }
  }

  /** Appends `record` on `channel`, then waits until the registry view has read everything up to a marker after it. */
  async readRegistryAfter(channel: amqp.Channel, record: Buffer): Promise<Registry> {
    await this.following;
    appendRecord(channel, record);
    // Same channel as the record: the marker lands after it in the stream.
    await this.registryView.sync((marker) => appendRecord(channel, marker));
    return this.registryView;
  }

  /** Resolves once the type's exchange exists; undefined (nothing to wait for) when it is known to. */
  private typeExchange(type: string): Promise<void> | undefined {
    if (this.typeExchanges.has(type)) return undefined;
    let declaring = this.typeDeclarations.get(type);
    if (declaring === undefined) {
      declaring = this.adminChannelNow()
        .then((channel) => this.declareTypesOn(channel, [type]))
        .finally(() => this.typeDeclarations.delete(type));
      this.typeDeclarations.set(type, declaring);
    }
    return declaring;
  }

  async publish(topic: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    if (!isExactTopic(topic)) throw new ConfigurationError(`cannot publish to a wildcard topic "${topic}"`);
    const delay = options?.notBefore === undefined ? 0 : options.notBefore - Date.now();
    const slot = slotOf(message.partitionKey);
    if (delay > 0) return this.delayed(returnKey('t', slot, topic), message, delay, options?.scheduleId);
    const declaring = this.typeExchange(topic);
    if (declaring !== undefined) await declaring;
    await this.confirmPublish(topic, typeKey(slot, topic), message, message.headers, options?.mandatory === true, topic);
  }

  async send(queue: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    const delay = options?.notBefore === undefined ? 0 : options.notBefore - Date.now();
    const slot = slotOf(message.partitionKey);
    if (delay > 0) return this.delayed(returnKey('q', slot, queue), message, delay, options?.scheduleId);
    if (slot === 'none') await this.confirmPublish('', queue, message, message.headers, true, queue);
    else await this.confirmPublish(KEYED_EXCHANGE, sendKey(slot, queue), message, message.headers, true, queue);
  }

  /** A message with a schedule id waits alone, so it can be cancelled; any other in its delay bucket. */
  private delayed(routingKey: string, message: TransportMessage, delayMs: number, scheduleId: string | undefined): Promise<void> {
    if (delayMs > MAX_DELAY_MS) {
      throw new ConfigurationError(`RabbitMQ holds a message at most ${MAX_DELAY_MS} ms (48.6 days; its TTLs are 32-bit); ${message.id} was to wait ${Math.round(delayMs)} ms`);
    }
    return scheduleId === undefined ? this.publishDelayed(routingKey, message, delayMs) : this.publishScheduled(routingKey, message, delayMs, scheduleId);
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
    const channel = await this.adminChannelNow();
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

  /**
   * Publishes with a confirm; rejects on return (mandatory), on channels that keep dying, and on a
   * nack that lasts (each for `publishTimeout` after the first try): a broker nacks while a quorum queue elects a new leader (its old one's
   * node died), so a nacked publish is tried again with backoff (50 ms doubling to 1 s) until
   * `publishTimeout` has passed since the first try, then fails with `PublishRejectedError`.
   */
  async confirmPublish(exchange: string, routingKey: string, message: TransportMessage, headers: Readonly<Record<string, unknown>>, mandatory: boolean, destination: string): Promise<void> {
    const body = Buffer.isBuffer(message.body) ? message.body : Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength);
    // amqplib reads the headers without changing them (it layers its own on top), so they are passed as they are.
    const properties = {
      persistent: true,
      mandatory,
      messageId: message.id,
      type: message.type,
      contentType: CONTENT_TYPE,
      headers: message.partitionKey === undefined ? headers : { ...headers, 'x-missive-partition-key': message.partitionKey },
    };
    const started = Date.now();
    let refusals = 0;
    for (let attempt = 1; ; attempt++) {
      while (this.draining !== undefined) await this.draining; // a drain lets waiters go one buffer-full at a time
      const channel = this.state === 'open' && this.publisher !== undefined && this.blockedBy === undefined ? this.publisher : await this.channel(true);
      if (attempt > 1 && isTypeExchange(exchange)) {
        // The channel may have died of a publish to a type exchange deleted under us: declare it again.
        const declaring = this.typeExchange(exchange);
        if (declaring !== undefined) await declaring;
      }
      try {
        await new Promise<void>((resolve, reject) => {
          const accepted = channel.publish(
            exchange,
            routingKey,
            body,
            properties,
            (error: unknown) => {
              if (error !== null && error !== undefined) reject(new PublishRejectedError(`RabbitMQ refused message ${message.id} to ${destination}`, { cause: error }));
              else resolve();
            },
          );
          if (!accepted) this.waitForDrain(channel);
        });
      } catch (error) {
        if (error instanceof PublishRejectedError && this.publisher === channel) {
          const pause = Math.min(1000, 50 * 2 ** refusals++);
          if (Date.now() + pause - started > this.options.publishTimeoutMs || this.state !== 'open') throw error;
          await new Promise((resolve) => setTimeout(resolve, pause));
          attempt--; // a refusal is not a dead channel
          continue;
        }
        // The channel died before the confirm: publish again on the next one (at least once). In a
        // cluster losing a node, channels can die several times in a row: keep trying, with backoff
        // from the third try, until publishTimeout has passed since the first.
        if (attempt >= 3 && (Date.now() - started >= this.options.publishTimeoutMs || this.state !== 'open')) {
          throw new TransportError(`publish of ${message.id} to ${destination} failed: ${(error as Error).message}`, { cause: error });
        }
        if (attempt >= 3) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** (attempt - 3))));
        continue;
      }
      if (this.returned.delete(message.id)) throw new UnroutableError(destination);
      return;
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

  consume(queue: string, options: { readonly prefetch: number }): Consumer {
    if (this.state !== 'open') throw new BusStateError(ErrorCode.NotStarted, 'rabbitmq transport is not connected');
    const prefetch = Math.max(1, Math.floor(options.prefetch));
    const consumer = this.isOrdered(queue) ? new OrderedConsumer(this, queue, prefetch) : new RabbitConsumer(this, queue, prefetch);
    this.consumers.add(consumer);
    if (this.connection !== undefined) void consumer.resume(this.connection).catch((error: unknown) => consumer.fail(error));
    return consumer;
  }

  /** Whether `connection` is the transport's current connection (not one that was lost). */
  isConnection(connection: amqp.ChannelModel): boolean {
    return this.connection === connection;
  }

  /** @internal */
  forget(consumer: RabbitConsumer | OrderedConsumer): void {
    this.consumers.delete(consumer);
  }

  /** Deletes a type's exchange (its bindings go with it). For tests and operators; unknown names are ignored. */
  async deleteTopic(type: string): Promise<void> {
    if (!isExactTopic(type)) return;
    checkTypeExchange(type);
    this.typeExchanges.delete(type);
    await (await this.adminChannelNow()).deleteExchange(type);
  }

  /**
   * Deletes the scheduled message's own queue: true if the message was still in it. Deleting and
   * expiring are one step in the queue, so a message is either cancelled or delivered, never both.
   */
  async cancelScheduled(scheduleId: string): Promise<boolean> {
    const { messageCount } = await (await this.adminChannelNow()).deleteQueue(scheduledQueue(scheduleId));
    return messageCount > 0;
  }

  /**
   * Missive's queues on the broker, with their depths: those this connection declared and those in
   * the registry that still exist (see `queue-registry.ts`). `depth` counts the main queue and, for
   * an ordered endpoint, its partitions; `inFlight` is 0, because AMQP does not report un-acked counts.
   */
  async queues(): Promise<QueueInfo[]> {
    await this.channel();
    const known = new Map<string, RegisteredQueue>();
    if (this.registry) {
      await this.following;
      const channel = await this.adminChannelNow();
      await this.registryView.sync((marker) => appendRecord(channel, marker));
      for (const [name, record] of this.registryView.queues) known.set(name, record);
    }
    for (const spec of this.declared.values()) {
      if (spec.temporary !== true) known.set(spec.name, { name: spec.name, topics: spec.topics, ordered: spec.ordered === true });
    }
    // Main queues first: a queue deleted behind Missive's back costs one failed check, not eighteen.
    const mains = await this.checkQueues([...known.keys()]);
    const live = [...known.values()].filter((q) => mains.has(q.name));
    const counts = await this.checkQueues(live.flatMap((q) => [q.name + DEAD_LETTER_SUFFIX, ...(q.ordered ? Array.from({ length: PARTITIONS }, (_, i) => partitionQueue(q.name, i)) : [])]));
    const out: QueueInfo[] = [];
    for (const queue of live) {
      const main = mains.get(queue.name)!;
      let depth = main.messageCount;
      if (queue.ordered) for (let i = 0; i < PARTITIONS; i++) depth += counts.get(partitionQueue(queue.name, i))?.messageCount ?? 0;
      // A command type another queue took over is no longer bound here, though the queue's old record names it.
      const topics = queue.topics.filter((t) => !this.registryView.claims.lostBy(queue.name, t));
      out.push({ name: queue.name, depth, inFlight: 0, deadLetters: counts.get(queue.name + DEAD_LETTER_SUFFIX)?.messageCount ?? 0, topics, consumers: main.consumerCount });
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
    if (this.registry) appendRecord(channel, deletionRecord(name));
  }

  /** Whether the queue exists on the broker. */
  async queueExists(name: string): Promise<boolean> {
    await this.channel();
    return (await this.checkQueues([name])).has(name);
  }

  /** A fresh channel on the current connection (dead-letter browsing). */
  async newChannel(): Promise<amqp.Channel> {
    await this.channel();
    const channel = await this.connection!.createChannel();
    channel.on('error', () => undefined);
    return channel;
  }
}
