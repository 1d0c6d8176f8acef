/**
 * The transactional outbox and inbox. Business writes and the messages they cause commit in one
 * transaction of a `MessageStore`; a relay publishes the messages after the commit, in commit order
 * for each destination and conversation (the others at once), and removes them once the broker has them.
 * Inside a handler, `outbox.handler` adds the inbox: the message id is recorded in the same
 * transaction, so a message delivered several times has its effect once.
 *
 * Effectively once = at-least-once delivery + inbox + outbox. A crash before the commit publishes
 * nothing; after the commit but before dispatch, the relay publishes after restart; after dispatch
 * but before removal, the message is published again and the consumer's inbox drops the copy.
 *
 * Business writes are synchronous (SQLite transactions are): do asynchronous work before the
 * commit, then write and publish in it.
 *
 * @example
 * ```ts
 * const outbox = bus.outbox(store);
 * await outbox.transaction((tx) => {
 *   tx.db.prepare('insert into orders (id) values (?)').run('o-1');
 *   tx.publish(OrderPlaced, { orderId: 'o-1', total: 30 });
 * });
 * bus.endpoint('payment', (e) => e.on(ChargeCard, outbox.handler((cmd, tx) => {
 *   tx.db.prepare('insert into charges (order_id) values (?)').run(cmd.orderId);
 *   tx.publish(PaymentCaptured, { orderId: cmd.orderId });
 * })));
 * ```
 * @module
 */
import type { BusComponent, BusCore } from '../bus/bus-core.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { Codec } from '../message/codec.js';
import type { Handler, MessageContext, PublishOptions, SendOptions } from '../consume/context.js';
import type { CommandContract, EventContract, Payload, PayloadInput } from '../contracts/contract.js';
import type { Envelope } from '../message/envelope.js';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ConfigurationError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { MessageStore, OutboxRecord } from './message-store.js';

/** What outbox work receives: the store's transaction and buffered publishing. */
export interface OutboxTransaction<Tx> {
  /** The store's transaction handle (for SQLite, the better-sqlite3 database). */
  readonly db: Tx;
  /** Publishes an event after the commit. */
  publish<C extends EventContract>(contract: C, payload: PayloadInput<C>, options?: PublishOptions): void;
  /** Sends a command after the commit. */
  send<C extends CommandContract>(contract: C, payload: PayloadInput<C>, options?: SendOptions): void;
}

/** Options of {@link createOutbox}. */
export interface OutboxOptions {
  /** How often the relay looks for messages committed by other processes or left by a crash, ms. Default 1000. */
  readonly pollIntervalMs?: number;
  /** Messages read per batch. Default 100. */
  readonly batchSize?: number;
  /**
   * How long the messages a relay holds stay its own, ms: those its outbox commits (leased at
   * insert) and those it took over. Another relay on the same store (a second instance of the
   * service) neither sends them nor, while they are, the later messages to their destinations; a
   * relay that stops answering (a crashed process) loses them after this long, and another relay
   * sends them. A running relay extends its leases every half lease (one statement). Default 10 s,
   * at least three poll intervals.
   */
  readonly leaseMs?: number;
  /** Inbox entries older than this are purged, ms. Default 7 days. */
  readonly inboxRetentionMs?: number;
  /** Called after each message is dispatched and before it is removed from the outbox (observability, tests). */
  readonly onDispatched?: (record: OutboxRecord) => void;
}

/** An outbox bound to a bus and a store. */
export interface Outbox<Tx> {
  readonly store: MessageStore<Tx>;
  /** Runs synchronous `work` in one transaction; its messages are published after the commit. */
  transaction<T>(work: (tx: OutboxTransaction<Tx>) => T, parent?: MessageContext): Promise<T>;
  /**
   * Wraps a handler for effectively-once processing: inbox check, the handler's writes and its
   * messages commit together; a duplicate delivery is acked without running `fn`.
   */
  handler<C extends EventContract | CommandContract>(
    fn: (payload: Payload<C>, tx: OutboxTransaction<Tx>, ctx: MessageContext) => void,
  ): Handler<C>;
  /** Commits prepared records (sagas use this); kicks the relay. */
  commit: MessageStore<Tx>['commit'];
  /**
   * Builds the record of an outgoing message (validated, encoded, with its destination) for a store
   * whose transaction the application runs itself, such as PostgreSQL's `PostgresOutbox`; the
   * record is written in that transaction and the relay sends it after the commit. Pass the
   * handler's context as `parent` to carry correlation and causation.
   */
  record(contract: EventContract | CommandContract, payload: unknown, options?: SendOptions, parent?: MessageContext): OutboxRecord;
  /** The bus's time, epoch ms (what inbox entries record). */
  now(): number;
  /** Dispatches everything pending now; resolves with how many were dispatched. */
  flush(): Promise<number>;
  /** Wakes the relay. */
  kick(): void;
}

