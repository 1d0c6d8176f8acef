/**
 * The embedded default transport: every queue of a system in one SQLite file (WAL mode), shared by
 * any number of processes on one machine, nothing to install.
 *
 * - **Publishing** routes a topic to every bound queue inside one `BEGIN IMMEDIATE` transaction;
 *   `publish` resolves after the commit (durable per `synchronous`: see the package README). The
 *   publishes of one event-loop turn share that transaction (`sqlite-publishing.ts`).
 * - **Consuming** leases messages: a fetch marks up to the consumer's free prefetch slots with a
 *   lease token of that fetch and an expiry, in one statement. The lease is extended while the delivery is unsettled;
 *   a process that dies (SIGKILL) has its leases released as soon as another process notices its
 *   pid is gone, and in any case when they expire. Settling checks the token, so an ack that
 *   arrives after the lease expired can never settle someone else's redelivered copy.
 * - **Ordering keys**: a message is handed out only when no earlier message of its queue has the
 *   same key (it is not `blocked`, see `schema.ts`), so a key's messages go one at a time, in order,
 *   across every process; a message nacked with a delay keeps its place and its key.
 * - **Delays**: nack with a delay sets `visible_at` in place; `notBefore` puts the message in a
 *   scheduled table, moved into its queue (and its order) when due.
 * - **Wake-up**: a file-system watch on the database's directory (inotify) wakes consumers when any
 *   process commits; a timer wakes them for the next due message; a slow poll is the fallback
 *   (`sqlite-presence.ts`, with the heartbeat and the reaping of dead processes).
 * - **Busy database**: statements wait for the write lock (`busyTimeout`), then are retried with
 *   backoff; a busy database is never reported as a lost message. A fetch that keeps failing (a
 *   full disk) backs off too, logs once per outage and reports it in `status()` (`sqlite-fetch-backoff.ts`).
 *
 * @example
 * ```ts
 * const transport = new SqliteTransport({ path: '.missive/bus.db' });
 * const bus = createBus({ service: 'shop', transport }); // or transport: 'sqlite://.missive/bus.db'
 * ```
 * @module
 */
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import {
  BusStateError,
  ErrorCode,
  UnroutableError,
  consoleLogger,
  systemClock,
  type Clock,
  type Logger,
  type QueueInfo,
  type Transport,
  type TransportCapabilities,
  type TransportMessage,
  type TransportStatus,
} from '@missive/core';
import {
  topicMatcher,
  type CommandOwnership,
  type Consumer,
  type DeadLetterStore,
  type EnqueueOptions,
  type QueueSpec,
} from '@missive/core/transport';
import { isBusy, retryWhileBusy } from './sqlite-busy.js';
import { SqliteCommandOwners } from './sqlite-command-owners.js';
import { SqliteConsumer, type FetchedRow } from './sqlite-consumer.js';
import { SqliteDeadLetters } from './sqlite-dead-letters.js';
import { lease } from './sqlite-lease.js';
import { FetchBackoff } from './sqlite-fetch-backoff.js';
import { sqliteFailure } from './sqlite-failure.js';
import type { SettleExtra, SettleKind, SqliteLink } from './sqlite-link.js';
import { openDatabase } from './sqlite-open.js';
import { resolveSqliteOptions, type ResolvedSqliteOptions, type SqliteTransportOptions } from './sqlite-options.js';
import { SqlitePresence } from './sqlite-presence.js';
import { SqlitePublishing } from './sqlite-publishing.js';
import { listQueues } from './sqlite-queue-listing.js';
import { SqliteSettlement } from './sqlite-settlement.js';
import { prepareStatements, type SqliteStatements } from './sqlite-statements.js';

