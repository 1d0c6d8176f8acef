/**
 * The transport's live connection to RabbitMQ: connecting (with failover across nodes), recovery,
 * the publisher and admin channels, and the waiting of publishes during an outage or while the
 * broker blocks publishing.
 *
 * amqplib reconnects with capped exponential backoff and jitter. Each new connection is set up
 * exactly once (`setUp`): a new generation, a confirm channel, an admin channel, then the
 * transport's own setup (declarations, registry, consumers, see {@link ConnectionHooks}); only then
 * is the publisher channel made current and are waiting publishes released. A caller that needs a
 * channel while that setup runs (a publish during the reconnect) waits for it, never starts a
 * second one beside it. A failed setup is tried again (backoff up to 5 s) while the connection
 * lasts: right after a broker restart its queues may not be ready yet. A setup whose connection is
 * lost while it runs installs nothing (no publisher or admin channel of a dead connection over the
 * newer connection's, no resumed consumers, no "recovered" line): the newer connection's setup does.
 * The same holds for an admin channel opened later (`adminChannel`, after a refused declaration
 * closed the last one): opened on a connection lost meanwhile, it is closed, never installed.
 *
 * @example
 * ```ts
 * const link = new RabbitConnection(options, logger, hooks);
 * await link.connect();
 * const channel = await link.publisherChannel(true); // waits during an outage, within publishTimeout
 * ```
 * @module
 */
import * as amqp from 'amqplib';
import { BusStateError, ErrorCode, TransportError, type Logger, type TransportStatus } from '@missive/core';
import { connectError } from './connect-error.js';
import { failoverTarget, nodeUrl, type FailoverTarget } from './failover.js';
import type { ResolvedRabbitMqOptions } from './rabbitmq-options.js';

/**
 * Messages the publisher channel buffers while the socket is full before `publish` reports
 * backpressure (amqplib's default is 1,024, which for large messages is a lot of memory).
 */
const PUBLISH_BUFFER_MESSAGES = 64;
/** Channels of the pool for declarations many callers make at once (see `rpcChannel`). */
const RPC_CHANNELS = 8;

/** What the transport does on each new connection and when one is lost. */
export interface ConnectionHooks {
  /** A new publisher channel, before it is used: the publisher attaches its listeners. */
  preparePublisher(publisher: amqp.ConfirmChannel): void;
  /** Declares what the transport needs on `connection`; throws to have the setup tried again. */
  setUp(connection: amqp.ChannelModel, admin: amqp.Channel): Promise<void>;
  /** The publisher channel is current: the consumers resume on `connection`. */
  resume(connection: amqp.ChannelModel): Promise<void>;
  /** The connection was lost: consumers drop what they held (the broker requeues it). */
  lost(): void;
}

/** A connection's setup found it lost (and maybe replaced) while it ran: it installed nothing. */
class SupersededSetupError extends TransportError {
  override name = 'SupersededSetupError';
  constructor() {
    super('the rabbitmq connection was lost while it was being set up', { retryable: true });
  }
}

/** The live connection. */
export class RabbitConnection {
  /** Grows with every (re)connection; deliveries of older generations are stale. */
  generation = 0;
  private model: amqp.RecoveringChannelModel | undefined;
  private connection: amqp.ChannelModel | undefined;
  private publisher: amqp.ConfirmChannel | undefined;
  private admin: amqp.Channel | undefined;
  private state: 'new' | 'open' | 'closed' = 'new';
  /** Why the connection was lost, while it is being re-established. */
  private lostBecause: string | undefined;
  private blockedBy: string | undefined;
  private waiters: { resolve: () => void; reject: (error: Error) => void; timer: NodeJS.Timeout }[] = [];
  private ready: Promise<void> | undefined;
  /** A replacement of the publisher channel while it runs (see `renewPublisher`). */
  private renewing: Promise<void> | undefined;
  /** An opening of the admin channel while it runs (see `openAdmin`). */
  private openingAdmin: { readonly connection: amqp.ChannelModel; readonly done: Promise<amqp.Channel | undefined> } | undefined;
  /** The setup of a new connection while it runs (see `onConnect`). */
  private settingUp: { readonly connection: amqp.ChannelModel; readonly done: Promise<void> } | undefined;
  /** Several nodes: which one each connection goes to. */
  private failover: FailoverTarget | undefined;
  /** The node of the current (or last) connection, redacted: what the logs name. */
  private node: string;
  private readonly rpcPool: (amqp.Channel | undefined)[] = [];
  private nextRpc = 0;

  constructor(
    private readonly options: ResolvedRabbitMqOptions,
    readonly safeUrl: string,
    private readonly logger: Logger,
    private readonly hooks: ConnectionHooks,
  ) {
    this.node = safeUrl;
  }