/** Creates an outbox for `store` on a bus (what `bus.outbox(store)` calls); its relay starts and stops with the bus. */
export function createOutbox<Tx>(bus: BusCore, store: MessageStore<Tx>, options: OutboxOptions = {}): Outbox<Tx> {
  const relay = new OutboxRelay(bus, store, options);
  bus.attach(relay);
  const { clock } = bus.environment;

  const transactionFor = (records: OutboxRecord[], parent: Envelope | undefined, db: Tx): OutboxTransaction<Tx> => ({
    db,
    publish: (contract, payload, publishOptions) => void records.push(bus.prepare(parent, contract, payload, publishOptions)),
    send: (contract, payload, sendOptions) => void records.push(bus.prepare(parent, contract, payload, sendOptions)),
  });

  const commit: MessageStore<Tx>['commit'] = async (c) => {
    const { outbox } = c;
    let written: readonly OutboxRecord[] = [];
    // Leased at insert to this outbox's relay: it sends them with no claim (a write) of its own.
    const leased =
      outbox === undefined ? c : { ...c, outbox: () => (written = relay.lease(typeof outbox === 'function' ? outbox() : outbox)) };
    const result = await store.commit(leased);
    if (!result.duplicate) relay.committed(written);
    return result;
  };

  return {
    store,
    commit,
    async transaction(work, parent) {
      const records: OutboxRecord[] = [];
      const result = await commit({
        work: (db) => {
          const value = work(transactionFor(records, parent?.envelope, db));
          if (value instanceof Promise)
            throw new ConfigurationError('outbox work must be synchronous: do async work before the transaction');
          return value;
        },
        outbox: () => records,
      });
      if (result.duplicate) throw new Error('unreachable: a commit without an inbox entry cannot be a duplicate');
      return result.value;
    },
    handler(fn) {
      return async (payload, ctx) => {
        const records: OutboxRecord[] = [];
        await commit({
          inbox: { endpoint: ctx.endpoint, messageId: ctx.messageId, at: clock.now() },
          work: (db) => {
            const value = fn(payload, transactionFor(records, ctx.envelope, db), ctx) as unknown;
            if (value instanceof Promise)
              throw new ConfigurationError('outbox handlers must be synchronous: do async work before, or use a plain handler');
          },
          outbox: () => records,
        });
      };
    },
    record: (contract, payload, recordOptions, parent) =>
      relay.lease([bus.prepare(parent?.envelope, contract, payload, recordOptions)])[0]!,
    now: () => clock.now(),
    flush: () => relay.flush(),
    kick: () => relay.kick(),
  };
}

/**
 * The chains a record belongs to; each chain goes out one message after the other, in commit order.
 * Its conversation's to its destination (a message's consequences share its correlation id; a
 * record without a parent message, `outbox.transaction` outside a handler, chains with every such
 * record to its destination) and, when it has a partition key, its key's to its destination: the
 * steps of one entity come from messages of several conversations (a device's report starts its
 * own), and a consumer handles a key's messages in the order they reached the broker.
 */
function chainsOf(record: OutboxRecord, codec: Codec): readonly string[] {
  const envelope = codec.decode(record.message.body);
  const destination = `${record.destination.kind}:${record.destination.name}`;
  const conversation = `${destination}:c:${envelope.causationid === undefined ? '' : envelope.correlationid}`;
  return envelope.partitionkey === undefined ? [conversation] : [conversation, `${destination}:k:${envelope.partitionkey}`];
}

