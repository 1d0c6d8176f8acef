/**
 * A consumer of one queue stream: a member of the stream's consumer group with its own name. Its
 * loop fetches up to its free prefetch with the `fetch` script (reclaiming idle entries of dead
 * consumers every half `claimIdle`, then reading new ones), and when the stream has nothing new it
 * waits in `XREAD BLOCK` on a connection of its own, from the group's last-delivered id, so any new
 * entry (a publish, a nack, a promoted delay, a released key) wakes it.
 *
 * What it holds is touched every third of `claimIdle` (its idle time reset), so only a dead
 * consumer's entries go idle long enough to be reclaimed. Each delivery is settled by a script
 * that checks the pending-entries list still names this consumer and this delivery count: an ack
 * that arrives after the entry was reclaimed is ignored (logged), never applied to the new copy.
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
import { BufferedConsumer, SettleOnceDelivery, type DeadLetterFailure, type Delivery, type NackOptions, type TransportMessage } from '@missive/core/transport';
import { readEntry } from './entry.js';
import { GROUP } from './keys.js';
import type { RedisConnection } from './redis-connection.js';

type FetchedEntry = [Buffer, Buffer[], number];

class RedisDelivery extends SettleOnceDelivery {
  constructor(
    private readonly consumer: RedisConsumer,
    readonly entryId: string,
    /** The delivery count in the pending-entries list when fetched (what settles check). */
    readonly pelCount: number,
    readonly message: TransportMessage,
    readonly deliveryCount: number,
    /** What holds the message's key: the token it was re-written with, else its entry id. */
    readonly token: string,
  ) {
    super(consumer);
  }

  protected onAck(): Promise<void> {
    return this.consumer.ack(this);
  }

  protected onNack(options: NackOptions): Promise<void> {
    return this.consumer.requeue(this, options.delayMs ?? 0, options.headers, false);
  }

  protected onDeadLetter(failure: DeadLetterFailure): Promise<void> {
    return this.consumer.deadLetter(this, failure);
  }

  /** Returns the message to its queue: `undo` when it was never yielded (its count goes back). */
  giveBack(undo: boolean): Promise<void> {
    if (!this.settleOnce()) return Promise.resolve();
    return this.consumer.requeue(this, 0, undefined, undo).catch(() => undefined);
  }
}