/** Dependencies a transport factory passes in. */
export interface SqliteTransportDeps {
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** The SQLite transport. */
export class SqliteTransport implements Transport, SqliteLink {
  readonly kind = 'sqlite';
  readonly capabilities: TransportCapabilities = Object.freeze({
    delayedDelivery: true,
    cancelScheduled: true,
    orderingKeys: true,
    multiProcess: true,
  });
  readonly deadLetters: DeadLetterStore;
  readonly commandOwners: CommandOwnership = new SqliteCommandOwners(this);
  /** This connection's id: the owner of its leases and temporary queues. */
  readonly connectionId = randomUUID();
  readonly options: ResolvedSqliteOptions;
  readonly clock: Clock;
  readonly logger: Logger;
  private db_: Database.Database | undefined;
  private s!: SqliteStatements;
  private state: 'new' | 'open' | 'closed' = 'new';
  private readonly consumers = new Set<SqliteConsumer>();
  private readonly presence: SqlitePresence;
  private readonly publishing: SqlitePublishing;
  private readonly settlement: SqliteSettlement;
  private dueTimer: NodeJS.Timeout | undefined;
  private dueAt = Number.POSITIVE_INFINITY;
  private pumpQueued = false;
  /** When a timer last asked for a pump (0: not since the last pump): leases that ran out by then may be taken over (see `pump`). */
  private takeoverAskedAt = 0;
  private readonly fetchBackoff: FetchBackoff;
  /** When the due timer was last re-armed from the database, and whether this process made a delay since. */
  private dueCheckedAt = 0;
  private dueDirty = true;
  private closing: Promise<void> | undefined;

  constructor(options: SqliteTransportOptions, deps: SqliteTransportDeps = {}) {
    this.options = resolveSqliteOptions(options);
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? consoleLogger('warn');
    this.deadLetters = new SqliteDeadLetters(this);
    this.fetchBackoff = new FetchBackoff(this.logger, this.clock);
    const delayed = () => {
      this.dueDirty = true;
    };
    this.presence = new SqlitePresence(this, { id: this.connectionId, options: this.options, dropQueue: (name) => this.dropQueue(name) });
    this.publishing = new SqlitePublishing(this, delayed);
    this.settlement = new SqliteSettlement(this, delayed, () => this.refill());
  }

  /** The open database. */
  get db(): Database.Database {
    if (this.state !== 'open' || this.db_ === undefined) {
      throw new BusStateError(
        this.state === 'closed' ? ErrorCode.Closed : ErrorCode.NotStarted,
        `sqlite transport is ${this.state === 'closed' ? 'closed' : 'not connected'}`,
      );
    }
    return this.db_;
  }

  /** Whether the connection is open. */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  /**
   * Throws the `BusStateError` of a transport not connected or closed (what `db` throws): the
   * statements of a closed database would throw a bare `TypeError` instead.
   */
  private checkOpen(): void {
    void this.db;
  }

  /** Prepared statements (internal to the package). */
  get statements(): SqliteStatements {
    return this.s;
  }

  async connect(): Promise<void> {
    if (this.state === 'open') return;
    if (this.state === 'closed') throw new BusStateError(ErrorCode.Closed, 'sqlite transport is closed');
    const db = await openDatabase(this.options);
    this.db_ = db;
    this.state = 'open';
    this.s = prepareStatements(db);
    try {
      await this.withBusyRetry(
        () => this.db.transaction(() => this.presence.register(this.clock.now())).immediate(),
        'register the connection',
      );
    } catch (error) {
      this.db_ = undefined;
      this.state = 'new';
      db.close();
      throw error;
    }
    this.presence.reap(true);
    this.presence.start();
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
    await this.publishing.flush();
    await this.settlement.flush();
    for (const consumer of [...this.consumers]) consumer.drop();
    this.consumers.clear();
    this.presence.stop();
    clearTimeout(this.dueTimer);
    try {
      await this.withBusyRetry(() =>
        this.db
          .transaction(() => {
            for (const { name } of this.s.ownedQueues.all(this.connectionId) as { name: string }[]) this.dropQueue(name);
            this.s.releaseOwner.run(this.connectionId);
            this.presence.leave(this.clock.now());
          })
          .immediate(),
      );
    } catch (error) {
      this.logger.warn({ err: error }, 'sqlite transport could not clean up on close; another process will reap it');
    }
    this.db.close();
    this.state = 'closed';
  }

  // Declaring, cancelling and deleting wait for the publishes asked for before them (see
  // `SqlitePublishing.flush`), so they take effect in the order they were asked for.

