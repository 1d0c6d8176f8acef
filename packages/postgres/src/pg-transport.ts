/**
 * The PostgreSQL transport: queues in tables of one schema, for teams with PostgreSQL and no broker.
 *
 * - **Publishing** routes a topic to every bound queue and inserts the copies in one statement (one
 *   implicit transaction); `publish` resolves after the commit. The queues written in one
 *   event-loop turn are then `NOTIFY`d together in a separate statement: a `NOTIFY` inside the
 *   writing transaction would hold PostgreSQL's global notify lock through that commit's WAL
 *   flush, serializing every publisher's commit (no group commit). With `commit: 'async'` the
 *   transport's sessions commit without waiting for the flush, and an insert notifies in its own
 *   statement unless a burst is under way (one round trip less; see `pg-publishing.ts`, and
 *   `PostgresTransportOptions.commit` for what it risks).
 * - **Consuming** claims in batches: `SELECT … FOR UPDATE SKIP LOCKED` up to the consumer's free
 *   prefetch, leased with a per-delivery token and an expiry, in one statement. Competing
 *   consumers never wait for each other's rows. The lease is extended while the delivery is
 *   unsettled; settling matches the token, so a late ack never settles another instance's copy.
 * - **Crashed consumers.** Each transport holds a session advisory lock on its own listening
 *   connection. Once a second another transport tries that lock: when it gets it, the owner's
 *   session is gone (SIGKILL, a terminated backend), so its leases are released at once and its
 *   temporary queues deleted. Otherwise leases expire.
 * - **Ordering keys**: only the earliest message of a key in a queue is claimable (triggers keep
 *   `blocked`, see `schema.ts`), so a key's messages go one at a time, in order, across instances.
 * - **Delays**: nack with a delay sets `visible_at` in place; `notBefore` puts the message in the
 *   `scheduled` table, moved into its queue when due by whichever transport looks first.
 * - **Wake-up**: `LISTEN/NOTIFY` wakes consumers of a queue when a message is committed to it; a
 *   timer wakes them for the next due message; a slow poll (`pollMs`) is the fallback.
 * - **One owner per command type**: `command_owners`, claimed in one statement (`pg-command-owners.ts`);
 *   `queues()` counts every live transport's consumers (`pg-consumer-rows.ts`).
 * - **Lost connections** (`pg-link.ts`): one reconnect loop per transport, with capped backoff and
 *   jitter, through the listening connection, which also pings the server every `heartbeatMs` (a
 *   silent link is dropped within two intervals). Operations wait for the link (at most
 *   `maxBuffered` of them, each until `reconnectMs` after it began), then run; after a reconnect
 *   the transport re-registers and looks for work it was not told about.
 *
 * @example
 * ```ts
 * const transport = new PostgresTransport({ connectionString: 'postgres://app@db/shop', schema: 'bus' });
 * const bus = createBus({ service: 'shop', transport }); // or transport: 'postgres://app@db/shop?schema=bus'
 * ```
 * @module
 */
import { randomInt, randomUUID } from 'node:crypto';
import type pg from 'pg';
import {
  BusStateError,
  ErrorCode,
  TransportError,
  consoleLogger,
  redactUrl,
  systemClock,
  type Clock,
  type Logger,
  type QueueInfo,
  type Transport,
  type TransportCapabilities,
  type TransportMessage,
} from '@missive/core';
import {
  checkTopicPattern,
  isExactTopic,
  type CommandOwnership,
  type Consumer,
  type DeadLetterStore,
  type EnqueueOptions,
  type QueueSpec,
} from '@missive/core/transport';
import { PostgresCommandOwners } from './pg-command-owners.js';
import { PostgresConsumer, type ClaimedRow } from './pg-consumer.js';
import { ConsumerRows } from './pg-consumer-rows.js';
import { DueTimer } from './pg-due-timer.js';
import { PostgresDeadLetters } from './pg-dead-letters.js';
import { Heartbeat } from './pg-heartbeat.js';
import { PgListener } from './pg-listener.js';
import type { Lane } from './pg-lane.js';
import { Link } from './pg-link.js';
import { Notifier } from './pg-notifier.js';
import { connectTimeoutMs, openPools } from './pg-pools.js';
import { PostgresPublishing } from './pg-publishing.js';
import { listQueues } from './pg-queue-listing.js';
import { Poll } from './pg-poll.js';
import { dropQueue } from './pg-reaper.js';
import { inTransaction, retrying } from './pg-run.js';
import { PostgresSettlement, type SettleExtra } from './pg-settlement.js';
import { resolvePostgresOptions, type PostgresTransportOptions, type ResolvedPostgresOptions } from './pg-options.js';
import { patternRegex, statements, type Named, type Statements } from './statements.js';

