/**
 * The embedded default transport: every queue of a system in one SQLite file (WAL mode), shared by
 * any number of processes on one machine, nothing to install.
 *
 * - **Publishing** routes a topic to every bound queue inside one `BEGIN IMMEDIATE` transaction;
 *   `publish` resolves after the commit (durable per `synchronous`: see the package README).
 * - **Consuming** leases messages: a fetch marks up to the consumer's free prefetch slots with a
 *   per-delivery lease token and an expiry. The lease is extended while the delivery is unsettled;
 *   a process that dies (SIGKILL) has its leases released as soon as another process notices its
 *   pid is gone, and in any case when they expire. Settling checks the token, so an ack that
 *   arrives after the lease expired can never settle someone else's redelivered copy.
 * - **Ordering keys**: a message is handed out only when no earlier message of its queue has the
 *   same key (it is not `blocked`, see `schema.ts`), so a key's messages go one at a time, in order,
 *   across every process; a message nacked with a delay keeps its place and its key.
 * - **Delays**: nack with a delay sets `visible_at` in place; `notBefore` puts the message in a
 *   scheduled table, moved into its queue (and its order) when due.
 * - **Wake-up**: a file-system watch on the database's directory (inotify) wakes consumers when any
 *   process commits; a timer wakes them for the next due message; a slow poll is the fallback.
 * - **Busy database**: statements wait for the write lock (`busyTimeout`), then are retried with
 *   backoff; a busy database is never reported as a lost message.
 *
 * @example
 * ```ts
 * const transport = new SqliteTransport({ path: '.missive/bus.db' });
 * const bus = createBus({ service: 'shop', transport }); // or transport: 'sqlite://.missive/bus.db'
 * ```
 * @module
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  BusStateError,
  ConfigurationError,
  ErrorCode,
  TransportError,
  UnroutableError,
  consoleLogger,
  systemClock,
  type Clock,
  type Logger,
  type QueueInfo,
  type Transport,
  type TransportCapabilities,
  type TransportMessage,
} from '@missive/core';
import {
  topicMatcher,
  type CommandOwnership,
  type Consumer,
  type DeadLetterStore,
  type EnqueueOptions,
  type QueueSpec,
} from '@missive/core/transport';
import { SqliteCommandOwners } from './sqlite-command-owners.js';
import { SqliteConsumer, type FetchedRow } from './sqlite-consumer.js';
import { SqliteDeadLetters } from './sqlite-dead-letters.js';
import { resolveSqliteOptions, type ResolvedSqliteOptions, type SqliteTransportOptions } from './sqlite-options.js';
import { applySchema } from './schema.js';
import { sqliteFailure } from './sqlite-failure.js';

/** Dependencies a transport factory passes in. */
export interface SqliteTransportDeps {
  readonly clock?: Clock;
  readonly logger?: Logger;
}

const BUSY_ATTEMPTS = 12;
const HEARTBEAT_MS = 2000;