  async declare(queue: QueueSpec): Promise<void> {
    await this.publishing.flush();
    const now = this.clock.now();
    await this.withBusyRetry(
      () =>
        this.db
          .transaction(() => {
            this.s.queueInsert.run(queue.name, queue.temporary === true ? this.connectionId : null, now);
            let added = 0;
            for (const pattern of queue.topics) {
              topicMatcher(pattern);
              added += this.s.bindingInsert.run(queue.name, pattern).changes;
            }
            if (added > 0) this.s.bumpBindings.run();
          })
          .immediate(),
      `declare queue ${queue.name}`,
    );
  }

  publish(topic: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    return this.publishing.publish(topic, message, options);
  }

  send(queue: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    return this.publishing.send(queue, message, options);
  }

  consume(queue: string, options: { readonly prefetch: number }): Consumer {
    this.checkOpen();
    if (this.s.queueGet.get(queue) === undefined) throw new UnroutableError(queue, 'no such queue; declare it before consuming');
    const consumer: SqliteConsumer = new SqliteConsumer(this, queue, Math.max(1, Math.floor(options.prefetch)), () =>
      this.forget(consumer),
    );
    this.consumers.add(consumer);
    this.presence.markConsumer(queue, true);
    this.presence.holdProcess(true);
    this.wake();
    return consumer;
  }

  async cancelScheduled(scheduleId: string): Promise<boolean> {
    this.checkOpen();
    await this.publishing.flush();
    return (await this.withBusyRetry(() => this.s.scheduledCancel.run(scheduleId).changes)) > 0;
  }

  async queues(): Promise<QueueInfo[]> {
    this.checkOpen();
    return listQueues(this.s, this.clock.now(), this.presence.staleAfterMs());
  }

  async deleteQueue(name: string): Promise<void> {
    for (const consumer of [...this.consumers]) if (consumer.queue === name) consumer.drop();
    await this.publishing.flush();
    await this.withBusyRetry(() => this.db.transaction(() => this.dropQueue(name)).immediate());
  }

  private dropQueue(name: string): void {
    for (const statement of this.s.deleteQueue) statement.run(name);
    this.s.bumpBindings.run();
  }

  // --- consuming ----------------------------------------------------------------------------

  /** Removes a consumer (it detached). */
  private forget(consumer: SqliteConsumer): void {
    this.consumers.delete(consumer);
    if (this.consumers.size === 0) this.presence.holdProcess(false);
    if (![...this.consumers].some((c) => c.queue === consumer.queue)) this.presence.markConsumer(consumer.queue, false);
  }