  /** Whether the transport is connected (or reconnecting), not new or closed. */
  get open(): boolean {
    return this.state === 'open';
  }

  /** Throws the `BusStateError` of a transport not connected yet (`NOT_STARTED`) or closed, or closing (`CLOSED`). */
  checkOpen(): void {
    if (this.state !== 'open')
      throw new BusStateError(
        this.state === 'new' ? ErrorCode.NotStarted : ErrorCode.Closed,
        `rabbitmq transport is ${this.state === 'new' ? 'not connected' : 'closed'}`,
      );
  }

  /** The current connection, or undefined while it is down. */
  get current(): amqp.ChannelModel | undefined {
    return this.connection;
  }

  /** The publisher channel when it can be used at once (connected, not blocked), else undefined. */
  get publisherNow(): amqp.ConfirmChannel | undefined {
    return this.state === 'open' && this.blockedBy === undefined ? this.publisher : undefined;
  }

  /** Whether `channel` is the current publisher channel. */
  isPublisher(channel: amqp.Channel): boolean {
    return this.publisher === channel;
  }

  /** Whether `connection` is the current connection (not one that was lost). */
  isConnection(connection: amqp.ChannelModel): boolean {
    return this.connection === connection;
  }

  /**
   * Why RabbitMQ blocks this connection's publishes (it raised a memory or disk alarm), or undefined.
   * While it does, publishes wait like during an outage: up to `publishTimeout`, at most `maxBuffered`.
   */
  get blocked(): string | undefined {
    return this.blockedBy;
  }

