/**
 * The Redis Streams transport: a stream per queue (endpoint) with one consumer group, on ioredis.
 *
 * - **Fan-out**: publishing routes a topic to every queue bound to a matching pattern and writes
 *   the message to each queue's stream in one script (the routes are cached and checked against a
 *   version inside that script, so a publish never uses stale bindings). **Competing consumers**:
 *   the instances of an endpoint are consumers of its stream's group.
 * - **Acks** delete the entry (`XACK` + `XDEL`): a stream holds only unacked messages, so there is
 *   nothing to trim and nothing unacknowledged is ever trimmed.
 * - **Crashes**: a dead consumer's pending entries are reclaimed with `XAUTOCLAIM` once idle for
 *   `claimIdle` and written again under new ids (so a late ack settles nothing); delivery counts
 *   come from the pending-entries list.
 * - **Delays and schedules**: a sorted set of due times, moved into the queues by a script.
 * - **Per-key order**: a hash of key holders per queue; an entry whose key is held waits in the
 *   key's list and is written back to the stream when the holder settles.
 *
 * @example
 * ```ts
 * const transport = new RedisTransport({ url: 'redis://127.0.0.1:6379' });
 * const bus = createBus({ service: 'shop', transport }); // or transport: 'redis://127.0.0.1:6379'
 * ```
 * @module
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  BusStateError,
  ConfigurationError,
  ErrorCode,
  TransportError,
  UnroutableError,
  consoleLogger,
  redactUrl,
  systemClock,
  type Clock,
  type Logger,
} from '@missive/core';
import {
  topicMatcher,
  type Consumer,
  type EnqueueOptions,
  type QueueInfo,
  type QueueSpec,
  type Transport,
  type TransportCapabilities,
  type TransportMessage,
} from '@missive/core/transport';
import { Abandon, LinkLoss } from './abandon.js';
import { entryFields } from './entry.js';
import { Keys } from './keys.js';
import { RedisCommandOwners } from './redis-command-owners.js';
import type { RedisConnection, Routes } from './redis-connection.js';
import { RedisConsumer } from './redis-consumer.js';
import { RedisDeadLetters } from './redis-dead-letters.js';
import { DelayPromoter } from './redis-delays.js';
import { checkDurability } from './redis-durability.js';
import { listQueues } from './redis-listing.js';
import { hideCredentials } from './auth-error.js';
import { clientOptions, LinkWatch } from './redis-liveness.js';
import { resolveRedisOptions, type RedisTransportOptions, type ResolvedRedisOptions } from './redis-options.js';
import { PublishBatch } from './publish-batch.js';
import { ReadyFanout } from './ready-fanout.js';
import { Scripts } from './scripts.js';

/** Dependencies a transport factory passes in. */
export interface RedisTransportDeps {
  readonly clock?: Clock;
  readonly logger?: Logger;
}

const HEARTBEAT_MS = 5000;

/** The Redis transport. */
export class RedisTransport implements Transport, RedisConnection {
  readonly kind = 'redis';
  readonly capabilities: TransportCapabilities = Object.freeze({
    delayedDelivery: true,
    cancelScheduled: true,
    orderingKeys: true,
    multiProcess: true,
  });
  readonly deadLetters: RedisDeadLetters;
  /** The broker-wide record of command owners under this prefix (see `redis-command-owners.ts`). */
  readonly commandOwners: RedisCommandOwners;
  /** This connection's id: the owner of its temporary queues. */
  readonly connectionId = randomUUID();
  readonly options: ResolvedRedisOptions;
  readonly keys: Keys;
  readonly clock: Clock;
  readonly logger: Logger;
  private redis_: Redis | undefined;
  private scripts_: Scripts | undefined;
  private state: 'new' | 'open' | 'closed' = 'new';
  private readonly consumers = new Set<RedisConsumer>();
  private readonly declared = new Map<string, QueueSpec>();
  private routes: Routes | undefined;
  /** The read of the routes under way: concurrent publishes share it (10k at once made 10k reads). */
  private routesLoading: Promise<Routes> | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private watch: LinkWatch | undefined;
  private closing: Promise<void> | undefined;
  /** Fired at close: a script call still waiting (a publish in flight on a lost link) rejects with a `TransportError`. */
  private readonly abandon = new Abandon('redis transport');
  private linkLoss: LinkLoss | undefined;
  private readyFanout: ReadyFanout | undefined;
  private readonly batch = new PublishBatch(this);
  private readonly delays = new DelayPromoter(this);