/** Dependencies a transport factory passes in. */
export interface PostgresTransportDeps {
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** The PostgreSQL transport. */
export class PostgresTransport implements Transport {
  readonly kind = 'postgres';
  readonly capabilities: TransportCapabilities = Object.freeze({
    delayedDelivery: true,
    cancelScheduled: true,
    orderingKeys: true,
    multiProcess: true,
  });
  readonly deadLetters: DeadLetterStore;
  /** One owner per command type, across every process on the schema (see `pg-command-owners.ts`). */
  readonly commandOwners: CommandOwnership;
  /** This transport's id: the owner of its leases and temporary queues. */
  readonly connectionId = randomUUID();
  readonly options: ResolvedPostgresOptions;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The statements of the configured schema. */
  readonly sql: Statements;
  private readonly lockKey = randomInt(1, 2 ** 31 - 1);
  private main: Lane | undefined;
  /** Claims and settles go through their own pool, so a burst of publishes never delays an ack past its lease. */
  private consumeLane: Lane | undefined;
  private listener: PgListener | undefined;
  private link: Link | undefined;
  private state: 'new' | 'open' | 'closed' = 'new';
  private readonly consumers = new Set<PostgresConsumer>();
  /**
   * Consumers closed whose claim under way or hand-backs may not have reached the database yet:
   * closing waits for them, since a settle after the close is a no-op (rows a late claim brings
   * back would otherwise stay leased to a gone connection, counted as a delivery no handler saw).
   */
  private readonly leaving = new Set<PostgresConsumer>();
  private readonly temporary = new Map<string, QueueSpec>();
  private readonly poll: Poll;
  private readonly heartbeat: Heartbeat;
  private readonly due: DueTimer;
  private readonly consumerRows: ConsumerRows;
  private closing: Promise<void> | undefined;
  private readonly notifier: Notifier;
  private readonly publishing: PostgresPublishing;
  private readonly settlement: PostgresSettlement;

  constructor(options: PostgresTransportOptions, deps: PostgresTransportDeps = {}) {
    this.options = resolvePostgresOptions(options);
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? consoleLogger('warn');
    this.sql = statements(this.options.schema, `missive:${this.options.schema}`);
    this.deadLetters = new PostgresDeadLetters(this);
    const host = {
      sql: this.sql,
      connectionId: this.connectionId,
      clock: this.clock,
      logger: this.logger,
      now: () => this.clock.now(),
      run: this.run.bind(this),
    };
    const isOpen = () => this.state === 'open';
    const notify = (queue: string) => this.notify(queue);
    const armDue = (at: number) => this.due.arm(at);
    this.commandOwners = new PostgresCommandOwners(host);
    this.consumerRows = new ConsumerRows(host);
    this.due = new DueTimer({ ...host, isOpen, notify, wakeAll: () => this.wakeAll() });
    this.notifier = new Notifier({
      logger: this.logger,
      isOpen,
      notified: (queue) => this.notified(queue),
      send: (queues) => this.lane.use((pool) => pool.query({ ...this.sql.notify, values: [this.sql.channel, queues] })),
    });
    this.publishing = new PostgresPublishing({
      ...host,
      armDue,
      notify,
      wakeLocal: (queue) => this.notifier.wake(queue),
      notifyInStatement: this.options.commit === 'async',
    });
    this.settlement = new PostgresSettlement({
      ...host,
      run: (statement, values) => this.run(statement, values, 'consume'),
      isOpen,
      armDue,
      notify,
    });
    this.heartbeat = new Heartbeat({
      ...host,
      isUp: () => this.link?.lost === false, // checking: the extension waits for the check
      leaseMs: this.options.leaseMs,
      heldSeqs: () => [...this.consumers].flatMap((c) => c.heldSeqs()),
    });
    this.poll = new Poll({
      ...host,
      run: (statement, values) => this.run(statement, values),
      transaction: (work) => this.transaction(work),
      pollMs: this.options.pollMs,
      lockSpace: this.lockSpace(),
      due: this.due,
      isOpen: () => isOpen() && this.link?.lost === false, // while the link is down, the reconnect looks for work
      wakeAll: () => this.wakeAll(),
    });
  }

  /** The main pool's lane (internal to the package). */
  private get lane(): Lane {
    if (this.state !== 'open' || this.main === undefined) {
      throw new BusStateError(
        this.state === 'closed' ? ErrorCode.Closed : ErrorCode.NotStarted,
        `postgres transport is ${this.state === 'closed' ? 'closed' : 'not connected'}`,
      );
    }
    return this.main;
  }