  async connect(): Promise<void> {
    if (this.state === 'open') return;
    if (this.state === 'closed') throw new BusStateError(ErrorCode.Closed, 'rabbitmq transport is closed');
    this.state = 'open';
    const nodes = this.options.nodes;
    // Several nodes: each reconnection attempt goes to the next one (see failover.ts).
    const failover = nodes.length > 1 ? failoverTarget(this.options.url, nodes) : undefined;
    this.failover = failover;
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
      this.logger.warn(
        `RabbitMQ blocks publishing on this connection (${this.blockedBy}); publishes wait up to ${this.options.publishTimeoutMs} ms`,
      );
    });
    model.on('unblocked', () => {
      this.blockedBy = undefined;
      this.logger.info('RabbitMQ unblocked publishing');
      this.releaseWaiters();
    });
    model.on('reconnect-scheduled', (info: { attempt: number; delay: number }) =>
      this.logger.info(`rabbitmq reconnect ${info.attempt} in ${info.delay} ms`),
    );
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

  /** Runs the setup of a new connection, and again (backoff up to 5 s) while it fails and the connection lasts. */
  private setUp(connection: amqp.ChannelModel, failures: number): void {
    this.ready = this.onConnect(connection);
    this.ready.catch((error: unknown) => {
      if (this.state !== 'open' || this.connection !== connection) return;
      this.logger.warn(`rabbitmq setup after connect failed (${(error as Error).message}); trying again`);
      setTimeout(
        () => {
          if (this.state === 'open' && this.connection === connection && this.publisher === undefined) this.setUp(connection, failures + 1);
        },
        Math.min(5_000, 100 * 2 ** failures),
      ).unref();
    });
  }

  /**
   * Sets `connection` up once: a caller that comes while its setup runs (a publish during the
   * reconnect) waits for that setup instead of starting a second one beside it.
   */
  private onConnect(connection: amqp.ChannelModel): Promise<void> {
    if (this.connection === connection && this.publisher !== undefined) return Promise.resolve();
    if (this.settingUp?.connection === connection) return this.settingUp.done;
    const done = this.setUpConnection(connection).finally(() => {
      if (this.settingUp?.done === done) this.settingUp = undefined;
    });
    this.settingUp = { connection, done };
    return done;
  }

  private async setUpConnection(connection: amqp.ChannelModel): Promise<void> {
    this.connection = connection;
    // amqplib moves the target to the next node only before the next attempt: this one's node.
    this.node = this.failover === undefined ? this.safeUrl : nodeUrl(this.options.url, this.failover.current());
    this.generation++;
    // The connection may be lost, and a newer one set up, while this setup waits: from then on it
    // installs nothing (its channels would be the dead connection's, over the newer one's).
    const superseded = (): boolean => this.state !== 'open' || this.connection !== connection;
    const publisher = await connection.createConfirmChannel({ highWaterMark: PUBLISH_BUFFER_MESSAGES });
    try {
      if (superseded()) throw new SupersededSetupError();
      this.hooks.preparePublisher(publisher);
      publisher.on('close', () => {
        if (this.publisher === publisher) this.publisher = undefined;
      });
      const admin = await this.adminChannelOn(connection);
      if (superseded()) {
        await admin.close().catch(() => undefined);
        throw new SupersededSetupError();
      }
      this.admin = admin;
      await this.hooks.setUp(connection, admin);
      if (superseded()) throw new SupersededSetupError();
    } catch (error) {
      await publisher.close().catch(() => undefined);
      throw error;
    }
    this.publisher = publisher;
    await this.hooks.resume(connection);
    if (superseded()) return;
    if (this.lostBecause !== undefined) this.logger.info({ url: this.node }, 'rabbitmq connection recovered');
    this.lostBecause = undefined;
    this.releaseWaiters();
  }

  /** Connected and able to publish; else why not (see `Transport.status`). */
  status(): TransportStatus {
    if (this.state !== 'open') return { connected: false, reason: `the transport is ${this.state === 'new' ? 'not connected' : 'closed'}` };
    if (this.publisher === undefined)
      return {
        connected: false,
        reason: `rabbitmq connection lost${this.lostBecause === undefined ? '' : ` (${this.lostBecause})`}; reconnecting`,
      };
    return { connected: true };
  }

  private async adminChannelOn(connection: amqp.ChannelModel): Promise<amqp.Channel> {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    channel.on('close', () => {
      if (this.admin === channel) this.admin = undefined;
    });
    return channel;
  }

  private onDisconnect(error: Error): void {
    if (this.state !== 'open') return;
    this.logger.warn({ url: this.node, err: error }, `rabbitmq connection lost (${error.message}); reconnecting`);
    this.lostBecause = error.message;
    this.blockedBy = undefined; // a new connection starts unblocked; the broker blocks it again if its alarm is still on
    this.publisher = undefined;
    this.admin = undefined;
    this.rpcPool.length = 0;
    this.connection = undefined;
    this.hooks.lost();
  }

  /**
   * Waits for a usable publisher channel, within the outage limits. `publishing`: also wait while
   * the broker blocks this connection's publishes (a resource alarm); declarations and reads need not.
   */
  async publisherChannel(publishing = false): Promise<amqp.ConfirmChannel> {
    this.checkOpen();
    if (this.publisher !== undefined && (!publishing || this.blockedBy === undefined)) return this.publisher;
    if (this.publisher === undefined && this.connection !== undefined) {
      await this.onConnect(this.connection).catch(() => undefined);
      if (this.publisher !== undefined) return this.publisher;
    }
    const outage =
      this.publisher === undefined
        ? 'rabbitmq connection is down'
        : `RabbitMQ is blocking publishes (${this.blockedBy ?? 'resource alarm'})`;
    if (this.waiters.length >= this.options.maxBuffered) {
      throw new TransportError(`${outage} and ${this.waiters.length} publishes are already waiting (maxBuffered)`);
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        const what =
          this.publisher === undefined
            ? 'the connection did not come back'
            : `RabbitMQ kept blocking publishes (${this.blockedBy ?? 'resource alarm'})`;
        const lost = this.publisher === undefined && this.lostBecause !== undefined ? `; it was lost: ${this.lostBecause}` : '';
        reject(
          new TransportError(`${what} within ${this.options.publishTimeoutMs} ms (publishTimeout${lost}); the message was not published`),
        );
      }, this.options.publishTimeoutMs);
      this.waiters.push({ resolve, reject, timer });
    });
    return this.publisherChannel(publishing);
  }

  private releaseWaiters(): void {
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
  }

  /**
   * The admin channel, recreated if a declaration closed it. Like a setup, an opening whose
   * connection is lost (and maybe replaced) while it runs installs nothing: that channel is closed
   * and the caller waits for the current connection's admin channel, as a publish waits for its
   * channel (within `publishTimeout`). Callers that come while one opens share it.
   */
  async adminChannel(): Promise<amqp.Channel> {
    for (;;) {
      if (this.admin !== undefined) return this.admin;
      await this.publisherChannel();
      const admin = this.admin ?? (await this.openAdmin(this.connection!));
      if (admin !== undefined) return admin;
    }
  }

  /** Opens the admin channel on `connection`, once for every caller meanwhile; undefined when the connection was lost meanwhile. */
  private openAdmin(connection: amqp.ChannelModel): Promise<amqp.Channel | undefined> {
    if (this.openingAdmin?.connection === connection) return this.openingAdmin.done;
    const done = this.adminChannelOn(connection)
      .then(
        (channel) => {
          const current = this.state === 'open' && this.isConnection(connection);
          if (current && this.admin === undefined) this.admin = channel;
          if (this.admin !== channel) void channel.close().catch(() => undefined); // a dead connection's, or another came first
          return current ? this.admin : undefined;
        },
        (error: unknown) => {
          if (this.state === 'open' && this.isConnection(connection)) throw error;
          return undefined; // the opening failed with its connection: wait for the next one
        },
      )
      .finally(() => {
        if (this.openingAdmin?.done === done) this.openingAdmin = undefined;
      });
    this.openingAdmin = { connection, done };
    return done;
  }

  /** A new admin channel on `connection`, replacing one a refused declaration closed during the setup. */
  async reopenAdmin(connection: amqp.ChannelModel): Promise<amqp.Channel> {
    const channel = await this.adminChannelOn(connection);
    if (this.isConnection(connection)) this.admin = channel; // not a lost connection's over the current one's
    return channel;
  }

  /**
   * One of a few channels, in turn, for declarations that many callers make at once (a scheduled
   * message's own queue, its cancellation). AMQP runs one operation at a time on a channel: on the
   * one admin channel they waited in line behind each other, one round trip each (under load, the
   * shop's sagas spent seconds there). A channel the broker closes is replaced on next use.
   */
  async rpcChannel(): Promise<amqp.Channel> {
    const slot = this.nextRpc++ % RPC_CHANNELS;
    const pooled = this.rpcPool[slot];
    if (pooled !== undefined) return pooled;
    await this.publisherChannel();
    const connection = this.connection!;
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    channel.on('close', () => {
      if (this.rpcPool[slot] === channel) this.rpcPool[slot] = undefined;
    });
    if (this.rpcPool[slot] !== undefined || !this.isConnection(connection)) {
      void channel.close().catch(() => undefined); // another caller filled the slot first
      return this.rpcPool[slot] ?? this.adminChannel();
    }
    this.rpcPool[slot] = channel;
    return channel;
  }

  /**
   * Replaces `stale`, the publisher channel, with a new confirm channel on the same connection; the
   * connection, its consumers and its generation stay. The publisher asks for it when the broker
   * keeps refusing (nacking) what it publishes on one channel: RabbitMQ 3.10 keeps a quorum queue's
   * client state per channel, and a channel opened on a surviving node while the queue's leader was
   * the node just killed went on nacking every publish to that queue for minutes after a new leader
   * was elected, while a new channel on the same connection was confirmed at once (the cluster test's
   * failover stall). The stale channel is closed once its confirms are in. Settles when done (at once
   * if `stale` is no longer the publisher channel or another renewal runs).
   */
  async renewPublisher(stale: amqp.ConfirmChannel): Promise<void> {
    if (this.renewing !== undefined) return this.renewing;
    const connection = this.connection;
    if (this.publisher !== stale || connection === undefined) return;
    const renewing = this.openPublisherInstead(stale, connection).finally(() => {
      if (this.renewing === renewing) this.renewing = undefined;
    });
    this.renewing = renewing;
    return renewing;
  }

  private async openPublisherInstead(stale: amqp.ConfirmChannel, connection: amqp.ChannelModel): Promise<void> {
    const fresh = await connection.createConfirmChannel({ highWaterMark: PUBLISH_BUFFER_MESSAGES });
    if (this.publisher !== stale || !this.isConnection(connection)) {
      await fresh.close().catch(() => undefined);
      return;
    }
    this.hooks.preparePublisher(fresh);
    fresh.on('close', () => {
      if (this.publisher === fresh) this.publisher = undefined;
    });
    this.publisher = fresh;
    this.logger.info('RabbitMQ kept refusing publishes on the publisher channel; publishing on a new channel');
    void stale
      .waitForConfirms()
      .catch(() => undefined)
      .then(() => stale.close())
      .catch(() => undefined);
  }

  /** A failed declaration closed the admin channel: the next `adminChannel` opens another. */
  dropAdmin(): void {
    this.admin = undefined;
  }

  /** A fresh channel on the current connection. */
  async newChannel(): Promise<amqp.Channel> {
    await this.publisherChannel();
    const channel = await this.connection!.createChannel();
    channel.on('error', () => undefined);
    return channel;
  }

  /** Marks the transport closed: waiting publishes fail, later calls are refused. False if it was not open. */
  beginClose(): boolean {
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new BusStateError(ErrorCode.Closed, 'rabbitmq transport closed'));
    }
    return wasOpen;
  }

  /** Waits for the confirms still out, then closes the connection. */
  async close(): Promise<void> {
    try {
      await this.publisher?.waitForConfirms();
    } catch {
      /* confirms of a dying channel */
    }
    await this.model?.close().catch(() => undefined);
  }
}