  /**
   * Schedules a pump on the next turn (coalesced). `fromTimer`: a timer asked for it (the due timer,
   * the poll, the backoff), so that pump may also take over leases that ran out (see `pump`). While
   * the fetch backs off after failures, only the backoff's own timer pumps.
   */
  wake(fromTimer = false): void {
    if (this.state !== 'open') return;
    if (fromTimer) this.takeoverAskedAt = this.clock.now();
    if (this.pumpQueued || this.fetchBackoff.waiting()) return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /**
   * Fetches for every consumer with free slots, then arms the timer for the next due message.
   *
   * Leases that ran out are taken over only by a pump a timer asked for, and only those that had
   * run out when the timer fired. After a stall of the whole event loop (a starved or paused
   * process) every lease this process holds looks expired; its heartbeat timer is then overdue and
   * runs in the same timers phase as the timer that asks, before the pump, so a holder that is alive
   * renews first. A pump woken otherwise (a file-system event, an ack) can run right after a stall,
   * before the heartbeat, and took messages whose handlers were still running in this very process
   * (the duplicates of issue 13's keyed chaos case).
   */
  private pump(): void {
    if (this.state !== 'open' || this.fetchBackoff.waiting()) return;
    const expired = this.takeoverAskedAt;
    this.takeoverAskedAt = 0;
    try {
      // Look first with plain reads (WAL readers never wait); take the write lock only to lease.
      const now = this.clock.now();
      let due = false;
      const wanting: SqliteConsumer[] = [];
      const ready: boolean[] = [];
      for (const c of this.consumers) {
        if (!c.wantsFetch()) continue;
        const look = this.s.look.get({ queue: c.queue, now, expired }) as { due: number; ready: number };
        if (look.due === 1) due = true;
        wanting.push(c);
        ready.push(look.ready === 1);
      }
      const hungry = due ? wanting : wanting.filter((_c, i) => ready[i]);
      if (hungry.length > 0) {
        const fetched = this.db.transaction(() => this.fetchFor(hungry, expired, due)).immediate();
        hungry.forEach((consumer, i) => consumer.push(fetched[i]!));
      }
      this.fetchBackoff.succeeded();
      this.armDueTimer();
    } catch (error) {
      const delay = isBusy(error)
        ? 20 + Math.random() * 50
        : this.fetchBackoff.failed(sqliteFailure(error, this.options.path, 'fetch messages'));
      setTimeout(() => {
        this.pumpQueued = false;
        this.fetchBackoff.retryNow();
        this.wake(true);
      }, delay).unref();
      this.pumpQueued = true; // wake-ups wait for this retry
    }
  }

  /**
   * Inside a write transaction: moves due scheduled messages into their queues (unless the pump's
   * look just saw none due: `promote` false), then leases for each of `consumers`.
   */
  private fetchFor(consumers: readonly SqliteConsumer[], expired: number, promote = true): FetchedRow[][] {
    const now = this.clock.now();
    if (promote && this.s.promoteDue.run(now).changes > 0) this.s.deleteDue.run(now);
    const until = now + this.options.leaseMs;
    return consumers.map((c) =>
      lease(this.s, { queue: c.queue, limit: c.room(), now, expired: Math.min(expired, now), owner: this.connectionId, until }),
    );
  }

  /** Inside the acks' transaction: leases for the consumers whose slots the acks freed (see `SqliteSettlement`). */
  private refill(): (() => void) | undefined {
    if (this.state !== 'open') return undefined;
    const hungry = [...this.consumers].filter((c) => c.wantsFetch());
    if (hungry.length === 0) return undefined;
    const fetched = this.fetchFor(hungry, 0);
    return () => hungry.forEach((consumer, i) => consumer.push(fetched[i]!));
  }

  private armDueTimer(): void {
    const now = this.clock.now();
    // Three min() queries per pump would cost more than the fetch: look again only when this
    // process made a delay, or 100 ms passed (other processes' delays, lease expiries).
    if (!this.dueDirty && now - this.dueCheckedAt < 100) return;
    this.dueDirty = false;
    this.dueCheckedAt = now;
    const next = Math.min(
      (this.s.nextVisible.get(now) as { t: number | null }).t ?? Number.POSITIVE_INFINITY,
      (this.s.nextDue.get() as { t: number | null }).t ?? Number.POSITIVE_INFINITY,
      (this.s.nextLease.get(this.connectionId) as { t: number | null }).t ?? Number.POSITIVE_INFINITY,
    );
    if (next === Number.POSITIVE_INFINITY || next >= this.dueAt) return;
    clearTimeout(this.dueTimer);
    this.dueAt = next;
    this.dueTimer = setTimeout(
      () => {
        this.dueAt = Number.POSITIVE_INFINITY;
        this.wake(true);
      },
      Math.max(0, next - now) + 1,
    );
    this.dueTimer.unref();
  }

  /** Not connected while fetching keeps failing (a full disk...): readiness goes false, with the reason. */
  status(): TransportStatus {
    const failing = this.state === 'open' ? this.fetchBackoff.failing() : undefined;
    return failing === undefined ? { connected: this.state === 'open' } : { connected: false, reason: failing };
  }

  /** Acks made in one event-loop turn commit together (see `SqliteSettlement`). */
  ack(seq: number, token: string): Promise<boolean> {
    return this.settlement.ack(seq, token);
  }

  /** Settles a delivery by its lease token; false when the lease was lost. */
  settle(kind: SettleKind, seq: number, token: string, extra?: SettleExtra): Promise<boolean> {
    return this.settlement.settle(kind, seq, token, extra);
  }

  /** Runs a write, retrying with backoff while the database stays busy (see `retryWhileBusy`). */
  withBusyRetry<T>(write: () => T, doing?: string): Promise<T> {
    return retryWhileBusy(write, this.options.path, doing);
  }
}
