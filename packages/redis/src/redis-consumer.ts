/**
 * A consumer of one queue stream: a member of the stream's consumer group with its own name. Its
 * loop fetches up to its free prefetch with the `fetch` script (reclaiming idle entries of dead
 * consumers every half `claimIdle`, then reading new ones), and when the stream has nothing new it
 * waits in `XREAD BLOCK` on a connection of its own, from the group's last-delivered id, so any new
 * entry (a publish, a nack, a promoted delay, a released key) wakes it.
 *
 * What it holds is touched every third of `claimIdle` (its idle time reset), so only a dead
 * consumer's entries go idle long enough to be reclaimed. A reclaim writes the message again
 * under a new id, so an ack (`XACK` + `XDEL`, in the write of the next read) that arrives after the
 * entry was reclaimed finds its id no longer pending: it is ignored (logged), never applied to the
 * new copy. Nacks, dead-letters and the acks of keyed deliveries go through scripts that also check
 * the pending-entries list still names this consumer and this delivery count.
 *
 * A lost connection: acks that failed on it are sent again once it is ready (`ack-retry.ts`), and
 * before its next read the consumer takes back the entries pending for it that it does not hold
 * (read by a call whose reply was lost with the link; see `recoverPending`).
 *
 * @example
 * ```ts
 * const consumer = transport.consume('billing', { prefetch: 10 });
 * for await (const delivery of consumer) await delivery.ack();
 * ```
 * @module
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { BufferedConsumer, SETTLED, type DeadLetterFailure, type Delivery } from '@missive/core/transport';
import { Abandon, isReady } from './abandon.js';
import { AckRetry, isConnectionError } from './ack-retry.js';
import { hideCredentials } from './auth-error.js';
import { batchOf, readBatch, readEntry } from './entry.js';
import { GROUP } from './keys.js';
import type { RedisConnection } from './redis-connection.js';
import { BatchEntry, compareEntryIds, RedisDelivery, type RedisSettler } from './redis-delivery.js';
import { blockLimitMs } from './redis-liveness.js';
import {
  ackArgs,
  ackEntryArgs,
  deadLetterEntry,
  deadLetterMember,
  plainAckIds,
  requeueEntry,
  requeueMember,
  type AckUnit,
  type SettleSite,
} from './redis-settles.js';
import { defineScript } from './scripts.js';

export { compareEntryIds } from './redis-delivery.js';

type FetchedEntry = [Buffer, Buffer[], number];

/** The consumer. */
export class RedisConsumer extends BufferedConsumer<RedisDelivery> implements RedisSettler {
  /**
   * This consumer's name in the group: unique per consumer, so settles can tell copies apart. It
   * starts with the connection's id: the consumer counts as attached while that connection lives.
   */
  readonly name: string;
  readonly ready: Promise<void>;
  /** Fetched and not settled (what `touch` keeps alive). */
  private readonly held = new Set<RedisDelivery>();
  private readonly giving = new Set<Promise<void>>();
  /** Acked this turn (deliveries, and batch entries whose messages are all settled), not yet sent. */
  private readonly acks: AckUnit[] = [];
  /** Acks whose send failed on a lost connection: back into {@link acks} once the command connection is ready. */
  private readonly unsent = new AckRetry(
    () => (this.transport.open ? this.transport.readyEvents : undefined),
    (units) => {
      for (const unit of units) this.queueAck(unit);
    },
  );
  /** Messages per entry of the last read: a read asks for entries, the prefetch counts messages. */
  private perEntry = 1;
  private ackEntriesOnBlocker: ((keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown>) | undefined;
  private readonly stream: string;
  /** Where this consumer's deliveries come from (what the settle scripts check). */
  private readonly site: SettleSite;
  /** The `ackEntries` script's keys: the stream, the `batched` hash, the queue's settled-members hash. */
  private readonly entryKeys: readonly string[];
  private blocker: Redis | undefined;
  private blockerId: number | undefined;
  private wakeRoom: (() => void) | undefined;
  private wakeSoon = false;
  private lastClaim = 0;
  private loop: Promise<void> = Promise.resolve();
  private touchTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  /** Fired at close: every command the loop waits on rejects (see `abandon.ts`), so the loop ends whatever its links' state. */
  private readonly abandon: Abandon;
  /** Ack batches sent and not yet answered (a recovery waits for them: see {@link recoverPending}). */
  private readonly ackSends = new Set<Promise<void>>();
  /**
   * A connection came back (or a read failed): before its next read, the loop takes back what a
   * lost reply left pending for this consumer (see {@link recoverPending}). In the loop, never
   * beside a read: a read in flight has entries pending that are not yet held.
   */
  private recover = false;
  /**
   * The highest entry id this consumer accepted. Every entry it is handed comes from a read of the
   * stream's new entries (a reclaimed one is written again under a new id first), so an entry
   * pending for it past this id was taken by a read whose reply it never handled (see
   * {@link returnStranded}).
   */
  private lastAccepted: string | undefined;
  private readonly onReady = (): void => void (this.recover = true);
  private unsentWarned = 0;

  constructor(
    readonly transport: RedisConnection,
    readonly queue: string,
    prefetch: number,
  ) {
    super('redis', prefetch);
    this.name = `${transport.connectionId}.${hostname()}-${process.pid}-${randomBytes(6).toString('hex')}`;
    this.stream = transport.keys.stream(queue);
    this.site = { queue, stream: this.stream, consumer: this.name };
    this.entryKeys = [this.stream, transport.keys.batched, transport.keys.settledMembers(queue)];
    this.abandon = new Abandon(`redis consumer of ${queue}`);
    this.ready = transport.checkQueue(queue).then((ordered) => {
      if (this.buffer.closed) return;
      this.loop = this.run(ordered);
      const every = Math.max(50, Math.floor(transport.options.claimIdleMs / 3));
      this.touchTimer = setInterval(() => void this.touch(), every);
      transport.readyEvents.on('ready', this.onReady);
    });
    this.ready.catch(() => void this.close());
  }

  /**
   * The loop. On an ordered queue every read goes through the `fetch` script (key holders are
   * decided there, atomically), and an empty stream is waited on with `XREAD BLOCK`. On any other
   * queue the script runs only to start and to reclaim; in between, the consumer reads with
   * `XREADGROUP BLOCK` on its own connection, as a raw client would.
   */
  private async run(ordered: boolean): Promise<void> {
    const claimIdle = this.transport.options.claimIdleMs;
    let failures = 0;
    let script = true;
    while (!this.buffer.closed) {
      // Read when half the prefetch is free, or when the reader has nothing left: refilling one
      // slot per ack would cost a round trip per message.
      const room = this.room();
      if (room <= 0 || (room * 2 < this.prefetch && this.buffer.unread > 0)) {
        await new Promise<void>((resolve) => (this.wakeRoom = resolve));
        this.wakeRoom = undefined;
        continue;
      }
      const now = Date.now();
      const claim = now - this.lastClaim >= claimIdle / 2;
      try {
        if (this.recover) {
          this.recover = false;
          await this.abandon.race(this.recoverPending());
        }
        if (ordered || claim || script) {
          if (claim) this.lastClaim = now;
          const reply = (await this.abandon.race(
            this.transport.scripts.runBuffer(
              'fetch',
              [this.stream],
              [
                this.transport.keys.prefix,
                this.queue,
                this.name,
                this.entriesFor(room),
                claim ? claimIdle : 0,
                ordered ? '1' : '0',
                this.transport.clock.now(),
              ],
            ),
          )) as [Buffer, number, ...FetchedEntry[]];
          const head = reply[0].toString();
          if (head === '!gone') {
            if (await this.transport.redeclare(this.queue)) continue;
            this.transport.logger.error(`redis queue ${this.queue} was deleted; its consumer stops`);
            void this.close();
            break;
          }
          let messages = 0;
          for (let i = 2; i < reply.length; i++) {
            const [id, fields, count] = reply[i] as FetchedEntry;
            messages += this.accept(id, fields, Number(count));
          }
          this.noteRead(reply.length - 2, messages);
          if (Number(reply[1]) === 1) this.lastClaim = 0; // more idle entries to reclaim: next read
          script = false;
          if (head !== '' && ordered) await this.waitForNew(head, claimIdle);
        } else {
          await this.readBlocking(room, claimIdle);
        }
        failures = 0;
      } catch (error) {
        if (this.buffer.closed) break;
        script = true; // the next read goes through the script: it re-creates a lost group, or finds the queue gone
        this.onReady(); // its reply may have been lost after Redis ran it
        this.transport.logger.warn({ err: error }, `redis consumer of ${this.queue} could not read; retrying`);
        await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 50 * 2 ** failures++)));
      }
    }
  }

  private async connection(): Promise<Redis> {
    if (this.blocker === undefined) {
      this.blocker = this.transport.redis.duplicate({ connectionName: 'missive-wait' });
      this.blocker.on('error', (error: Error) => void hideCredentials(error)); // a refused AUTH rejects the waiting read with it
      this.ackEntriesOnBlocker = defineScript(this.blocker, 'ackEntries');
      this.blockerId = Number(await this.abandon.race(this.blocker.client('ID')));
      this.blocker.on('ready', () => {
        this.onReady();
        void this.blocker?.client('ID').then(
          (id) => (this.blockerId = Number(id)),
          () => undefined,
        );
      });
    }
    return this.blocker;
  }

  /**
   * Reads new entries of an unordered queue, waiting until one comes or the next reclaim is due.
   * The acks queued this turn go out first, in the same write (a pipeline on the reading
   * connection: `XACK`, `XDEL`, then the read): one socket write and one round trip per read, as a
   * raw client that acks before reading again. A batch with a keyed delivery goes through the `ack`
   * script instead (it also releases keys), on the command connection.
   */
  private async readBlocking(room: number, claimIdle: number): Promise<void> {
    const timeout = this.blockFor(claimIdle);
    const blocker = await this.connection();
    const read = [
      'XREADGROUP',
      'GROUP',
      GROUP,
      this.name,
      'COUNT',
      this.entriesFor(room),
      'BLOCK',
      timeout,
      'STREAMS',
      this.stream,
      '>',
    ] as const;
    const acks = this.acks.splice(0);
    const ids = acks.length === 0 ? undefined : plainAckIds(acks);
    let reading: Promise<unknown>;
    if (ids === undefined) {
      if (acks.length > 0) void this.sendAcks(acks);
      reading = blocker.callBuffer(...read);
    } else {
      // The acks and the read in one socket write (not a pipeline: see sendAcks).
      let acked: Promise<unknown>;
      let deleted: Promise<unknown> | undefined;
      blocker.stream.cork();
      try {
        if (acks.some((a) => a.extra > 0)) acked = this.ackEntriesOnBlocker!(this.entryKeys, ackEntryArgs(acks));
        else {
          acked = blocker.xack(this.stream, GROUP, ...ids);
          deleted = blocker.xdel(this.stream, ...ids);
        }
        reading = blocker.callBuffer(...read);
      } finally {
        blocker.stream.uncork();
      }
      void this.trackAcks(
        this.abandon.race(Promise.all([acked, deleted])).then(
          ([n]) => this.reportAcks(acks, Number(n)),
          (error: unknown) => this.reportAcks(acks, 0, error),
        ),
      );
    }
    const reply = (await this.abandon.race(reading)) as [Buffer, [Buffer, Buffer[]][]][] | null;
    if (reply === null) return;
    const entries = reply[0]![1];
    let messages = 0;
    for (let i = 0; i < entries.length; i++) messages += this.accept(entries[i]![0], entries[i]![1], 1);
    this.noteRead(entries.length, messages);
  }

  /** How many entries to read for `room` free prefetch slots (at least one: a batch entry is read whole, so the prefetch may be passed by part of one). */
  private entriesFor(room: number): number {
    return Math.max(1, Math.floor(room / this.perEntry));
  }

  private noteRead(entries: number, messages: number): void {
    if (entries > 0 && messages > 0) this.perEntry = messages / entries;
  }

  /**
   * How long a blocking read may wait: until the next reclaim is due, and at most half the liveness
   * timeout (a read that waits longer would trip it: see `redis-liveness.ts`).
   */
  private blockFor(claimIdle: number): number {
    return Math.max(10, Math.min(blockLimitMs(this.transport.options), Math.ceil(claimIdle / 2 - (Date.now() - this.lastClaim))));
  }

  /** Ordered queues: waits until the stream has an entry after `lastId`, or until the next reclaim is due. */
  private async waitForNew(lastId: string, claimIdle: number): Promise<void> {
    const timeout = this.blockFor(claimIdle);
    const blocker = await this.connection();
    await this.abandon.race(blocker.xread('COUNT', 1, 'BLOCK', timeout, 'STREAMS', this.stream, lastId));
  }

  /** Offers an entry's deliveries (a batch entry's messages each); returns how many. */
  private accept(id: Buffer, fields: Buffer[], count: number): number {
    const entryId = id.toString();
    if (this.lastAccepted === undefined || compareEntryIds(entryId, this.lastAccepted) > 0) this.lastAccepted = entryId;
    const batch = batchOf(fields);
    const members = batch === undefined ? undefined : readBatch(batch);
    if (members !== undefined) {
      const entry = new BatchEntry(entryId, count, members.length);
      for (let i = 0; i < members.length; i++) {
        const member = members[i]!;
        const membership = { entry, position: i + 1, value: member.value, headers: member.headers };
        const delivery = new RedisDelivery(this, entryId, count, member.message, count, entryId, membership, member.unreadable);
        this.held.add(delivery);
        this.offer(delivery);
      }
      return members.length;
    }
    // A plain entry, or a batch entry whose value Missive did not write: delivered whole (as unreadable).
    const read = readEntry(fields);
    const unreadable = batch === undefined ? read.unreadable : "the entry's batch value (M) is not in Missive's layout";
    // No message id in it: the entry id stands for it, as in the dead-letter script.
    const message = read.message.id === '' ? { ...read.message, id: entryId } : read.message;
    const delivery = new RedisDelivery(
      this,
      entryId,
      count,
      message,
      read.priorDeliveries + count,
      read.token ?? entryId,
      undefined,
      unreadable,
    );
    this.held.add(delivery);
    this.offer(delivery);
    return 1;
  }

  private track(promise: Promise<void>): void {
    this.giving.add(promise);
    void promise.finally(() => this.giving.delete(promise));
  }

  /** @internal A delivery was settled: it frees a prefetch slot. */
  override settled(delivery: RedisDelivery): void {
    this.held.delete(delivery);
    super.settled(delivery);
    this.wake();
  }

  /**
   * Wakes the loop once the handlers this turn started have run (a `setImmediate`): a loop woken
   * at the first settle would read a slot or two at a time, a round trip each.
   */
  private wake(): void {
    if (this.wakeRoom === undefined || this.wakeSoon) return;
    this.wakeSoon = true;
    setImmediate(() => {
      this.wakeSoon = false;
      this.wakeRoom?.();
    });
  }

  /** The buffer's iterator; a read that empties the buffer wakes the loop (it reads when its reader is idle). */
  override [Symbol.asyncIterator](): AsyncIterator<Delivery> {
    const inner = super[Symbol.asyncIterator]();
    return {
      next: () => {
        const next = inner.next();
        if (this.buffer.unread === 0) this.wake();
        return next;
      },
      return: () => inner.return?.() ?? Promise.resolve({ value: undefined, done: true }),
    };
  }

  protected detach(): void {
    this.wakeRoom?.();
  }

  protected giveBack(delivery: RedisDelivery, unread: boolean): void {
    this.track(delivery.giveBack(unread));
  }

  /**
   * @internal An ack joins this turn's batch and resolves at once, as an AMQP ack (amqplib's
   * `channel.ack` returns nothing) and the RabbitMQ transport's do: a lost ack only means the
   * message is delivered again. The batch goes to Redis in one script call, with the consumer's
   * next read when the loop reads this turn (one write for both), else at the end of the turn
   * (`setImmediate`). Waiting for the write would hold the handler's concurrency slot, and the
   * consumer would read half its prefetch at a time.
   */
  ack(delivery: RedisDelivery): Promise<void> {
    this.queueAck(delivery.member === undefined ? delivery : delivery.member.entry.settleOne());
    return SETTLED;
  }

  /** Queues an ack for this turn's batch (a batch entry once its last message is settled). */
  private queueAck(unit: AckUnit | undefined): void {
    if (unit === undefined) return;
    this.acks.push(unit);
    if (this.acks.length === 1) setImmediate(this.flushSoon);
  }

  /**
   * The end-of-turn flush of the acks. When a wake of the loop is queued behind it (the first
   * settles of a turn can run before the loop waits for room, so its wake comes after the first
   * ack), it steps behind that wake: the loop's read takes the acks, in one write with the read.
   */
  private readonly flushSoon = (): void => {
    if (this.wakeSoon) setImmediate(this.flushSoon);
    else void this.flushAcks();
  };

  private async flushAcks(): Promise<void> {
    const batch = this.acks.splice(0);
    if (batch.length === 0) return;
    if (this.transport.open && (this.closing === undefined || isReady(this.transport.redis))) {
      const sending = this.trackAcks(this.sendAcks(batch));
      await (this.closing === undefined ? sending : this.bounded(sending, 'acks'));
    } else this.unsent.keep(batch); // counted at close; sent once the connection is ready again
  }

  private trackAcks(sending: Promise<void>): Promise<void> {
    this.ackSends.add(sending);
    void sending.finally(() => this.ackSends.delete(sending));
    return sending;
  }

  /**
   * Takes back the entries pending for this consumer that it does not hold: read by a call whose
   * reply was lost with its connection (Redis ran the read; ioredis sent it again, and the second
   * read took only new entries), they would stay pending, never touched, until reclaimed after
   * `claimIdle` and handled again long after. Claimed again by this consumer (`XCLAIM … RETRYCOUNT`
   * with their count: the lost reply was never handled) and delivered. Runs before the read after a
   * connection came back, once the acks in flight are answered (an entry whose ack is in flight is
   * not taken back).
   */
  private async recoverPending(): Promise<void> {
    await Promise.all([...this.ackSends]);
    if (this.buffer.closed || !this.transport.open) return;
    const redis = this.transport.redis;
    const pending = (await redis.xpending(this.stream, GROUP, '-', '+', 10_000, this.name)) as [string, string, number, number][];
    if (pending.length === 0) return;
    const known = new Set<string>();
    for (const d of this.held) known.add(d.entryId);
    for (const unit of this.acks) known.add(unit.entryId);
    for (const id of this.unsent.entryIds()) known.add(id);
    const lost = pending.filter(([id]) => !known.has(id));
    if (lost.length === 0) return;
    this.transport.logger.warn(
      `redis consumer of ${this.queue} takes back ${lost.length} entr(ies) read by a reply lost with its connection`,
    );
    let messages = 0;
    for (const [id, , , count] of lost) {
      const claimed = (await redis.callBuffer('XCLAIM', this.stream, GROUP, this.name, 0, id, 'RETRYCOUNT', count)) as [
        Buffer,
        Buffer[] | null,
      ][];
      for (const [entryId, fields] of claimed)
        if (fields !== null && !this.buffer.closed) messages += this.accept(entryId, fields, Number(count));
    }
    this.noteRead(lost.length, messages);
  }

  /**
   * Sends an ack batch on the command connection: `XACK` and `XDEL` (an id reclaimed meanwhile was
   * written again under a new id, so `XACK` finds it no longer pending and acks nothing), or the
   * `ack` script when a delivery is keyed (it releases the key too).
   */
  private async sendAcks(batch: readonly AckUnit[]): Promise<void> {
    try {
      const ids = plainAckIds(batch);
      const scripts = this.transport.scripts;
      let acked: unknown;
      if (ids === undefined) {
        // Keyed deliveries: the `ack` script (it releases keys); batch entries beside them: `ackEntries`.
        const entries = batch.filter((a) => a.extra > 0);
        const rest = entries.length === 0 ? batch : batch.filter((a) => a.extra === 0);
        const [a, b] = await Promise.all([
          scripts.run('ack', [this.stream], ackArgs(this.transport.keys.prefix, this.site, rest)),
          entries.length === 0 ? 0 : scripts.run('ackEntries', this.entryKeys, ackEntryArgs(entries)),
        ]);
        acked = Number(a) + Number(b);
      } else if (batch.some((a) => a.extra > 0)) {
        acked = await scripts.run('ackEntries', this.entryKeys, ackEntryArgs(batch));
      } else {
        // Two commands in one socket write. Not a pipeline: ioredis copies every script defined on
        // the connection into each pipeline it makes (about 7 µs here, per batch).
        const redis = this.transport.redis;
        redis.stream.cork();
        let deleted: Promise<unknown>;
        try {
          acked = redis.xack(this.stream, GROUP, ...ids);
          deleted = redis.xdel(this.stream, ...ids);
        } finally {
          redis.stream.uncork();
        }
        [acked] = await Promise.all([acked, deleted]);
      }
      this.reportAcks(batch, Number(acked));
    } catch (error) {
      this.reportAcks(batch, 0, error);
    }
  }

  /**
   * Logs what went wrong with an ack batch (acks resolve at once; see {@link ack}). A batch that
   * failed on a lost connection is kept and sent again once the connection is ready (see
   * `ack-retry.ts`); one that failed otherwise is dropped: its messages will be delivered again.
   */
  private reportAcks(batch: readonly AckUnit[], acked: number, error?: unknown): void {
    const sent = batch.length;
    if (error !== undefined && isConnectionError(error)) {
      const dropped = this.unsent.keep(batch);
      this.transport.logger.warn(
        { err: error },
        `${sent} ack(s) on redis queue ${this.queue} failed on a lost connection; sent again once reconnected`,
      );
      if (dropped > 0)
        this.transport.logger.warn(
          `${dropped} ack(s) on redis queue ${this.queue} dropped (more than ${this.unsent.limit} waiting to be sent again); those messages will be delivered again`,
        );
    } else if (error !== undefined) {
      this.transport.logger.warn(
        { err: error },
        `${sent} ack(s) on redis queue ${this.queue} may not have reached Redis; those messages will be delivered again`,
      );
    } else if (acked < sent) {
      this.transport.logger.warn(
        `${sent - acked} ack(s) on redis queue ${this.queue} found the delivery reclaimed by another consumer; ignored`,
      );
    }
  }

  /** @internal Writes the message again (now or after `delayMs`), keeping its key; `undo` takes back this delivery's count. */
  requeue(d: RedisDelivery, delayMs: number, headers: Readonly<Record<string, string>> | undefined, undo: boolean): Promise<void> {
    if (d.member === undefined) return requeueEntry(this.transport, this.site, d, delayMs, headers, undo);
    const entry = d.member.entry;
    return requeueMember(this.transport, this.site, d, delayMs, headers, undo).then((done) => {
      if (done) this.queueAck(entry.settleOne());
    });
  }

  /** @internal Moves the delivery with its failure to the dead-letter stream, in one script. */
  deadLetter(d: RedisDelivery, failure: DeadLetterFailure): Promise<void> {
    if (d.member === undefined) return deadLetterEntry(this.transport, this.site, d, failure);
    const entry = d.member.entry;
    return deadLetterMember(this.transport, this.site, d, failure).then((done) => {
      if (done) this.queueAck(entry.settleOne());
    });
  }

  /** Resets the idle time of everything held, so live deliveries are never reclaimed. */
  private async touch(): Promise<void> {
    if (this.held.size === 0 || !this.transport.open) {
      if (this.buffer.closed) clearInterval(this.touchTimer);
      return;
    }
    // One per entry: a batch entry's messages share it.
    const held = [...new Map([...this.held].map((d) => [d.entryId, d.pelCount])).entries()];
    try {
      for (let i = 0; i < held.length; i += 500) {
        const args: (string | number)[] = [this.name];
        for (const [entryId, pelCount] of held.slice(i, i + 500)) args.push(entryId, pelCount);
        await this.transport.scripts.run('touch', [this.stream], args);
      }
    } catch (error) {
      this.transport.logger.warn({ err: error }, `redis consumer of ${this.queue} could not touch its deliveries`);
    }
  }

  override close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  /**
   * Ends promptly whatever state the links are in. A blocked read is ended cleanly when the command
   * connection is ready (`CLIENT UNBLOCK`, waited on for at most 200 ms); then every command the
   * loop still waits on is abandoned (rejected with a `TransportError`: a read whose reply never
   * came leaves what it read pending, reclaimed as any dead consumer's), the reading connection is
   * dropped, and what close sends on the command connection (give-backs, acks, leaving the group)
   * is sent only when it is ready, and waited on for at most `timeoutMs`.
   */
  private async closeOnce(): Promise<void> {
    this.closeNow(); // ends the iteration, gives back what was never read
    const open = this.transport.open;
    if (open) this.transport.readyEvents.off('ready', this.onReady);
    // End a blocked read cleanly (what it read is given back), then drop its connection.
    if (this.blocker !== undefined && this.blockerId !== undefined && open) {
      const [redis, id] = [this.transport.redis, this.blockerId];
      await this.transport.whileReady(() => Promise.all([redis.client('UNBLOCK', id), this.loop]), 'unblock', 200).catch(() => undefined);
    }
    const abandoned = this.abandon.fire();
    this.blocker?.disconnect();
    await this.loop;
    if (abandoned > 0 && this.transport.open)
      await this.transport
        .whileReady(() => this.returnStranded(), `redis consumer of ${this.queue}: stranded entries`)
        .catch((error: unknown) =>
          this.transport.logger.warn(
            { err: error },
            `redis consumer of ${this.queue} closed without giving back what its last read took; reclaimed after claimIdle`,
          ),
        );
    if (this.giving.size > 0) await this.bounded(Promise.all([...this.giving]), 'give back');
    await this.flushAcks(); // batch entries whose messages were given back
    this.warnUnsent();
    await this.leave();
    this.transport.forget(this);
  }

  /**
   * At close, after commands were abandoned: gives back what a read took whose reply was never
   * handled (answered after close stopped waiting for it: a process stalled past the 200 ms of
   * `UNBLOCK`; or never answered). Redis put those entries in this consumer's pending list; left
   * there, they would come back only when another consumer reclaims them after `claimIdle`, one
   * delivery closer to `maxDeliveries` though no handler saw them. First the reading connection is
   * closed on the server (`CLIENT KILL`: no read of this consumer's takes more after that), then
   * the entries pending for it past the last one it accepted are claimed (their count kept) and
   * given back as unread, uncounted, as close gives back what was never read.
   */
  private async returnStranded(): Promise<void> {
    const redis = this.transport.redis;
    if (this.blockerId !== undefined) await redis.client('KILL', 'ID', this.blockerId).catch(() => undefined);
    const pending = (await redis.xpending(this.stream, GROUP, '-', '+', 10_000, this.name)) as [string, string, number, number][];
    const after = this.lastAccepted;
    const stranded = pending.filter(([id]) => after === undefined || compareEntryIds(id, after) > 0);
    if (stranded.length === 0) return;
    this.transport.logger.info(`redis consumer of ${this.queue} gives back ${stranded.length} entr(ies) read as it closed`);
    for (const [id, , , count] of stranded) {
      const claimed = (await redis.callBuffer('XCLAIM', this.stream, GROUP, this.name, 0, id, 'RETRYCOUNT', count)) as [
        Buffer,
        Buffer[] | null,
      ][];
      for (const [entryId, fields] of claimed) if (fields !== null) this.accept(entryId, fields, Number(count)); // closed: given back
    }
  }

  /** Waits for close-time work on the command connection while it is ready, at most `timeoutMs` (a live link answers within it); logs what was left. */
  private async bounded(work: Promise<unknown>, what: string): Promise<void> {
    if (!this.transport.open) return;
    const label = `redis consumer of ${this.queue}: ${what}`;
    await this.transport
      .whileReady(() => work, label)
      .catch((error: unknown) =>
        this.transport.logger.warn({ err: error }, `redis consumer of ${this.queue} closed without waiting for its ${what}`),
      );
  }

  /** Logs the acks still waiting for a lost connection when the consumer closes (once per count). */
  private warnUnsent(): void {
    const count = this.unsent.size;
    if (count === 0 || count === this.unsentWarned) return;
    this.unsentWarned = count;
    this.transport.logger.warn(
      `redis consumer of ${this.queue} closed with ${count} ack(s) not sent (its connection was lost); sent if it comes back, else those messages will be delivered again`,
    );
  }

  /** Leaves the group if this consumer holds nothing (else its acks would find no consumer); notes since when the queue has none. */
  private async leave(): Promise<void> {
    if (!this.transport.open) return;
    // Not ready: its entries are reclaimed as any dead consumer's; the group keeps its name.
    await this.transport
      .whileReady(
        () =>
          this.transport.scripts.run(
            'leave',
            [this.stream],
            [this.transport.keys.prefix, this.queue, this.name, this.transport.clock.now()],
          ),
        'leave',
      )
      .catch((error: unknown) => {
        this.transport.logger.debug?.(`redis consumer of ${this.queue} could not leave its group: ${(error as Error).message}`);
      });
  }

  /** @internal The transport is closing: also give back what was yielded and not settled, and wait for it. */
  async shutdown(): Promise<void> {
    this.drop();
    await this.close();
    clearInterval(this.touchTimer);
    await this.flushAcks();
    if (this.giving.size > 0) await this.bounded(Promise.all([...this.giving]), 'give back');
    this.warnUnsent();
    await this.leave();
  }
}
