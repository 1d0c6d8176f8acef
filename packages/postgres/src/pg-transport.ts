/**
 * The PostgreSQL transport: queues in tables of one schema, for teams with PostgreSQL and no broker.
 *
 * - **Publishing** routes a topic to every bound queue and inserts the copies in one statement (one
 *   implicit transaction); `publish` resolves after the commit. The queues written in one
 *   event-loop turn are then `NOTIFY`d together in a separate statement: a `NOTIFY` inside the
 *   writing transaction would hold PostgreSQL's global notify lock through that commit's WAL
 *   flush, serializing every publisher's commit (no group commit).
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
 * - **Lost connections**: operations that fail because the connection or server went away are
 *   retried on a new connection with backoff for up to `reconnectMs`; the listener reconnects and
 *   then looks for work it was not told about.
 *
 * @example
 * ```ts
 * const transport = new PostgresTransport({ connectionString: 'postgres://app@db/shop', schema: 'bus' });
 * const bus = createBus({ service: 'shop', transport }); // or transport: 'postgres://app@db/shop?schema=bus'
 * ```
 * @module
 */
import { randomInt, randomUUID } from 'node:crypto';
import pg from 'pg';
import {
  BusStateError,
  ErrorCode,
  TransportError,
  UnroutableError,
  checkTopicPattern,
  consoleLogger,
  isExactTopic,
  redactUrl,
  systemClock,
  type Clock,
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
import { PostgresConsumer, type ClaimedRow } from './pg-consumer.js';
import { PostgresDeadLetters } from './pg-dead-letters.js';
import { isConnectionError } from './pg-errors.js';
import { PgListener } from './pg-listener.js';
import { resolvePostgresOptions, type PostgresTransportOptions, type ResolvedPostgresOptions } from './pg-options.js';
import { migrate } from './schema.js';
import { patternRegex, statements, type Named, type Statements } from './statements.js';

/** Dependencies a transport factory passes in. */
export interface PostgresTransportDeps {
  readonly clock?: Clock;
  readonly logger?: Logger;
}

const HEARTBEAT_MS = 2000;
const REAP_MS = 1000;

/** The PostgreSQL transport. */
export class PostgresTransport implements Transport {
  readonly kind = 'postgres';
  readonly capabilities: TransportCapabilities = Object.freeze({ delayedDelivery: true, cancelScheduled: true, orderingKeys: true, multiProcess: true });
  readonly deadLetters: DeadLetterStore;
  /** This transport's id: the owner of its leases and temporary queues. */
  readonly connectionId = randomUUID();
  readonly options: ResolvedPostgresOptions;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The statements of the configured schema. */
  readonly sql: Statements;
  private readonly lockKey = randomInt(1, 2 ** 31 - 1);
  private pool_: pg.Pool | undefined;
  /** Claims and settles go through their own pool, so a burst of publishes never delays an ack past its lease. */
  private consumePool: pg.Pool | undefined;
  private listener: PgListener | undefined;
  private state: 'new' | 'open' | 'closed' = 'new';
  private readonly consumers = new Set<PostgresConsumer>();
  private readonly temporary = new Map<string, QueueSpec>();
  private pollTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private dueTimer: NodeJS.Timeout | undefined;
  private dueAt = Number.POSITIVE_INFINITY;
  private lastReap = 0;
  private closing: Promise<void> | undefined;
  private readonly toNotify = new Set<string>();
  private readonly acks: { seq: string; token: string; resolve: (ok: boolean) => void; reject: (error: Error) => void }[] = [];

  constructor(options: PostgresTransportOptions, deps: PostgresTransportDeps = {}) {
    this.options = resolvePostgresOptions(options);
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? consoleLogger('warn');
    this.sql = statements(this.options.schema, `missive:${this.options.schema}`);
    this.deadLetters = new PostgresDeadLetters(this);
  }

  /** The pool (internal to the package). */
  get pool(): pg.Pool {
    if (this.state !== 'open' || this.pool_ === undefined) {
      throw new BusStateError(this.state === 'closed' ? ErrorCode.Closed : ErrorCode.NotStarted, `postgres transport is ${this.state === 'closed' ? 'closed' : 'not connected'}`);
    }
    return this.pool_;
  }

  async connect(): Promise<void> {
    if (this.state === 'open') return;
    if (this.state === 'closed') throw new BusStateError(ErrorCode.Closed, 'postgres transport is closed');
    const where = redactUrl(this.options.connectionString);
    const pool = new pg.Pool({ connectionString: this.options.connectionString, max: this.options.poolSize, application_name: this.options.applicationName });
    pool.on('error', (error) => this.logger.warn('postgres pool connection lost', { error }));
    try {
      const client = await pool.connect();
      try {
        await migrate(client, this.options.schema);
      } finally {
        client.release();
      }
    } catch (error) {
      await pool.end().catch(() => undefined);
      if (error instanceof TransportError) throw error;
      throw new TransportError(`cannot connect to PostgreSQL at ${where}: ${(error as Error).message}`, { cause: error, retryable: isConnectionError(error) });
    }
    this.pool_ = pool;
    this.consumePool = new pg.Pool({ connectionString: this.options.connectionString, max: Math.max(2, Math.ceil(this.options.poolSize / 2)), application_name: this.options.applicationName });
    this.consumePool.on('error', (error) => this.logger.warn('postgres pool connection lost', { error }));
    this.state = 'open';
    const listener = new PgListener({
      connectionString: this.options.connectionString,
      applicationName: this.options.applicationName,
      channel: this.sql.channel,
      lock: [this.lockSpace(), this.lockKey],
      logger: this.logger,
      onNotify: (queue) => this.notified(queue),
      onUp: () => this.registered(),
    });
    this.listener = listener;
    try {
      await listener.start();
    } catch (error) {
      this.state = 'closed';
      await pool.end().catch(() => undefined);
      await this.consumePool.end().catch(() => undefined);
      throw new TransportError(`cannot open the listening connection to PostgreSQL at ${where}: ${(error as Error).message}`, { cause: error, retryable: true });
    }
    this.startTimers();
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
    for (const spec of this.temporary.values()) await this.declare(spec);
    await this.reap(true);
    this.tick();
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
    const consumers = [...this.consumers];
    for (const consumer of consumers) consumer.drop();
    this.consumers.clear();
    await Promise.all(consumers.map((c) => c.handedBack()));
    clearInterval(this.pollTimer);
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.dueTimer);
    try {
      await this.transaction(async (client) => {
        for (const { name } of (await client.query<{ name: string }>(this.sql.ownedQueues, [this.connectionId])).rows) await this.dropQueue(client, name);
        await client.query(this.sql.connectionDelete, [this.connectionId]);
      }, 1000);
    } catch (error) {
      this.logger.warn('postgres transport could not clean up on close; another transport will reap it', { error });
    }
    this.state = 'closed';
    await this.listener?.close();
    await this.pool_?.end().catch(() => undefined);
    await this.consumePool?.end().catch(() => undefined);
  }

  async declare(queue: QueueSpec): Promise<void> {
    for (const pattern of queue.topics) checkTopicPattern(pattern);
    const owner = queue.temporary === true ? this.connectionId : null;
    if (owner !== null) this.temporary.set(queue.name, queue);
    await this.transaction(async (client) => {
      await client.query(this.sql.queueInsert, [queue.name, owner, this.clock.now()]);
      for (const pattern of queue.topics) await client.query(this.sql.bindingInsert, [queue.name, pattern, isExactTopic(pattern) ? pattern : null, patternRegex(pattern)]);
    });
  }

  async publish(topic: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    const rows = await this.enqueue(topic, message, options, this.sql.publishLater, this.sql.publish);
    if (rows === 0 && options?.mandatory === true) throw new UnroutableError(topic);
  }

  async send(queue: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    const rows = await this.enqueue(queue, message, options, this.sql.sendLater, this.sql.send);
    if (rows === 0) throw new UnroutableError(queue, 'no such queue');
  }

  private async enqueue(target: string, message: TransportMessage, options: EnqueueOptions | undefined, later: Named, now: Named): Promise<number> {
    const body = Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength);
    const headers = JSON.stringify(message.headers);
    const key = message.partitionKey ?? null;
    const notBefore = options?.notBefore;
    if (notBefore !== undefined && notBefore > this.clock.now()) {
      const result = await this.run<{ queue: string }>(later, [target, notBefore, options?.scheduleId ?? null, message.id, message.type, body, headers, key]);
      this.armDue(notBefore);
      if (result.rows.length > 0) this.notify('');
      return result.rows.length;
    }
    const { rows } = await this.run<{ queue: string }>(now, [target, message.id, message.type, body, headers, key]);
    for (const row of rows) this.notify(row.queue);
    return rows.length;
  }

  /**
   * @internal Tells every transport that `queue` has work ('' : the schedule changed). Coalesced per
   * event-loop turn into one statement of its own (no writes, so no WAL flush under the notify
   * lock). Fire and forget: a lost notification is made up by the poll.
   */
  notify(queue: string): void {
    this.toNotify.add(queue);
    if (this.toNotify.size > 1) return;
    setImmediate(() => {
      const queues = [...this.toNotify];
      this.toNotify.clear();
      if (this.state !== 'open') return;
      for (const q of queues) this.notified(q); // this process's consumers need no round trip
      this.listener!.query(this.sql.notify, [this.sql.channel, queues]).catch((error: unknown) => this.logger.debug('postgres notify failed; the poll will find the work', { error }));
    });
  }

  consume(queue: string, options: { readonly prefetch: number }): Consumer {
    const consumer = new PostgresConsumer(this, queue, Math.max(1, Math.floor(options.prefetch)));
    this.consumers.add(consumer);
    this.pollTimer?.ref(); // a process with consumers stays alive, as it would on a broker's socket
    consumer.start(
      this.run(this.sql.queueExists, [queue]).then((r) => {
        if (r.rowCount === 0) throw new UnroutableError(queue, 'no such queue; declare it before consuming');
      }),
    );
    return consumer;
  }

  async cancelScheduled(scheduleId: string): Promise<boolean> {
    return ((await this.run(this.sql.cancelScheduled, [scheduleId])).rowCount ?? 0) > 0;
  }

  async queues(): Promise<QueueInfo[]> {
    const now = this.clock.now();
    const [names, counts, scheduled, dead, bindings] = await Promise.all([
      this.run<{ name: string }>(this.sql.queueRows, []),
      this.run<{ queue: string; held: string; total: string }>(this.sql.queueCounts, [now]),
      this.run<{ queue: string; n: string }>(this.sql.scheduledCounts, []),
      this.run<{ queue: string; n: string }>(this.sql.deadCounts, []),
      this.run<{ queue: string; pattern: string }>(this.sql.bindings, []),
    ]);
    const byQueue = new Map(counts.rows.map((r) => [r.queue, { held: Number(r.held), total: Number(r.total) }]));
    const later = new Map(scheduled.rows.map((r) => [r.queue, Number(r.n)]));
    const letters = new Map(dead.rows.map((r) => [r.queue, Number(r.n)]));
    const topics = new Map<string, string[]>();
    for (const b of bindings.rows) topics.set(b.queue, [...(topics.get(b.queue) ?? []), b.pattern]);
    return names.rows.map(({ name }) => {
      const c = byQueue.get(name);
      return { name, depth: (c?.total ?? 0) - (c?.held ?? 0) + (later.get(name) ?? 0), inFlight: c?.held ?? 0, deadLetters: letters.get(name) ?? 0, topics: topics.get(name) ?? [] };
    });
  }

  async deleteQueue(name: string): Promise<void> {
    for (const consumer of [...this.consumers]) if (consumer.queue === name) consumer.drop();
    this.temporary.delete(name);
    await this.transaction((client) => this.dropQueue(client, name));
  }

  private async dropQueue(client: pg.ClientBase, name: string): Promise<void> {
    for (const statement of this.sql.deleteQueue) await client.query(statement, [name]);
  }

  // --- running statements -------------------------------------------------------------------

  /**
   * Runs one statement on the pool, retrying on a new connection with backoff while the
   * connection or server is gone, for up to `reconnectMs`.
   */
  run<R extends pg.QueryResultRow = pg.QueryResultRow>(statement: Named | string, values: unknown[], lane: 'main' | 'consume' = 'main'): Promise<pg.QueryResult<R>> {
    const query = typeof statement === 'string' ? { text: statement, values } : { name: statement.name, text: statement.text, values };
    return this.retrying(() => (lane === 'consume' ? this.consumePool! : this.pool).query<R>(query));
  }

  /** Runs `work` in one transaction on a pool client, retried as a whole like {@link run}. */
  transaction<T>(work: (client: pg.PoolClient) => Promise<T>, reconnectMs = this.options.reconnectMs): Promise<T> {
    return this.retrying(async () => {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('begin');
        const value = await work(client);
        await client.query('commit');
        return value;
      } catch (error) {
        if (isConnectionError(error)) broken = error as Error;
        else await client.query('rollback').catch((e: unknown) => (broken = e as Error));
        throw error;
      } finally {
        client.release(broken);
      }
    }, reconnectMs);
  }

  private async retrying<T>(operation: () => Promise<T>, reconnectMs = this.options.reconnectMs): Promise<T> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await operation();
      } catch (error) {
        if (!isConnectionError(error) || this.state !== 'open') throw error;
        if (Date.now() - started >= reconnectMs) throw new TransportError(`PostgreSQL stayed unreachable for ${reconnectMs} ms: ${(error as Error).message}`, { cause: error, retryable: true });
        await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random())));
      }
    }
  }

  // --- consuming ----------------------------------------------------------------------------

  /** @internal Removes a consumer. */
  forget(consumer: PostgresConsumer): void {
    this.consumers.delete(consumer);
    if (this.consumers.size === 0) this.pollTimer?.unref();
  }

  /** @internal Claims up to `room` messages of `queue` for a consumer. */
  async claim(queue: string, room: number): Promise<ClaimedRow[]> {
    const now = this.clock.now();
    const { rows } = await this.run<ClaimedRow>(this.sql.claim, [queue, now, room, this.connectionId, now + this.options.leaseMs], 'consume');
    return rows.length > 1 ? rows.sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1)) : rows;
  }

  private notified(payload: string): void {
    if (payload === '') {
      this.dueAt = Number.POSITIVE_INFINITY; // someone scheduled something: look again
      void this.armFromDatabase();
      return;
    }
    for (const consumer of this.consumers) if (consumer.queue === payload) consumer.signal();
  }

  /** Wakes every consumer. */
  private wakeAll(): void {
    for (const consumer of this.consumers) consumer.signal();
  }

  /** The poll: promote due messages, reap dead connections, wake everyone, re-arm the due timer. */
  private tick(): void {
    if (this.state !== 'open') return;
    void (async () => {
      try {
        await this.promote();
        await this.reap(false);
        this.wakeAll();
        await this.armFromDatabase();
      } catch (error) {
        this.logger.warn('postgres transport poll failed; it will try again', { error });
      }
    })();
  }

  private async promote(): Promise<void> {
    const { rows } = await this.run<{ queue: string }>(this.sql.promote, [this.clock.now()]);
    for (const row of rows) this.notify(row.queue);
  }

  private async armFromDatabase(): Promise<void> {
    const { rows } = await this.run<{ t: string | null }>(this.sql.nextDue, [this.clock.now()]);
    if (rows[0]?.t != null) this.armDue(Number(rows[0].t));
  }

  /** Arms the timer for a message due at `at` (keeps an earlier one). */
  private armDue(at: number): void {
    if (this.state !== 'open' || at >= this.dueAt) return;
    clearTimeout(this.dueTimer);
    this.dueAt = at;
    this.dueTimer = setTimeout(() => {
      this.dueAt = Number.POSITIVE_INFINITY;
      void this.promote()
        .catch((error: unknown) => this.logger.warn('postgres transport could not move due messages', { error }))
        .then(() => {
          this.wakeAll();
          return this.armFromDatabase();
        })
        .catch(() => undefined);
    }, Math.max(0, at - this.clock.now()) + 1);
    this.dueTimer.unref();
  }

  /**
   * @internal Acks made in one event-loop turn go in one statement. Each ack's promise resolves
   * after that commit: true when the lease was still this delivery's.
   */
  ack(seq: string, token: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.acks.push({ seq, token, resolve, reject });
      if (this.acks.length === 1) setImmediate(() => void this.flushAcks());
    });
  }

  private async flushAcks(): Promise<void> {
    const batch = this.acks.splice(0);
    if (batch.length === 0) return;
    try {
      const { rows } = await this.run<{ seq: string }>(this.sql.ack, [batch.map((a) => a.seq), batch.map((a) => a.token)], 'consume');
      const deleted = new Set(rows.map((r) => r.seq));
      for (const a of batch) {
        const ok = deleted.has(a.seq);
        if (!ok) this.logger.warn('an ack on the postgres transport found its lease lost (the message was redelivered); it was ignored', { seq: a.seq });
        a.resolve(ok);
      }
    } catch (error) {
      for (const a of batch) a.reject(error as Error);
    }
  }

  /** @internal Settles a delivery by its lease token; false when the lease was lost. */
  async settle(kind: 'nack' | 'release' | 'dead', seq: string, token: string, extra: { delayMs?: number; headers?: Readonly<Record<string, string>>; failure?: unknown } = {}): Promise<boolean> {
    if (this.state !== 'open') return false;
    let changed: number;
    if (kind === 'dead') {
      changed = (await this.run(this.sql.deadLetter, [seq, token, JSON.stringify(extra.failure)], 'consume')).rowCount ?? 0;
    } else {
      const delay = kind === 'nack' ? (extra.delayMs ?? 0) : 0;
      const visible = delay > 0 ? this.clock.now() + delay : 0;
      const { rows } = await this.run<{ queue: string }>(this.sql.nack, [seq, token, visible, extra.headers === undefined ? null : JSON.stringify(extra.headers), kind === 'release' ? 1 : 0], 'consume');
      changed = rows.length;
      if (delay > 0) this.armDue(visible);
      else if (rows[0] !== undefined) this.notify(rows[0].queue);
    }
    if (changed === 0) this.logger.warn(`a ${kind} on the postgres transport found its lease lost (the message was redelivered); it was ignored`, { seq });
    return changed > 0;
  }

  // --- heartbeat and reaping ----------------------------------------------------------------

  private startTimers(): void {
    this.pollTimer = setInterval(() => this.tick(), this.options.pollMs);
    this.pollTimer.unref();
    this.heartbeatTimer = setInterval(() => {
      const now = this.clock.now();
      const held = [...this.consumers].flatMap((c) => c.heldSeqs());
      // Liveness is the advisory lock; the heartbeat only extends the leases of held deliveries.
      if (held.length === 0) return;
      this.run(this.sql.extend, [now + this.options.leaseMs, held, this.connectionId], 'consume').catch((error: unknown) => this.logger.warn('postgres lease extension failed', { error }));
    }, Math.min(HEARTBEAT_MS, Math.floor(this.options.leaseMs / 3)));
    this.heartbeatTimer.unref();
  }

  /**
   * Releases the leases and deletes the temporary queues of transports whose session is gone:
   * their advisory lock can be taken. One statement finds them (each lock it takes is let go when
   * the statement ends); each one found is then reaped in a transaction that takes its lock again.
   */
  private async reap(force: boolean): Promise<void> {
    const now = Date.now();
    if (!force && now - this.lastReap < REAP_MS) return;
    this.lastReap = now;
    const space = this.lockSpace();
    const { rows } = await this.run<{ id: string; lock_key: number }>(this.sql.deadConnections, [this.connectionId, space]);
    let reaped = 0;
    for (const row of rows) {
      const gone = await this.transaction(async (client) => {
        const got = (await client.query<{ ok: boolean }>('select pg_try_advisory_xact_lock($1, $2) ok', [space, row.lock_key])).rows[0]?.ok === true;
        if (!got) return false;
        await client.query(this.sql.releaseOwner, [row.id]);
        for (const { name } of (await client.query<{ name: string }>(this.sql.ownedQueues, [row.id])).rows) await this.dropQueue(client, name);
        await client.query(this.sql.connectionDelete, [row.id]);
        return true;
      });
      if (gone) reaped++;
    }
    if (reaped > 0) {
      this.logger.info(`postgres transport reaped ${reaped} dead connection(s)`);
      this.wakeAll();
    }
  }
}