/**
 * Publishes committed outbox messages, in order for each destination and conversation and for each
 * destination and partition key, and removes them. Pipelined: a run claims the pending messages
 * (see below) and starts those not already on their way, each after the one before it in each of
 * its chains (see `chainsOf`), without waiting for the confirms of the messages earlier runs
 * started; a message committed while others wait for their confirms goes out at once. A message
 * stays "on its way" from its start until it is removed from the store (or failed), so no run sends
 * it twice. At most `batchSize` messages are on their way at once.
 *
 * Several relays on one store (instances of a service sharing its database): each message has a
 * lease (`leaseMs`), so no other relay sends it meanwhile, nor a later message to its destination.
 * The outbox writes the lease with the message, in the application's commit, to its own relay, so
 * the common path costs a read per run (`MessageStore.claimOutbox` writes only to take over a
 * message not leased or whose lease ended). The relay extends its leases every half lease (one
 * statement); a stopping relay gives back what it could not send, a crashed one's leases run out
 * and another relay takes its messages over (sent at least once: a message sent but not yet
 * removed when its relay died is sent again, and the consumer's inbox drops the copy).
 */
class OutboxRelay<Tx> implements BusComponent {
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;
  private readonly leaseMs: number;
  /** This relay's name in the store's leases: where it runs (what an operator reads in a takeover's log line), and unique. */
  private readonly owner = `${hostname()}:${process.pid}:${randomUUID()}`;
  /** When the relay last extended its leases (`renewOutbox`), epoch ms. */
  private renewedAt: number;
  /** The last claim returned messages or some were on their way: the relay may hold leases to extend. */
  private holding = false;
  /**
   * Messages this relay's outbox committed, not yet started: one the store held back (an older
   * message to its destination on its way through another relay) is looked for again soon, not
   * at the next poll.
   */
  private readonly waiting = new Set<string>();
  /** The delay of the next look for held-back messages, ms (0: none held back). */
  private heldBackDelay = 0;
  private readonly retentionMs: number;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private running: Promise<void> | undefined;
  /** A run asked for while one was under way: it starts when that one ends, so no request is lost. */
  private queued: Promise<void> | undefined;
  private started = false;
  private timer: TimerHandle | undefined;
  private failures = 0;
  private lastPurge = 0;
  /** Messages on their way, by id: each settles true once sent and removed, false if it failed (or its chain did). */
  private readonly onTheirWay = new Map<string, Promise<boolean>>();
  /** The last message on its way of each chain: the next one of the chain waits for it. */
  private readonly tails = new Map<string, Promise<boolean>>();
  /** Sent, waiting to be removed from the store in the next removal. */
  private removable: { id: string; done: (removed: boolean) => void }[] = [];
  private removing: Promise<void> | undefined;
  /** Messages sent since the relay started (what `flush` counts). */
  private sentCount = 0;
  /** The first failure since the last `flush` looked (a send or a removal), for `flush` to report. */
  private failure: { error: unknown } | undefined;
  /** A run found more pending than it could start: run again when some finish. */
  private backlog = false;