function isBusy(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code === 'SQLITE_BUSY_SNAPSHOT';
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

/** The SQLite transport. */
export class SqliteTransport implements Transport {
  readonly kind = 'sqlite';
  readonly capabilities: TransportCapabilities = Object.freeze({ delayedDelivery: true, cancelScheduled: true, orderingKeys: true, multiProcess: true });
  readonly deadLetters: DeadLetterStore;
  readonly commandOwners: CommandOwnership = new SqliteCommandOwners(this);
  /** This connection's id: the owner of its leases and temporary queues. */
  readonly connectionId = randomUUID();
  readonly options: ResolvedSqliteOptions;
  readonly clock: Clock;
  readonly logger: Logger;
  private db_: Database.Database | undefined;
  private s!: ReturnType<SqliteTransport['prepare']>;
  private state: 'new' | 'open' | 'closed' = 'new';
  private readonly consumers = new Set<SqliteConsumer>();
  private routes: { version: number; bindings: { queue: string; matches: (topic: string) => boolean }[] } = { version: -1, bindings: [] };
  private watcher: FSWatcher | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private dueTimer: NodeJS.Timeout | undefined;
  private dueAt = Number.POSITIVE_INFINITY;
  private pumpQueued = false;
  /** When the due timer was last re-armed from the database, and whether this process made a delay since. */
  private dueCheckedAt = 0;
  private dueDirty = true;
  private lastReap = 0;
  /** Consumers started (true) or stopped (false) since the last heartbeat, by queue. */
  private readonly consumerChanges = new Map<string, boolean>();
  private consumersSeenAt = 0;
  private closing: Promise<void> | undefined;
  private readonly acks: { seq: number; token: string; resolve: (ok: boolean) => void; reject: (error: Error) => void }[] = [];

  constructor(options: SqliteTransportOptions, deps: SqliteTransportDeps = {}) {
    this.options = resolveSqliteOptions(options);
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? consoleLogger('warn');
    this.deadLetters = new SqliteDeadLetters(this);
  }

  /** The open database. */
  get db(): Database.Database {
    if (this.state !== 'open' || this.db_ === undefined) {
      throw new BusStateError(this.state === 'closed' ? ErrorCode.Closed : ErrorCode.NotStarted, `sqlite transport is ${this.state === 'closed' ? 'closed' : 'not connected'}`);
    }
    return this.db_;
  }

  /** Prepared statements (internal to the package). */
  get statements(): ReturnType<SqliteTransport['prepare']> {
    return this.s;
  }

  async connect(): Promise<void> {
    if (this.state === 'open') return;
    if (this.state === 'closed') throw new BusStateError(ErrorCode.Closed, 'sqlite transport is closed');
    if (!this.options.create && !existsSync(this.options.path)) {
      throw new ConfigurationError(`no Missive bus at ${this.options.path}: the file does not exist (it is not created here; check the path, or start a service on it first)`);
    }
    try {
      if (this.options.create) mkdirSync(dirname(this.options.path), { recursive: true });
    } catch (error) {
      throw new TransportError(`cannot create the directory of ${this.options.path}: ${(error as Error).message}`, { cause: error, retryable: false });
    }
    let db: Database.Database;
    try {
      db = new Database(this.options.path, { fileMustExist: !this.options.create });
    } catch (error) {
      throw sqliteFailure(error, this.options.path, 'open the database');
    }
    try {
      db.pragma(`busy_timeout = ${this.options.busyTimeoutMs}`);
      if (!this.options.create && db.prepare("select 1 from sqlite_master where type = 'table' and name = 'missive_messages'").get() === undefined) {
        throw new ConfigurationError(`${this.options.path} is not a Missive bus: it has no transport tables (they are not created here)`);
      }
      await this.withBusyRetry(() => {
        db.pragma('journal_mode = WAL');
        applySchema(db);
      }, 'create the transport tables');
      db.pragma(`synchronous = ${this.options.synchronous}`);
    } catch (error) {
      db.close();
      throw sqliteFailure(error, this.options.path, 'open the database');
    }
    this.db_ = db;
    this.state = 'open';
    this.s = this.prepare();
    try {
      await this.withBusyRetry(
        () =>
          this.db
            .transaction(() => {
              this.s.connectionUpsert.run(this.connectionId, process.pid, this.clock.now());
              // Of the rows of departed consumers only the newest of each queue says anything (since when it is idle).
              this.s.consumersPrune.run();
            })
            .immediate(),
        'register the connection',
      );
    } catch (error) {
      this.db_ = undefined;
      this.state = 'new';
      db.close();
      throw error;
    }
    this.reap(true);
    this.startWaking();
  }

  private prepare() {
    const db = this.db;
    return {
      connectionUpsert: db.prepare('insert into missive_connections (id, pid, heartbeat) values (?, ?, ?) on conflict (id) do update set heartbeat = excluded.heartbeat'),
      connectionDelete: db.prepare('delete from missive_connections where id = ?'),
      connections: db.prepare('select id, pid, heartbeat from missive_connections'),
      releaseOwner: db.prepare('update missive_messages set lease_owner = null, lease_token = null, lease_until = null where lease_owner = ?'),
      ownedQueues: db.prepare('select name from missive_queues where owner = ?'),
      bindingsVersion: db.prepare("select value from missive_meta where key = 'bindings_version'"),
      bumpBindings: db.prepare("update missive_meta set value = value + 1 where key = 'bindings_version'"),
      bindings: db.prepare('select queue, pattern from missive_bindings'),
      queueInsert: db.prepare('insert into missive_queues (name, owner, created_at) values (?, ?, ?) on conflict do nothing'),
      queueGet: db.prepare('select name, owner from missive_queues where name = ?'),
      bindingInsert: db.prepare('insert into missive_bindings (queue, pattern) values (?, ?) on conflict do nothing'),
      messageInsert: db.prepare('insert into missive_messages (queue, id, type, body, headers, partition_key) values (?, ?, ?, ?, ?, ?)'),
      scheduledInsert: db.prepare('insert into missive_scheduled (queue, schedule_id, due, id, type, body, headers, partition_key) values (?, ?, ?, ?, ?, ?, ?, ?)'),
      scheduledCancel: db.prepare('delete from missive_scheduled where schedule_id = ?'),
      promoteDue: db.prepare(
        'insert into missive_messages (queue, id, type, body, headers, partition_key) select queue, id, type, body, headers, partition_key from missive_scheduled where due <= ? order by due, seq',
      ),
      deleteDue: db.prepare('delete from missive_scheduled where due <= ?'),
      // Walks only un-blocked rows (missive_messages_ready): the rows it skips are the held and
      // the delayed ones, never the messages queued behind a key.
      candidates: db.prepare(
        `select seq, id, type, body, headers, partition_key, delivery_count from missive_messages
         where queue = @queue and blocked = 0 and visible_at <= @now and (lease_token is null or lease_until <= @now)
         order by seq limit @limit`,
      ),
      // A count that is not a whole number from 0 (written by something else) starts again from 0.
      lease: db.prepare(
        'update missive_messages set lease_owner = @owner, lease_token = @token, lease_until = @until, delivery_count = (case when delivery_count >= 0 then delivery_count else 0 end) + 1 where seq = @seq returning delivery_count',
      ),
      extend: db.prepare('update missive_messages set lease_until = ? where lease_owner = ? and lease_token is not null'),
      ack: db.prepare('delete from missive_messages where seq = ? and lease_token = ?'),
      nack: db.prepare(
        'update missive_messages set lease_owner = null, lease_token = null, lease_until = null, visible_at = @visible, headers = coalesce(@headers, headers), delivery_count = delivery_count - @undo where seq = @seq and lease_token = @token',
      ),
      deadLetterCopy: db.prepare(
        'insert into missive_dead_letters (queue, id, type, body, headers, partition_key, failure) select queue, id, type, body, headers, partition_key, ? from missive_messages where seq = ? and lease_token = ?',
      ),
      anyDue: db.prepare('select 1 from missive_scheduled where due <= ? limit 1'),
      anyCandidate: db.prepare(
        `select 1 from missive_messages
         where queue = @queue and blocked = 0 and visible_at <= @now and (lease_token is null or lease_until <= @now)
         order by seq limit 1`,
      ),
      // `visible_at > 0` selects the partial index missive_messages_delayed (no table scan).
      nextVisible: db.prepare('select min(visible_at) t from missive_messages where visible_at > 0 and visible_at > ? and lease_token is null'),
      nextLease: db.prepare('select min(lease_until) t from missive_messages where lease_token is not null and lease_owner != ?'),
      nextDue: db.prepare('select min(due) t from missive_scheduled'),
      queueRows: db.prepare('select name, created_at from missive_queues order by name'),
      consumerSeen: db.prepare(
        'insert into missive_consumers (queue, connection, active, seen_at) values (?, ?, ?, ?) on conflict (queue, connection) do update set active = excluded.active, seen_at = excluded.seen_at',
      ),
      consumersPrune: db.prepare(
        'delete from missive_consumers where active = 0 and seen_at < (select max(c.seen_at) from missive_consumers c where c.queue = missive_consumers.queue)',
      ),
      consumersHeartbeat: db.prepare('update missive_consumers set seen_at = ? where connection = ? and active = 1'),
      consumersGone: db.prepare('update missive_consumers set active = 0 where connection = ?'),
      consumersLeft: db.prepare('update missive_consumers set active = 0, seen_at = ? where connection = ? and active = 1'),
      consumerCounts: db.prepare('select queue, sum(case when active = 1 and seen_at > ? then 1 else 0 end) n, max(seen_at) seen from missive_consumers group by queue'),
      queueCounts: db.prepare(
        `select queue, sum(case when lease_token is not null and lease_until > ? then 1 else 0 end) held, count(*) total from missive_messages group by queue`,
      ),
      scheduledCounts: db.prepare('select queue, count(*) n from missive_scheduled group by queue'),
      deadCounts: db.prepare('select queue, count(*) n from missive_dead_letters group by queue'),
      deleteQueue: [
        db.prepare('delete from missive_messages where queue = ?'),
        db.prepare('delete from missive_scheduled where queue = ?'),
        db.prepare('delete from missive_dead_letters where queue = ?'),
        db.prepare('delete from missive_bindings where queue = ?'),
        db.prepare('delete from missive_command_owners where queue = ?'),
        db.prepare('delete from missive_consumers where queue = ?'),
        db.prepare('delete from missive_queues where name = ?'),
      ],
    };
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
    await this.flushAcks();
    for (const consumer of [...this.consumers]) consumer.drop();
    this.consumers.clear();
    clearInterval(this.pollTimer);
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.dueTimer);
    this.watcher?.close();
    try {
      await this.withBusyRetry(() =>
        this.db.transaction(() => {
          for (const { name } of this.s.ownedQueues.all(this.connectionId) as { name: string }[]) this.dropQueue(name);
          this.s.releaseOwner.run(this.connectionId);
          for (const queue of this.consumerChanges.keys()) this.s.consumerSeen.run(queue, this.connectionId, 0, this.clock.now());
          this.consumerChanges.clear();
          this.s.consumersLeft.run(this.clock.now(), this.connectionId);
          this.s.connectionDelete.run(this.connectionId);
        }).immediate(),
      );
    } catch (error) {
      this.logger.warn({ err: error }, 'sqlite transport could not clean up on close; another process will reap it');
    }
    this.db.close();
    this.state = 'closed';
  }

  async declare(queue: QueueSpec): Promise<void> {
    const now = this.clock.now();
    await this.withBusyRetry(() =>
      this.db.transaction(() => {
        this.s.queueInsert.run(queue.name, queue.temporary === true ? this.connectionId : null, now);
        let added = 0;
        for (const pattern of queue.topics) {
          topicMatcher(pattern);
          added += this.s.bindingInsert.run(queue.name, pattern).changes;
        }
        if (added > 0) this.s.bumpBindings.run();
      }).immediate(),
      `declare queue ${queue.name}`,
    );
  }

  async publish(topic: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    await this.withBusyRetry(() =>
      this.db.transaction(() => {
        const queues = this.queuesFor(topic);
        if (queues.length === 0 && options?.mandatory === true) throw new UnroutableError(topic);
        for (const queue of queues) this.enqueue(queue, message, options);
      }).immediate(),
      `publish ${message.type}`,
    );
    this.wake();
  }

  async send(queue: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    await this.withBusyRetry(() =>
      this.db.transaction(() => {
        if (this.s.queueGet.get(queue) === undefined) throw new UnroutableError(queue, 'no such queue');
        this.enqueue(queue, message, options);
      }).immediate(),
      `send ${message.type} to ${queue}`,
    );
    this.wake();
  }

  consume(queue: string, options: { readonly prefetch: number }): Consumer {
    if (this.s.queueGet.get(queue) === undefined) throw new UnroutableError(queue, 'no such queue; declare it before consuming');
    const consumer = new SqliteConsumer(this, queue, Math.max(1, Math.floor(options.prefetch)));
    this.consumers.add(consumer);
    this.markConsumer(queue, true);
    this.pollTimer?.ref(); // a process with consumers stays alive, as it would on a broker's socket
    this.wake();
    return consumer;
  }

  async cancelScheduled(scheduleId: string): Promise<boolean> {
    return (await this.withBusyRetry(() => this.s.scheduledCancel.run(scheduleId).changes)) > 0;
  }

  async queues(): Promise<QueueInfo[]> {
    const now = this.clock.now();
    const consumers = new Map((this.s.consumerCounts.all(now - this.staleAfterMs()) as { queue: string; n: number; seen: number }[]).map((r) => [r.queue, r]));
    const counts = new Map((this.s.queueCounts.all(now) as { queue: string; held: number; total: number }[]).map((r) => [r.queue, r]));
    const scheduled = new Map((this.s.scheduledCounts.all() as { queue: string; n: number }[]).map((r) => [r.queue, r.n]));
    const dead = new Map((this.s.deadCounts.all() as { queue: string; n: number }[]).map((r) => [r.queue, r.n]));
    const topics = new Map<string, string[]>();
    for (const b of this.s.bindings.all() as { queue: string; pattern: string }[]) topics.set(b.queue, [...(topics.get(b.queue) ?? []), b.pattern]);
    return (this.s.queueRows.all() as { name: string; created_at: number }[]).map(({ name, created_at }) => {
      const c = counts.get(name);
      const active = consumers.get(name);
      return {
        name,
        depth: (c?.total ?? 0) - (c?.held ?? 0) + (scheduled.get(name) ?? 0),
        inFlight: c?.held ?? 0,
        deadLetters: dead.get(name) ?? 0,
        topics: topics.get(name) ?? [],
        consumers: active?.n ?? 0,
        idleSince: (active?.n ?? 0) > 0 ? undefined : Math.max(created_at, active?.seen ?? 0),
      };
    });
  }

  async deleteQueue(name: string): Promise<void> {
    for (const consumer of [...this.consumers]) if (consumer.queue === name) consumer.drop();
    await this.withBusyRetry(() => this.db.transaction(() => this.dropQueue(name)).immediate());
  }

  private dropQueue(name: string): void {
    for (const statement of this.s.deleteQueue) statement.run(name);
    this.s.bumpBindings.run();
  }

  private enqueue(queue: string, message: TransportMessage, options: EnqueueOptions | undefined): void {
    const body = Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength);
    const headers = JSON.stringify(message.headers);
    const notBefore = options?.notBefore;
    if (notBefore !== undefined && notBefore > this.clock.now()) {
      this.dueDirty = true;
      this.s.scheduledInsert.run(queue, options?.scheduleId ?? null, notBefore, message.id, message.type, body, headers, message.partitionKey ?? null);
    } else {
      this.s.messageInsert.run(queue, message.id, message.type, body, headers, message.partitionKey ?? null);
    }
  }

  /** Queues bound to a topic, from a routing cache reloaded only when the bindings changed. */
  private queuesFor(topic: string): string[] {
    const version = (this.s.bindingsVersion.get() as { value: number }).value;
    if (version !== this.routes.version) {
      this.routes = {
        version,
        bindings: (this.s.bindings.all() as { queue: string; pattern: string }[]).map((b) => ({ queue: b.queue, matches: topicMatcher(b.pattern) })),
      };
    }
    const out = new Set<string>();
    for (const b of this.routes.bindings) if (b.matches(topic)) out.add(b.queue);
    return [...out];
  }

  // --- consuming ----------------------------------------------------------------------------

  /** @internal Removes a consumer. */
  forget(consumer: SqliteConsumer): void {
    this.consumers.delete(consumer);
    if (this.consumers.size === 0) this.pollTimer?.unref();
    if (![...this.consumers].some((c) => c.queue === consumer.queue)) this.markConsumer(consumer.queue, false);
  }

  /**
   * Notes that this connection consumes `queue` (or stopped). Written with the next heartbeat, not
   * here: starting or stopping a consumer costs no commit of its own.
   */
  private markConsumer(queue: string, active: boolean): void {
    this.consumerChanges.set(queue, active);
  }

  /**
   * With the heartbeat: writes the consumer changes noted since, and refreshes this connection's
   * consumer rows every {@link HEARTBEAT_MS}, in one small transaction, so `queues()` can count
   * consumers and say since when a queue has had none (to within a heartbeat).
   */
  private recordConsumers(now: number): void {
    if (this.consumerChanges.size === 0 && now - this.consumersSeenAt < HEARTBEAT_MS) return;
    this.db
      .transaction(() => {
        for (const [queue, active] of this.consumerChanges) this.s.consumerSeen.run(queue, this.connectionId, active ? 1 : 0, now);
        this.s.consumersHeartbeat.run(now, this.connectionId);
      })
      .immediate();
    this.consumerChanges.clear();
    this.consumersSeenAt = now;
  }

  /** After this long without a heartbeat a consumer row no longer counts (as for reaping). */
  private staleAfterMs(): number {
    return 3 * this.options.leaseMs + HEARTBEAT_MS;
  }

  /** Schedules a pump on the next turn (coalesced). */
  wake(): void {
    if (this.pumpQueued || this.state !== 'open') return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /** Fetches for every consumer with free slots, then arms the timer for the next due message. */
  private pump(): void {
    if (this.state !== 'open') return;
    // Look first with plain reads (WAL readers never wait); take the write lock only to lease.
    const now = this.clock.now();
    const due = this.s.anyDue.get(now) !== undefined;
    const hungry = [...this.consumers].filter((c) => c.wantsFetch() && (due || this.s.anyCandidate.get({ queue: c.queue, now }) !== undefined));
    if (hungry.length > 0) {
      try {
        const fetched = this.db
          .transaction(() => {
            const now = this.clock.now();
            if (this.s.promoteDue.run(now).changes > 0) this.s.deleteDue.run(now);
            return hungry.map((consumer) => this.fetch(consumer, now));
          })
          .immediate();
        hungry.forEach((consumer, i) => consumer.push(fetched[i]!));
      } catch (error) {
        if (!isBusy(error)) this.logger.error({ err: sqliteFailure(error, this.options.path, 'fetch messages') }, 'sqlite fetch failed; retrying');
        setTimeout(() => this.wake(), 20 + Math.random() * 50).unref();
        return;
      }
    }
    this.armDueTimer();
  }

  private fetch(consumer: SqliteConsumer, now: number): FetchedRow[] {
    const rows = this.s.candidates.all({ queue: consumer.queue, now, limit: consumer.room() }) as FetchedRow[];
    const until = now + this.options.leaseMs;
    for (const row of rows) {
      row.token = randomUUID();
      row.delivery_count = (this.s.lease.get({ owner: this.connectionId, token: row.token, until, seq: row.seq }) as { delivery_count: number }).delivery_count;
    }
    return rows;
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
    this.dueTimer = setTimeout(() => {
      this.dueAt = Number.POSITIVE_INFINITY;
      this.wake();
    }, Math.max(0, next - now) + 1);
    this.dueTimer.unref();
  }

  /**
   * @internal Acks made in one event-loop turn commit together: one transaction (one fsync with
   * synchronous=full) for all of them. Each ack's promise resolves after that commit.
   */
  ack(seq: number, token: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.acks.push({ seq, token, resolve, reject });
      if (this.acks.length === 1) setImmediate(() => void this.flushAcks());
    });
  }

  private async flushAcks(): Promise<void> {
    const batch = this.acks.splice(0);
    if (batch.length === 0) return;
    try {
      const results = await this.withBusyRetry(() => {
        if (this.state !== 'open') return batch.map(() => 0);
        return this.db.transaction(() => batch.map((a) => this.s.ack.run(a.seq, a.token).changes)).immediate();
      });
      batch.forEach((a, i) => {
        if (results[i] === 0) this.logger.warn({ seq: a.seq }, 'an ack on the sqlite transport found its lease lost (the message was redelivered); it was ignored');
        a.resolve(results[i]! > 0);
      });
    } catch (error) {
      for (const a of batch) a.reject(error as Error);
    }
    this.wake();
  }

  /** @internal Settles a delivery by its lease token; false when the lease was lost. */
  settle(kind: 'nack' | 'release' | 'dead', seq: number, token: string, extra: { delayMs?: number; headers?: Readonly<Record<string, string>>; failure?: unknown } = {}): Promise<boolean> {
    return this.withBusyRetry(() => {
      if (this.state !== 'open') return false;
      let changed: number;
      if (kind === 'dead') {
        changed = this.db
          .transaction(() => (this.s.deadLetterCopy.run(JSON.stringify(extra.failure), seq, token).changes === 1 ? this.s.ack.run(seq, token).changes : 0))
          .immediate();
      } else {
        if (kind === 'nack' && (extra.delayMs ?? 0) > 0) this.dueDirty = true;
        changed = this.s.nack.run({
          seq,
          token,
          visible: kind === 'nack' && (extra.delayMs ?? 0) > 0 ? this.clock.now() + extra.delayMs! : 0,
          headers: extra.headers === undefined ? null : JSON.stringify(extra.headers),
          undo: kind === 'release' ? 1 : 0,
        }).changes;
      }
      if (changed === 0) this.logger.warn({ seq }, `a ${kind} on the sqlite transport found its lease lost (the message was redelivered); it was ignored`);
      this.wake();
      return changed > 0;
    });
  }

  /**
   * Runs a write, retrying with backoff while the database stays busy past the busy timeout. Other
   * driver errors become Missive errors naming the file (see `sqliteFailure`); `doing` says what
   * was being done, for the message.
   */
  async withBusyRetry<T>(write: () => T, doing = 'write to the queue tables'): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return write();
      } catch (error) {
        if (!isBusy(error)) throw sqliteFailure(error, this.options.path, doing);
        if (attempt >= BUSY_ATTEMPTS) throw new TransportError(`the SQLite database stayed locked through ${attempt} attempts`, { cause: error });
        await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 10 * 2 ** attempt) * (0.5 + Math.random())));
      }
    }
  }

  // --- wake-up, heartbeat, reaping ----------------------------------------------------------

  private startWaking(): void {
    const file = basename(this.options.path);
    try {
      this.watcher = watch(dirname(this.options.path), { persistent: false }, (_event, name) => {
        if (name === null || String(name).startsWith(file)) this.wake();
      });
      this.watcher.on('error', () => undefined);
    } catch (error) {
      this.logger.warn({ err: error }, 'sqlite transport cannot watch its database directory; falling back to polling');
    }
    this.pollTimer = setInterval(() => {
      this.reap(false);
      this.wake();
    }, this.options.pollMs);
    this.pollTimer.unref();
    this.heartbeatTimer = setInterval(() => {
      void this.withBusyRetry(() => {
        if (this.state !== 'open') return;
        const now = this.clock.now();
        // One transaction: one commit (one fsync with synchronous=full) for the heartbeat, the leases and the consumer rows.
        this.s.connectionUpsert.run(this.connectionId, process.pid, now);
        this.s.extend.run(now + this.options.leaseMs, this.connectionId);
        this.recordConsumers(now);
      }).catch((error: unknown) => this.logger.warn({ err: error }, 'sqlite heartbeat failed'));
    }, Math.min(HEARTBEAT_MS, Math.floor(this.options.leaseMs / 3)));
    this.heartbeatTimer.unref();
  }

  /**
   * Releases the leases and deletes the temporary queues of connections whose process is gone (or
   * whose heartbeat stopped for three leases), so their messages go to other consumers at once.
   */
  private reap(force: boolean): void {
    const now = this.clock.now();
    if (!force && now - this.lastReap < 1000) return;
    this.lastReap = now;
    try {
      const dead = (this.s.connections.all() as { id: string; pid: number; heartbeat: number }[]).filter(
        (c) => c.id !== this.connectionId && (!pidAlive(c.pid) || now - c.heartbeat > 3 * this.options.leaseMs + HEARTBEAT_MS),
      );
      if (dead.length === 0) return;
      this.db
        .transaction(() => {
          for (const c of dead) {
            this.s.releaseOwner.run(c.id);
            this.s.consumersGone.run(c.id);
            for (const { name } of this.s.ownedQueues.all(c.id) as { name: string }[]) this.dropQueue(name);
            this.s.connectionDelete.run(c.id);
          }
        })
        .immediate();
      this.logger.info(`sqlite transport reaped ${dead.length} dead connection(s)`);
      this.wake();
    } catch (error) {
      if (!isBusy(error)) this.logger.warn({ err: error }, 'sqlite reaping failed');
    }
  }
}