  /** Checks the options at once: a bad URL or option throws a `ConfigurationError` saying what to fix. */
  constructor(options: RedisTransportOptions, deps: RedisTransportDeps = {}) {
    this.options = resolveRedisOptions(options);
    this.keys = new Keys(this.options.prefix);
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? consoleLogger('warn');
    this.deadLetters = new RedisDeadLetters(this);
    this.commandOwners = new RedisCommandOwners(this);
  }

  /** Whether the transport is connected and not closed. */
  get open(): boolean {
    return this.state === 'open';
  }

  /** The command connection. */
  get redis(): Redis {
    if (this.state !== 'open' || this.redis_ === undefined) throw this.stateError();
    return this.redis_;
  }

  private stateError(): BusStateError {
    return new BusStateError(
      this.state === 'closed' ? ErrorCode.Closed : ErrorCode.NotStarted,
      `redis transport is ${this.state === 'closed' ? 'closed' : 'not connected'}`,
    );
  }

  /** The scripts, defined on the command connection. */
  get scripts(): Scripts {
    if (this.scripts_ === undefined || this.state !== 'open') throw this.stateError();
    return this.scripts_;
  }

  async connect(): Promise<void> {
    if (this.state === 'open') return;
    if (this.state === 'closed') throw new BusStateError(ErrorCode.Closed, 'redis transport is closed');
    const where = redactUrl(this.options.url);
    const redis = new Redis(this.options.url, clientOptions(this.options));
    // What went wrong reaches `connect()` only as "Connection is closed."; the cause (refused, no
    // such host, wrong password) comes as an 'error' event: kept, for the error to name it.
    let failure: Error | undefined;
    const onError = (error: Error): void => {
      failure = hideCredentials(error);
      this.logger.debug?.(`redis connection to ${where}: ${error.message}`);
    };
    redis.on('error', onError);
    try {
      await redis.connect();
      await checkDurability(redis, this.options.durability, where);
    } catch (error) {
      redis.disconnect();
      if (error instanceof ConfigurationError) throw error;
      const cause = failure ?? (error as Error);
      throw new TransportError(`cannot connect to Redis at ${where}: ${cause.message}`, { cause });
    }
    redis.off('error', onError);
    redis.on('error', (error: Error) => this.logger.debug?.(`redis connection to ${where}: ${hideCredentials(error).message}`));
    this.redis_ = redis;
    this.scripts_ = new Scripts(redis, this.abandon);
    this.linkLoss = new LinkLoss(redis);
    this.readyFanout = new ReadyFanout(redis);
    this.state = 'open';
    // After a reconnect, declare again what this connection declared: a server restarted without
    // persistence has forgotten it (its messages are gone; the queues need not be).
    redis.on('ready', () => void this.redeclareAll());
    await this.heartbeat();
    this.pollTimer = setInterval(() => void this.delays.promote(), this.options.pollMs);
    this.pollTimer.unref();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), HEARTBEAT_MS);
    this.heartbeatTimer.unref();
    this.watch = new LinkWatch(redis, this.options.timeoutMs, this.logger, where);
    this.watch.start();
  }

  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  /**
   * Ends promptly whatever state the connection is in: what close sends (the last publishes, the
   * consumers' give-backs and acks, dropping temporary queues, `QUIT`) is sent only while the
   * connection is ready and waited on for at most `timeoutMs`; then every script call still
   * waiting (a publish in flight on a lost link) rejects with a `TransportError`, and the
   * connection is dropped.
   */
  private async closeOnce(): Promise<void> {
    if (this.state !== 'open') {
      this.state = 'closed';
      return;
    }
    clearInterval(this.pollTimer);
    clearInterval(this.heartbeatTimer);
    this.watch?.stop();
    this.delays.stop();
    const redis = this.redis_!;
    const flushing = this.batch.flush(); // on a link not ready, queued: abandoned below
    await this.whileReady(() => flushing, 'publish').catch(() => undefined);
    await Promise.all([...this.consumers].map((c) => c.shutdown()));
    try {
      await this.whileReady(() => this.dropTemporaries(), 'drop temporary queues');
    } catch (error) {
      this.logger.warn({ err: error }, 'redis transport could not delete its temporary queues; another connection will reap them');
    }
    this.abandon.fire();
    this.state = 'closed';
    this.readyFanout?.stop();
    await this.whileReady(() => redis.quit(), 'quit').catch(() => undefined);
    redis.disconnect();
  }

  /** @internal The command connection's `ready`, for the transport's parts: one listener on the connection however many subscribe. Throws when not connected. */
  get readyEvents(): ReadyFanout {
    if (this.state !== 'open' || this.readyFanout === undefined) throw this.stateError();
    return this.readyFanout;
  }

  /** @internal Close-time work on the command connection (see {@link RedisConnection.whileReady}); also while closing. */
  whileReady<T>(work: () => Promise<T>, what: string, ms = this.options.timeoutMs): Promise<T> {
    if (this.linkLoss === undefined || this.state === 'new') return Promise.reject(this.stateError());
    return this.linkLoss.whileReady(work, ms, what);
  }

  private async dropTemporaries(): Promise<void> {
    for (const [name, spec] of this.declared) if (spec.temporary === true) await this.scripts.run('drop', [], [this.keys.prefix, name]);
    await this.redis.del(this.keys.connection(this.connectionId));
  }

  async declare(queue: QueueSpec): Promise<void> {
    for (const pattern of queue.topics) topicMatcher(pattern);
    const [added, ...lost] = (await this.run('declare', () =>
      this.scripts.run(
        'declare',
        [],
        [
          this.keys.prefix,
          queue.name,
          queue.temporary === true ? this.connectionId : '',
          queue.ordered === true ? '1' : '0',
          this.clock.now(),
          ...queue.topics,
        ],
      ),
    )) as [number, ...string[]];
    const known = this.declared.get(queue.name);
    const topics = [...new Set([...(known?.topics ?? []), ...queue.topics])].filter((topic) => !lost.includes(topic));
    this.declared.set(queue.name, { ...queue, ordered: queue.ordered === true || known?.ordered === true, topics });
    if (lost.length > 0)
      this.logger.warn(`redis queue ${queue.name} is not bound to ${lost.join(', ')}: another endpoint owns them (takeOver)`);
    if (Number(added) > 0) this.routes = undefined;
  }

  publish(topic: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    if (!this.open) return Promise.reject(this.stateError());
    const fields = entryFields(message);
    const delayed = options?.notBefore !== undefined && options.notBefore > this.clock.now();
    if (!delayed) return this.batch.add(topic, fields, options?.mandatory === true);
    return this.publishOne(topic, fields, options);
  }

  /** A delayed publish, on its own. */
  private async publishOne(topic: string, fields: (string | Buffer)[], options: EnqueueOptions): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const routes = await this.currentRoutes();
      const queues = this.route(routes, topic);
      const done = await this.run('publish', () =>
        this.scripts.run(
          'schedule',
          [],
          [this.keys.prefix, routes.version, options.notBefore!, options.scheduleId ?? '', queues.length, ...queues, ...fields],
        ),
      );
      const stale = Number(done) === -1;
      if (!stale) this.dueAt(options.notBefore!);
      // Zero queues is checked against the version too: a binding made since the routes were read counts.
      if (!stale && queues.length === 0 && options.mandatory === true) throw new UnroutableError(topic);
      if (!stale) return;
      this.routes = undefined;
      if (attempt >= 10) throw new TransportError(`publish to ${topic}: the queue bindings kept changing during 10 attempts`);
    }
  }

  async send(queue: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    const fields = entryFields(message);
    let done: unknown;
    if (options?.notBefore !== undefined && options.notBefore > this.clock.now()) {
      done = await this.run('send', () =>
        this.scripts.run('schedule', [], [this.keys.prefix, '', options.notBefore!, options.scheduleId ?? '', 1, queue, ...fields]),
      );
      if (Number(done) === 1) this.dueAt(options.notBefore);
    } else {
      done = await this.run('send', () => this.scripts.run('send', [this.keys.queues, this.keys.stream(queue)], [queue, ...fields]));
    }
    if (Number(done) === 0) throw new UnroutableError(queue, 'no such queue');
  }

  consume(queue: string, options: { readonly prefetch: number }): Consumer {
    if (!this.open) throw this.stateError();
    const consumer = new RedisConsumer(this, queue, Math.max(1, Math.floor(options.prefetch)));
    this.consumers.add(consumer);
    return consumer;
  }

  async cancelScheduled(scheduleId: string): Promise<boolean> {
    return Number(await this.run('cancel', () => this.scripts.run('cancel', [], [this.keys.prefix, scheduleId]))) > 0;
  }

  queues(): Promise<QueueInfo[]> {
    return listQueues(this);
  }

  async deleteQueue(name: string): Promise<void> {
    await this.run('deleteQueue', () => this.scripts.run('drop', [], [this.keys.prefix, name]));
    this.declared.delete(name);
    this.routes = undefined;
  }

  // --- internal ------------------------------------------------------------------------------

  /** @internal Resolves with whether the queue is ordered when it exists; rejects with `UnroutableError` otherwise. */
  async checkQueue(queue: string): Promise<boolean> {
    const known = this.declared.get(queue);
    if (known?.ordered === true) return true;
    const [exists, ordered] = await Promise.all([
      this.redis.hexists(this.keys.queues, queue),
      this.redis.sismember(`${this.keys.prefix}ordered`, queue),
    ]);
    if (exists === 0 && known === undefined) throw new UnroutableError(queue, 'no such queue; declare it before consuming');
    return ordered === 1;
  }

  /** @internal Declares a queue this connection declared before, after the server lost it. False if it never did. */
  async redeclare(queue: string): Promise<boolean> {
    const spec = this.declared.get(queue);
    if (spec === undefined || !this.open) return false;
    this.logger.warn(`redis queue ${queue} was gone from the server (restarted without persistence?); declaring it again`);
    await this.declare(spec);
    return true;
  }

  private async redeclareAll(): Promise<void> {
    if (!this.open) return;
    try {
      await this.commandOwners.reclaim();
      for (const spec of this.declared.values()) await this.declare(spec);
      await this.heartbeat();
    } catch (error) {
      this.logger.warn({ err: error }, 'redis transport could not declare its queues again after reconnecting');
    }
  }

  /** @internal Stops tracking a closed consumer. */
  forget(consumer: RedisConsumer): void {
    this.consumers.delete(consumer);
  }

  /** @internal Wraps a Redis failure of `operation` (never with the URL's password). */
  failure(operation: string, error: unknown): Error {
    if (error instanceof TransportError || error instanceof BusStateError) return error;
    return new TransportError(`redis ${operation} failed: ${(error as Error).message}`, { cause: error });
  }

  /** Runs a Redis call; its failure (or its abandonment at close) rejects with a `TransportError`. */
  private async run<T>(operation: string, call: () => Promise<T>): Promise<T> {
    try {
      return await this.abandon.race(call());
    } catch (error) {
      throw this.failure(operation, error);
    }
  }

  /** @internal The routes, read from Redis when unknown or stale (one read at a time). */
  currentRoutes(): Promise<Routes> | Routes {
    if (this.routes !== undefined) return this.routes;
    if (this.routesLoading === undefined) {
      const loading = this.loadRoutes().finally(() => {
        if (this.routesLoading === loading) this.routesLoading = undefined;
      });
      this.routesLoading = loading;
    }
    return this.routesLoading;
  }

  /** @internal The routes changed under us: read them again next time. */
  staleRoutes(): void {
    this.routes = undefined;
    this.routesLoading = undefined;
  }

  /** @internal The streams of the queues `topic` routes to (cached with the routes). */
  streamsOf(routes: Routes, topic: string): string[] {
    let streams = routes.streamsByTopic.get(topic);
    if (streams === undefined) {
      streams = this.route(routes, topic).map((queue) => this.keys.stream(queue));
      routes.streamsByTopic.set(topic, streams);
    }
    return streams;
  }

  private async loadRoutes(): Promise<Routes> {
    const reply = await this.run('route', () => this.redis.multi().get(this.keys.version).smembers(this.keys.bindings).exec());
    const version = (reply?.[0]?.[1] as string | null) ?? '0';
    const bindings = ((reply?.[1]?.[1] as string[] | undefined) ?? []).map((binding) => {
      const tab = binding.indexOf('\t');
      return { queue: binding.slice(0, tab), matches: topicMatcher(binding.slice(tab + 1)) };
    });
    const routes: Routes = { version, bindings, byTopic: new Map(), streamsByTopic: new Map() };
    this.routes = routes;
    return routes;
  }

  private route(routes: Routes, topic: string): string[] {
    let queues = routes.byTopic.get(topic);
    if (queues === undefined) {
      queues = [...new Set(routes.bindings.filter((b) => b.matches(topic)).map((b) => b.queue))];
      routes.byTopic.set(topic, queues);
    }
    return queues;
  }

  /** @internal A delay is due at `at`: promote no later than then. */
  dueAt(at: number): void {
    this.delays.dueAt(at);
  }

  /** Marks this connection alive (owner of its temporary queues) and reaps the temporary queues of dead ones. */
  private async heartbeat(): Promise<void> {
    if (!this.open) return;
    try {
      await this.redis.set(this.keys.connection(this.connectionId), String(process.pid), 'PX', HEARTBEAT_MS * 3);
      // A process stalled past the TTL has had its temporary queues reaped by others: declare them again.
      for (const spec of this.declared.values()) {
        if (spec.temporary === true && (await this.redis.hexists(this.keys.queues, spec.name)) === 0) await this.declare(spec);
      }
      await this.scripts.run('reap', [], [this.keys.prefix]);
    } catch (error) {
      if (this.open) this.logger.warn({ err: error }, 'redis transport heartbeat failed');
    }
  }
}