  /** Connection attempts the reconnect loop made, and outages, since the transport opened (for health and tests). */
  get reconnects(): { readonly attempts: number; readonly outages: number } {
    return { attempts: this.link?.attempts ?? 0, outages: this.link?.outages ?? 0 };
  }

  async connect(): Promise<void> {
    if (this.state === 'open') return;
    if (this.state === 'closed') throw new BusStateError(ErrorCode.Closed, 'postgres transport is closed');
    const { main, consume } = await openPools(this.options, this.logger, () => this.link?.up !== false);
    this.main = main;
    this.consumeLane = consume; // claims and settles commit without waiting for the WAL flush (see `pg-pools.ts`)
    this.state = 'open';
    const listener = new PgListener({
      connectionString: this.options.connectionString,
      applicationName: this.options.applicationName,
      channel: this.sql.channel,
      lock: [this.lockSpace(), this.lockKey],
      logger: this.logger,
      heartbeatMs: this.options.heartbeatMs,
      connectTimeoutMs: connectTimeoutMs(this.options),
      onNotify: (queue, processId) => {
        // Sent by its own main pool (a NOTIFY, or an insert that notified): its consumers were woken in-process then.
        if (!main.hasBackend(processId)) this.notified(queue);
      },
      onLost: (error, silent) => {
        // A silent link: statements under way on it would wait forever; drop every connection.
        if (silent) for (const lane of [main, consume]) lane.dropAll(error);
        this.link?.down(error);
      },
    });
    this.listener = listener;
    this.link = new Link({
      logger: this.logger,
      maxBuffered: this.options.maxBuffered,
      reconnect: () => listener.open(),
      check: () => listener.check(),
      onUp: () =>
        void this.registered().catch((error: unknown) =>
          this.logger.warn({ err: error }, 'postgres transport could not register again after reconnecting'),
        ),
    });
    try {
      await listener.open();
      await this.registered();
    } catch (error) {
      this.state = 'closed';
      this.link.close();
      await listener.close();
      await main.pool.end().catch(() => undefined);
      await consume.pool.end().catch(() => undefined);
      const where = redactUrl(this.options.connectionString);
      throw new TransportError(`cannot open the listening connection to PostgreSQL at ${where}: ${(error as Error).message}`, {
        cause: error,
        retryable: true,
      });
    }
    this.poll.start();
    this.heartbeat.start();
  }

  /** The first key of the connection locks: one space per schema. */
  private lockSpace(): number {
    let h = 7;
    for (const c of `missive-connections:${this.options.schema}`) h = (Math.imul(h, 31) + c.charCodeAt(0)) | 0;
    return h;
  }

  /** After each (re)connect of the listener: registers this connection, its temporary queues, and looks for work. */
  private async registered(): Promise<void> {
    await this.run(this.sql.connectionUpsert, [this.connectionId, this.lockKey, this.clock.now()]);
    await this.consumerRows.rewrite();
    for (const spec of this.temporary.values()) await this.declare(spec);
    await this.poll.reap(true);
    this.poll.tick();
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
    await this.settlement.flush();
    for (const consumer of [...this.consumers]) consumer.drop(); // each leaves (`forget`)
    await Promise.all([...this.leaving].map((c) => c.handedBack()));
    await this.consumerRows.idle();
    this.consumerRows.clear();
    this.poll.stop();
    this.heartbeat.stop();
    this.due.close();
    try {
      await this.transaction(async (client) => {
        await client.query(this.sql.consumersLeft.text, [null, this.connectionId, this.clock.now()]);
        for (const { name } of (await client.query<{ name: string }>(this.sql.ownedQueues, [this.connectionId])).rows)
          await dropQueue(client, this.sql, name);
        await client.query(this.sql.connectionDelete, [this.connectionId]);
      }, 1000);
    } catch (error) {
      this.logger.warn({ err: error }, 'postgres transport could not clean up on close; another transport will reap it');
    }
    this.state = 'closed';
    this.link?.close();
    await this.listener?.close();
    await this.main?.pool.end().catch(() => undefined);
    await this.consumeLane?.pool.end().catch(() => undefined);
  }

  async declare(queue: QueueSpec): Promise<void> {
    for (const pattern of queue.topics) checkTopicPattern(pattern);
    const owner = queue.temporary === true ? this.connectionId : null;
    if (owner !== null) this.temporary.set(queue.name, queue);
    await this.transaction(async (client) => {
      await client.query(this.sql.queueInsert, [queue.name, owner, this.clock.now()]);
      for (const pattern of queue.topics)
        await client.query(this.sql.bindingInsert, [queue.name, pattern, isExactTopic(pattern) ? pattern : null, patternRegex(pattern)]);
    });
  }