/** The consumer. */
export class RedisConsumer extends BufferedConsumer<RedisDelivery> {
  /** This consumer's name in the group: unique per consumer, so settles can tell copies apart. */
  readonly name = `${hostname()}-${process.pid}-${randomBytes(6).toString('hex')}`;
  readonly ready: Promise<void>;
  /** Fetched and not settled (what `touch` keeps alive). */
  private readonly held = new Set<RedisDelivery>();
  private readonly giving = new Set<Promise<void>>();
  private readonly acks: { delivery: RedisDelivery; resolve: () => void; reject: (error: Error) => void }[] = [];
  private readonly stream: string;
  private blocker: Redis | undefined;
  private blockerId: number | undefined;
  private wakeRoom: (() => void) | undefined;
  private lastClaim = 0;
  private loop: Promise<void> = Promise.resolve();
  private touchTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    readonly transport: RedisConnection,
    readonly queue: string,
    prefetch: number,
  ) {
    super('redis', prefetch);
    this.stream = transport.keys.stream(queue);
    this.ready = transport.checkQueue(queue).then((ordered) => {
      if (this.buffer.closed) return;
      this.loop = this.run(ordered);
      const every = Math.max(50, Math.floor(transport.options.claimIdleMs / 3));
      this.touchTimer = setInterval(() => void this.touch(), every);
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
        if (ordered || claim || script) {
          if (claim) this.lastClaim = now;
          const reply = (await this.transport.scripts.runBuffer('fetch', [this.stream], [this.transport.keys.prefix, this.queue, this.name, room, claim ? claimIdle : 0, ordered ? '1' : '0'])) as [Buffer, ...FetchedEntry[]];
          const head = reply[0].toString();
          if (head === '!gone') {
            if (await this.transport.redeclare(this.queue)) continue;
            this.transport.logger.error(`redis queue ${this.queue} was deleted; its consumer stops`);
            void this.close();
            break;
          }
          for (let i = 1; i < reply.length; i++) this.accept(reply[i] as FetchedEntry);
          script = false;
          if (head !== '' && ordered) await this.waitForNew(head, claimIdle);
        } else {
          await this.readBlocking(room, claimIdle);
        }
        failures = 0;
      } catch (error) {
        if (this.buffer.closed) break;
        script = true; // the next read goes through the script: it re-creates a lost group, or finds the queue gone
        this.transport.logger.warn({ err: error }, `redis consumer of ${this.queue} could not read; retrying`);
        await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 50 * 2 ** failures++)));
      }
    }
  }

  private async connection(): Promise<Redis> {
    if (this.blocker === undefined) {
      this.blocker = this.transport.redis.duplicate({ connectionName: 'missive-wait' });
      this.blocker.on('error', () => undefined);
      this.blockerId = Number(await this.blocker.client('ID'));
      this.blocker.on('ready', () => {
        void this.blocker?.client('ID').then((id) => (this.blockerId = Number(id)), () => undefined);
      });
    }
    return this.blocker;
  }

  /** Reads new entries of an unordered queue, waiting until one comes or the next reclaim is due. */
  private async readBlocking(room: number, claimIdle: number): Promise<void> {
    const timeout = Math.max(10, Math.ceil(claimIdle / 2 - (Date.now() - this.lastClaim)));
    const blocker = await this.connection();
    const reply = (await blocker.callBuffer('XREADGROUP', 'GROUP', GROUP, this.name, 'COUNT', room, 'BLOCK', timeout, 'STREAMS', this.stream, '>')) as [Buffer, [Buffer, Buffer[]][]][] | null;
    if (reply === null) return;
    for (const [id, fields] of reply[0]![1]) this.accept([id, fields, 1]);
  }

  /** Ordered queues: waits until the stream has an entry after `lastId`, or until the next reclaim is due. */
  private async waitForNew(lastId: string, claimIdle: number): Promise<void> {
    const timeout = Math.max(10, Math.ceil(claimIdle / 2 - (Date.now() - this.lastClaim)));
    const blocker = await this.connection();
    await blocker.xread('COUNT', 1, 'BLOCK', timeout, 'STREAMS', this.stream, lastId);
  }

  private accept([id, fields, count]: FetchedEntry): void {
    const entryId = id.toString();
    const read = readEntry(fields);
    const delivery = new RedisDelivery(this, entryId, Number(count), read.message, read.priorDeliveries + Number(count), read.token ?? entryId);
    this.held.add(delivery);
    this.offer(delivery);
  }

  private track(promise: Promise<void>): void {
    this.giving.add(promise);
    void promise.finally(() => this.giving.delete(promise));
  }

  /** @internal A delivery was settled: it frees a prefetch slot. */
  override settled(delivery: RedisDelivery): void {
    this.held.delete(delivery);
    super.settled(delivery);
    this.wakeRoom?.();
  }

  /** The buffer's iterator; a read that empties the buffer wakes the loop (it reads when its reader is idle). */
  override [Symbol.asyncIterator](): AsyncIterator<Delivery> {
    const inner = super[Symbol.asyncIterator]();
    return {
      next: () => {
        const next = inner.next();
        if (this.buffer.unread === 0) this.wakeRoom?.();
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
   * @internal Acks made in one event-loop turn go to Redis in one script call. An ack resolves
   * once that call is written to the connection, as an AMQP ack does: later commands of this
   * transport run after it, and a lost ack only means the message is delivered again. Waiting for
   * the reply would hold the handler's concurrency slot for a round trip per message.
   */
  ack(delivery: RedisDelivery): Promise<void> {
    return new Promise((resolve, reject) => {
      this.acks.push({ delivery, resolve, reject });
      if (this.acks.length === 1) setImmediate(() => void this.flushAcks());
    });
  }

  private async flushAcks(): Promise<void> {
    const batch = this.acks.splice(0);
    if (batch.length === 0) return;
    if (!this.transport.open) {
      for (const a of batch) a.resolve();
      return;
    }
    const args: (string | number)[] = [this.transport.keys.prefix, this.queue, this.name];
    for (const { delivery: d } of batch) args.push(d.entryId, d.pelCount, d.message.partitionKey === undefined ? '' : `=${d.message.partitionKey}`, d.token);
    let reply: Promise<unknown>;
    try {
      reply = this.transport.scripts.run('ack', [this.stream], args);
    } catch (error) {
      for (const a of batch) a.reject(this.transport.failure('ack', error));
      return;
    }
    for (const a of batch) a.resolve();
    try {
      const acked = Number(await reply);
      if (acked < batch.length) this.transport.logger.warn(`${batch.length - acked} ack(s) on redis queue ${this.queue} found the delivery reclaimed by another consumer; ignored`);
    } catch (error) {
      this.transport.logger.warn({ err: error }, `${batch.length} ack(s) on redis queue ${this.queue} may not have reached Redis; those messages will be delivered again`);
    }
  }

  /** @internal Writes the message again (now or after `delayMs`), keeping its key; `undo` takes back this delivery's count. */
  async requeue(d: RedisDelivery, delayMs: number, headers: Readonly<Record<string, string>> | undefined, undo: boolean): Promise<void> {
    if (!this.transport.open) return;
    const headerArg = headers === undefined ? '-' : Object.keys(headers).length === 0 ? '' : JSON.stringify(headers);
    try {
      const done = await this.transport.scripts.run('nack', [this.stream], [
        this.transport.keys.prefix, this.queue, this.name, d.entryId, d.pelCount, Math.max(0, Math.floor(delayMs)), d.deliveryCount - (undo ? 1 : 0), headerArg, d.token, this.transport.clock.now(),
      ]);
      if (Number(done) === 0) this.transport.logger.warn({ messageId: d.message.id }, `a nack on redis queue ${this.queue} found the delivery reclaimed by another consumer; ignored`);
      if (delayMs > 0) this.transport.dueAt(this.transport.clock.now() + delayMs);
    } catch (error) {
      throw this.transport.failure('nack', error);
    }
  }

  /** @internal Moves the delivery with its failure to the dead-letter stream, in one script. */
  async deadLetter(d: RedisDelivery, failure: DeadLetterFailure): Promise<void> {
    if (!this.transport.open) return;
    try {
      const done = await this.transport.scripts.run('deadLetter', [this.stream], [
        this.transport.keys.prefix, this.queue, this.name, d.entryId, d.pelCount, d.message.partitionKey === undefined ? '' : `=${d.message.partitionKey}`, d.token, JSON.stringify(failure),
      ]);
      if (Number(done) === 0) this.transport.logger.warn({ messageId: d.message.id }, `a dead-letter on redis queue ${this.queue} found the delivery reclaimed by another consumer; ignored`);
    } catch (error) {
      throw this.transport.failure('dead-letter', error);
    }
  }

  /** Resets the idle time of everything held, so live deliveries are never reclaimed. */
  private async touch(): Promise<void> {
    if (this.held.size === 0 || !this.transport.open) {
      if (this.buffer.closed) clearInterval(this.touchTimer);
      return;
    }
    const held = [...this.held];
    try {
      for (let i = 0; i < held.length; i += 500) {
        const args: (string | number)[] = [this.name];
        for (const d of held.slice(i, i + 500)) args.push(d.entryId, d.pelCount);
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

  private async closeOnce(): Promise<void> {
    this.closeNow(); // ends the iteration, gives back what was never read
    // End a blocked read cleanly (what it read is given back), then drop its connection.
    if (this.blocker !== undefined && this.blockerId !== undefined && this.transport.open) {
      await this.transport.redis.client('UNBLOCK', this.blockerId).catch(() => undefined);
      await Promise.race([this.loop, new Promise((resolve) => setTimeout(resolve, 200))]);
    }
    this.blocker?.disconnect();
    await this.loop;
    await Promise.all([...this.giving]);
    this.transport.forget(this);
  }

  /** @internal The transport is closing: also give back what was yielded and not settled, and wait for it. */
  async shutdown(): Promise<void> {
    this.drop();
    await this.close();
    clearInterval(this.touchTimer);
    await this.flushAcks();
    await Promise.all([...this.giving]);
  }
}