  constructor(
    private readonly bus: BusCore,
    private readonly store: MessageStore<Tx>,
    private readonly options: OutboxOptions,
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.batchSize = options.batchSize ?? 100;
    this.leaseMs = options.leaseMs ?? Math.max(10_000, 3 * this.pollIntervalMs);
    this.retentionMs = options.inboxRetentionMs ?? 7 * 24 * 60 * 60 * 1000;
    if (!(this.pollIntervalMs > 0)) throw new ConfigurationError(`outbox pollIntervalMs must be > 0, got ${this.pollIntervalMs}`);
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1)
      throw new ConfigurationError(`outbox batchSize must be a whole number ≥ 1, got ${this.batchSize}`);
    if (!(this.leaseMs > this.pollIntervalMs))
      throw new ConfigurationError(`outbox leaseMs must be longer than pollIntervalMs (${this.pollIntervalMs}), got ${this.leaseMs}`);
    this.clock = bus.environment.clock;
    this.logger = bus.environment.logger;
    this.renewedAt = this.clock.now();
  }

  /** The outbox committed these records (leased to this relay): runs the relay. */
  committed(records: readonly OutboxRecord[]): void {
    if (!this.started) return;
    for (const record of records) this.waiting.add(record.id);
    this.kick();
  }

  /** The records, leased to this relay from now on (what the outbox writes in a commit). */
  lease(records: readonly OutboxRecord[]): OutboxRecord[] {
    const lease = { owner: this.owner, until: this.clock.now() + this.leaseMs };
    return records.map((record) => (record.lease === undefined ? { ...record, lease } : record));
  }

  async start(): Promise<void> {
    this.started = true;
    this.kick();
  }

  async stop(): Promise<void> {
    await this.flush().catch((error: unknown) => this.logger.warn({ err: error }, 'outbox messages left for the next start'));
    this.started = false;
    // What it could not send goes to another relay on the store at once, not after the lease.
    await this.store.releaseOutbox(this.owner).catch((error: unknown) => this.logger.warn({ err: error }, 'outbox leases left to run out'));
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  kick(): void {
    if (!this.started) return;
    void this.run().catch(() => undefined);
  }

  /**
   * Sends everything pending now and waits until it is sent and removed (messages already on their
   * way included); resolves with how many were sent meanwhile, rejects with the first failure.
   */
  async flush(): Promise<number> {
    const before = this.sentCount;
    this.takeFailure();
    for (;;) {
      await this.run();
      if (this.onTheirWay.size === 0) break;
      await Promise.all(this.onTheirWay.values());
      if (this.failure !== undefined) break;
    }
    const failure = this.takeFailure();
    if (failure !== undefined) throw failure.error;
    return this.sentCount - before;
  }

  private takeFailure(): { error: unknown } | undefined {
    const failure = this.failure;
    this.failure = undefined;
    return failure;
  }

  /** One run: starts what is pending and not on its way. A call during a run gets the next run, shared by all such calls. */
  private run(): Promise<void> {
    if (this.running !== undefined) {
      this.queued ??= this.running
        .catch(() => undefined)
        .then(() => {
          this.queued = undefined;
          return this.run();
        });
      return this.queued;
    }
    const run = this.startPending().finally(() => {
      this.running = undefined;
      this.schedule();
    });
    this.running = run;
    return run;
  }

  private async startPending(): Promise<void> {
    try {
      // Those on their way are still in the store (until removed), leased to this relay: read past
      // them. Those that were on their way when the read began are skipped too: one removed while
      // the store was read comes back in the read's (older) view, and is not pending any more.
      const onTheirWay = new Set(this.onTheirWay.keys());
      const room = this.batchSize - onTheirWay.size;
      const now = this.clock.now();
      await this.renew(now);
      if (room <= 0) {
        this.backlog = true;
        return;
      }
      const batch = await this.store.claimOutbox(this.owner, room + onTheirWay.size, now, now + this.leaseMs);
      this.holding = batch.length > 0;
      this.reportTakeover(batch);
      const fresh = batch.filter((record) => !onTheirWay.has(record.id) && !this.onTheirWay.has(record.id));
      this.backlog = batch.length === room + onTheirWay.size && fresh.length >= room;
      for (const record of fresh.slice(0, room)) this.begin(chainsOf(record, this.bus.environment.codec), record);
      this.lookAgain();
      await this.purgeInbox();
    } catch (error) {
      this.failed(error);
      throw error;
    }
  }

  /**
   * One line per claim that took messages over (see `OutboxRecord.takenFrom`): at warn when some
   * had a lease that ran out (the relay holding them stopped answering: a crashed or frozen process,
   * or this relay, unable to extend its leases), with how many and whose leases they were; at info
   * when all had none (written by a version without leases, or straight into the store).
   */
  private reportTakeover(batch: readonly OutboxRecord[]): void {
    let taken = 0;
    let unleased = 0;
    const from: Record<string, number> = {};
    for (const record of batch) {
      if (record.takenFrom === undefined) continue;
      taken++;
      if (record.takenFrom === null) unleased++;
      else from[record.takenFrom.owner] = (from[record.takenFrom.owner] ?? 0) + 1;
    }
    if (taken === 0) return;
    const fields = { relay: this.owner, messages: taken, from, unleased };
    if (taken > unleased)
      this.logger.warn(fields, 'outbox relay took over messages whose lease ran out: the relay that held them stopped answering');
    else this.logger.info(fields, 'outbox relay took over messages that had no lease');
  }

  /**
   * Some of this outbox's messages were held back (not returned, not on their way, and no backlog):
   * the next run comes after 5 ms, doubling up to the poll interval (then the relay polls as usual,
   * as for messages another relay took over).
   */
  private lookAgain(): void {
    for (const id of this.waiting) if (this.onTheirWay.has(id)) this.waiting.delete(id);
    if (this.waiting.size === 0 || this.backlog) {
      this.heldBackDelay = 0;
      return;
    }
    this.heldBackDelay = this.heldBackDelay === 0 ? 5 : this.heldBackDelay * 2;
    if (this.heldBackDelay >= this.pollIntervalMs) {
      this.waiting.clear();
      this.heldBackDelay = 0;
    }
  }

  /**
   * Extends the relay's leases every half lease, while it may hold some: messages leased at insert
   * or taken over keep theirs while the relay runs, however long they wait (a broker down).
   */
  private async renew(now: number): Promise<void> {
    if (now - this.renewedAt < this.leaseMs / 2) return;
    if (!this.holding && this.onTheirWay.size === 0) {
      this.renewedAt = now;
      return;
    }
    await this.store.renewOutbox(this.owner, now + this.leaseMs);
    this.renewedAt = now;
  }

  /** Starts one message after the one before it in each of its chains; a chain stops at its first failure. */
  private begin(chains: readonly string[], record: OutboxRecord): void {
    // The message waits for the one before it in each of its chains: for its confirm, not its removal.
    // Usually one chain has a tail (or none): no array per message for that.
    let before: Promise<boolean> | undefined;
    for (const chain of chains) {
      const tail = this.tails.get(chain);
      if (tail === undefined || tail === before) continue;
      before = before === undefined ? tail : Promise.all([before, tail]).then(([a, b]) => a && b);
    }
    before ??= Promise.resolve(true);
    const sent = before.then((ok) => (ok ? this.send(record) : false));
    for (const chain of chains) this.tails.set(chain, sent);
    const finished = sent.then((ok) => (ok ? this.removeLater(record.id) : false));
    this.onTheirWay.set(record.id, finished);
    void finished.then((ok) => {
      for (const chain of chains) if (this.tails.get(chain) === sent) this.tails.delete(chain);
      this.onTheirWay.delete(record.id);
      if (ok) this.failures = 0;
      if (this.backlog && this.onTheirWay.size < this.batchSize) this.kick();
    });
  }

  /** Sends one message: true once the broker has it. */
  private async send(record: OutboxRecord): Promise<boolean> {
    try {
      await this.bus.dispatchPrepared(record);
    } catch (error) {
      this.failed(error); // the rest of its chain waits for a later run, in order
      return false;
    }
    this.sentCount++;
    this.options.onDispatched?.(record);
    return true;
  }

  /** Has a sent message removed from the store: true once removed. */
  private removeLater(id: string): Promise<boolean> {
    return new Promise<boolean>((done) => {
      this.removable.push({ id, done });
      this.removeSent();
    });
  }

  /**
   * Removes the sent messages from the store at the end of this event-loop turn (those sent in one
   * turn, one removal: each is a commit, on SQLite an fsync), those sent during a removal in the next.
   */
  private removeSent(): void {
    if (this.removing !== undefined || this.removable.length === 0) return;
    this.removing = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.removeNow());
  }

  private removeNow(): Promise<void> {
    const removal = this.removable;
    this.removable = [];
    return this.store
      .removeOutbox(removal.map((r) => r.id))
      .then(
        () => {
          for (const r of removal) r.done(true);
        },
        (error: unknown) => {
          this.failed(error); // sent but still in the store: sent again later (the inbox drops the copy)
          for (const r of removal) r.done(false);
        },
      )
      .finally(() => {
        this.removing = undefined;
        this.removeSent();
      });
  }

  private failed(error: unknown): void {
    this.failure ??= { error };
    this.failures++;
    this.logger.warn({ err: error, attempt: this.failures }, 'outbox relay failed; it will try again');
    if (this.running === undefined) this.schedule(); // after the backoff (a run in progress schedules when it ends)
  }

  private schedule(): void {
    if (!this.started) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    const backoff =
      this.failures !== 0 ? Math.min(30_000, 100 * 2 ** Math.min(this.failures, 8)) : this.heldBackDelay || this.pollIntervalMs;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, backoff);
  }

  private async purgeInbox(): Promise<void> {
    const now = this.clock.now();
    if (now - this.lastPurge < 60_000) return;
    this.lastPurge = now;
    await this.store.purgeInbox(now - this.retentionMs);
  }
}