  publish(topic: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    return this.publishing.publish(topic, message, options);
  }

  send(queue: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    return this.publishing.send(queue, message, options);
  }

  /** @internal Tells every transport that `queue` has work ('' : the schedule changed); see `pg-notifier.ts`. */
  notify(queue: string): void {
    this.notifier.notify(queue);
  }

  consume(queue: string, options: { readonly prefetch: number }): Consumer {
    // Not a consumer that ends at once, as a closed link's would: say why.
    if (this.state === 'closed') throw new BusStateError(ErrorCode.Closed, 'postgres transport is closed');
    const consumer = new PostgresConsumer(this, queue, Math.max(1, Math.floor(options.prefetch)));
    this.consumers.add(consumer);
    this.poll.hold(true); // a process with consumers stays alive, as it would on a broker's socket
    consumer.start(this.consumerRows.joined(queue, consumer));
    return consumer;
  }

  async cancelScheduled(scheduleId: string): Promise<boolean> {
    return ((await this.run(this.sql.cancelScheduled, [scheduleId])).rowCount ?? 0) > 0;
  }

  queues(): Promise<QueueInfo[]> {
    return this.transaction((client) => listQueues(client, this.sql, this.clock.now()));
  }

  async deleteQueue(name: string): Promise<void> {
    for (const consumer of [...this.consumers]) if (consumer.queue === name) consumer.drop();
    this.temporary.delete(name);
    await this.transaction((client) => dropQueue(client, this.sql, name));
  }

  // --- running statements -------------------------------------------------------------------

  /**
   * Runs one statement on a pool once the link is up, again after a lost connection, waiting for
   * the link for up to `reconnectMs` (see `pg-run.ts`).
   */
  run<R extends pg.QueryResultRow = pg.QueryResultRow>(
    statement: Named | string,
    values: unknown[],
    lane: 'main' | 'consume' = 'main',
  ): Promise<pg.QueryResult<R>> {
    const query = typeof statement === 'string' ? { text: statement, values } : { name: statement.name, text: statement.text, values };
    const gate = lane === 'consume' ? this.consumeLane! : this.lane;
    return retrying(() => gate.use((pool) => pool.query<R>(query)), {
      reconnectMs: this.options.reconnectMs,
      open: () => this.state === 'open',
      link: this.link!,
    });
  }

  /** Runs `work` in one transaction on a pool client, retried as a whole like {@link run}. */
  transaction<T>(work: (client: pg.PoolClient) => Promise<T>, reconnectMs = this.options.reconnectMs): Promise<T> {
    const gate = this.lane;
    return retrying(() => gate.use((pool) => inTransaction(pool, work)), {
      reconnectMs,
      open: () => this.state === 'open',
      link: this.link!,
    });
  }

  // --- consuming ----------------------------------------------------------------------------

  /** @internal Removes a consumer. */
  forget(consumer: PostgresConsumer): void {
    this.consumers.delete(consumer);
    this.leaving.add(consumer);
    void consumer.handedBack().then(() => this.leaving.delete(consumer));
    if (this.consumers.size === 0) this.poll.hold(false);
    if (this.state === 'open')
      this.consumerRows
        .left(consumer.queue, consumer)
        .catch((error: unknown) =>
          this.logger.warn({ err: error, queue: consumer.queue }, 'postgres transport could not record a consumer leaving'),
        );
  }

  /** @internal Claims up to `room` messages of `queue` for a consumer. */
  async claim(queue: string, room: number): Promise<ClaimedRow[]> {
    const now = this.clock.now();
    const { rows } = await this.run<ClaimedRow>(
      this.sql.claim,
      [queue, now, room, this.connectionId, now + this.options.leaseMs],
      'consume',
    );
    return rows.length > 1 ? rows.sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1)) : rows;
  }

  private notified(payload: string): void {
    if (payload === '') {
      this.due.rearm();
      return;
    }
    for (const consumer of this.consumers) if (consumer.queue === payload) consumer.signal();
  }

  /** Wakes every consumer. */
  private wakeAll(): void {
    for (const consumer of this.consumers) consumer.signal();
  }

  /** @internal Acks a delivery by its lease token (batched per turn); false when the lease was lost. */
  ack(seq: string, token: string): Promise<boolean> {
    return this.settlement.ack(seq, token);
  }

  /** @internal Settles a delivery by its lease token; false when the lease was lost. */
  settle(kind: 'nack' | 'release' | 'dead', seq: string, token: string, extra?: SettleExtra): Promise<boolean> {
    return this.settlement.settle(kind, seq, token, extra);
  }
}
