/**
 * The consumer of an ordered endpoint on RabbitMQ: per-key order across every instance.
 *
 * An ordered endpoint has its main queue (messages without a key, shared by all instances as
 * competing consumers) and {@link PARTITIONS} partition queues (keyed messages, by a hash of the key).
 * Each partition has one owner at a time: the instance whose connection holds the partition's lock,
 * an exclusive queue `<partition>.owner` (RabbitMQ lets one connection declare an exclusive queue
 * and deletes it when that connection closes, so a crashed owner's lock goes with it). The owner
 * then subscribes to the partition queue. Partition queues are also single-active-consumer queues,
 * so even in the moment around a crash the broker lets at most one consumer take from each.
 * Instances share the partitions: each owns at most ⌈partitions ÷ instances⌉, counting instances by
 * the consumers of the main queue. They rebalance when one joins (it announces itself on
 * `missive.control`), when one lets a partition go, and on a timer (about every 1–1.5 s), which is
 * also how the partitions of a crashed instance find a new owner.
 *
 * Inside an instance, a key has one message out at a time: the others of that key wait (they are
 * fetched but not handed out) until it is acked or dead-lettered. A `nack` keeps the message's place:
 * it stays un-acked at the broker and is handed out again here after its delay, with its new
 * headers, so the key's later messages keep waiting. Such a hold lasts at most the broker's consumer
 * timeout (30 min by default).
 *
 * An owner lets a partition go in order: it stops handing out the partition's messages, waits until
 * the handlers running on it settle, then closes the partition's channel, which returns every
 * un-acked message of the partition to the head of the queue in the order they were taken, and only
 * then deletes its lock. On `close` it does the same for every partition.
 *
 * @example
 * ```ts
 * const consumer = new OrderedConsumer(transport, 'accounts', 16); // transport.consume does this for an ordered queue
 * ```
 * @module
 */
import { randomUUID } from 'node:crypto';
import type * as amqp from 'amqplib';
import { TransportError } from '@missive/core';
import { DeliveryBuffer, type Consumer, type Delivery } from '@missive/core/transport';
import { KeyLines } from './key-lines.js';
import { Latch } from './latch.js';
import { Ticker } from './ticker.js';
import type { ConsumerHost } from './consumer-host.js';
import { RabbitDelivery, onChannel, type DeliveryOwner } from './rabbitmq-delivery.js';
import { PARTITIONS, partitionLock, partitionQueue } from './partitions.js';
import { ControlChannel } from './ordered-control.js';
import type { Lane } from './ordered-lane.js';

/** Milliseconds between rebalance checks: a base and a random extra, so instances do not tick together. */
const TICK_MS = 1000;
const TICK_JITTER_MS = 500;
/** The longest `ready` waits for the partitions to settle before the instance starts with what it holds. */
const READY_TIMEOUT_MS = 10_000;

/** The consumer of an ordered queue. */
export class OrderedConsumer implements Consumer, DeliveryOwner {
  private readonly buffer = new DeliveryBuffer<RabbitDelivery>('rabbitmq', () => this.close());
  private readonly lanes = new Map<amqp.Channel, Lane>();
  /** Lanes being let go (channels closing). */
  private readonly going = new Set<Promise<void>>();
  private readonly owned = new Map<number, Lane>();
  private readonly keys = new KeyLines<RabbitDelivery>();
  /** In-process redeliveries waiting for their delay. */
  private readonly pending = new Map<RabbitDelivery, NodeJS.Timeout>();
  private readonly id = randomUUID();
  private main: Lane | undefined;
  private control: ControlChannel | undefined;
  private connection: amqp.ChannelModel | undefined;
  private closing = false;
  private readonly started = new Latch();
  private readonly ticker = new Ticker(
    () => this.rebalance(),
    TICK_MS,
    TICK_JITTER_MS,
    (error) => this.transport.logger.debug({ err: error }, `rebalance of ${this.queue} failed; trying again`),
  );

  constructor(
    readonly transport: ConsumerHost,
    readonly queue: string,
    private readonly prefetch: number,
  ) {
    setTimeout(() => {
      if (this.started.settled) return;
      this.transport.logger.info(
        `${this.queue}: partitions still moving after ${READY_TIMEOUT_MS} ms; starting with ${this.owned.size} of them`,
      );
      this.started.open();
    }, READY_TIMEOUT_MS).unref();
  }

  isCurrent(channel: amqp.Channel): boolean {
    return this.lanes.has(channel);
  }

  /**
   * Settles when this instance holds its share of the partitions: every partition has an owner and
   * the other instances hold no more than their shares (or after {@link READY_TIMEOUT_MS}). So a
   * second instance's `bus.start` returns once it really takes keyed work.
   */
  get ready(): Promise<void> {
    return this.started.promise;
  }

  /** Starts (or restarts, after a reconnect) consuming: main queue, control messages, then the partitions. */
  async resume(connection: amqp.ChannelModel): Promise<void> {
    if (this.closing || this.connection === connection) return; // once per connection
    this.connection = connection;
    this.main = await this.openLane(connection, undefined);
    const control = await ControlChannel.open(connection, this.queue, this.id, () => this.scheduleTick());
    if (this.closing || this.connection !== connection) {
      await control.close();
      return;
    }
    this.control = control;
    this.control.announce();
    this.scheduleTick();
  }

  /** The connection is gone: the broker returned everything un-acked. Keys held by running handlers stay held until they settle. */
  lost(): void {
    this.ticker.pause();
    this.connection = undefined;
    this.control = undefined;
    this.main = undefined;
    this.lanes.clear();
    this.owned.clear();
    this.buffer.discard();
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
    this.keys.lost((d) => this.buffer.isYielded(d));
  }

  fail(error: unknown): void {
    if (!this.closing) this.transport.logger.error({ err: error }, `cannot consume ${this.queue}`);
    this.started.fail(
      new TransportError(`cannot consume queue "${this.queue}": ${(error as Error).message}`, { cause: error, retryable: false }),
    );
    void this.close();
  }

  settled(delivery: RabbitDelivery): void {
    this.buffer.settled(delivery);
  }

  /**
   * The delivery's ack (or dead letter, or requeue) has gone to the broker: only now does the key's
   * next message go out and may its lane close. Earlier, the next message could be handled and
   * acked while this one was still un-acked, and come back after it; or the lane's channel could
   * close before the ack, returning a handled message to the queue.
   */
  finished(delivery: RabbitDelivery): void {
    const lane = this.lanes.get(delivery.channel);
    lane?.held.delete(delivery);
    this.releaseKey(delivery);
    if (lane !== undefined) this.settleCheck(lane);
  }

  /**
   * Acks at once. A keyed message handed back (its dead letter could not be published) keeps its
   * place: rather than a requeue, which would let the key's later messages, already fetched, go
   * first, its partition is let go, and closing the channel returns the partition's messages in the
   * order they were taken.
   */
  toBroker(delivery: RabbitDelivery, ack: boolean): void {
    const lane = this.lanes.get(delivery.channel);
    if (!ack && lane?.partition !== undefined && delivery.message.partitionKey !== undefined) {
      this.release(lane);
      return;
    }
    onChannel(() => (ack ? delivery.channel.ack(delivery.raw) : delivery.channel.nack(delivery.raw, false, true)));
  }

  redeliver(delivery: RabbitDelivery, delayMs: number, headers: Readonly<Record<string, string>> | undefined): boolean {
    const lane = this.lanes.get(delivery.channel);
    if (lane?.partition === undefined || delivery.message.partitionKey === undefined) return false;
    if (delivery.generation !== this.transport.generation || !delivery.claim()) return false;
    this.buffer.settled(delivery);
    lane.held.delete(delivery);
    const copy = delivery.again(headers);
    lane.held.add(copy);
    this.keys.replace(delivery, copy);
    if (this.closing || lane.releasing) {
      this.settleCheck(lane);
      return true;
    }
    const timer = setTimeout(
      () => {
        this.pending.delete(copy);
        this.push(copy);
      },
      Math.max(0, delayMs),
    );
    this.pending.set(copy, timer);
    return true;
  }

  [Symbol.asyncIterator](): AsyncIterator<Delivery> {
    return this.buffer[Symbol.asyncIterator]();
  }

  /** For the transport's close: closes the consumer and waits until the channels it let go are closed (their acks processed). */
  async shutdown(): Promise<void> {
    await this.close();
    this.transport.forget(this);
    // Lanes still holding yielded deliveries close now: the broker requeues those.
    await Promise.allSettled([...[...this.lanes.values()].map((lane) => lane.channel.close()), ...this.going]);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.started.open(); // closed before it settled: nothing to wait for
    this.ticker.stop();
    const main = this.main;
    if (main?.tag !== undefined) await main.channel.cancel(main.tag).catch(() => undefined);
    this.buffer.close(); // the unread stay in their lanes' `held` and go back when their channels close
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
    this.keys.clear();
    for (const lane of [...this.lanes.values()]) this.settleCheck(lane);
    await this.control?.close();
  }

  private async openLane(connection: amqp.ChannelModel, partition: number | undefined): Promise<Lane | undefined> {
    const channel = await connection.createChannel();
    channel.on('error', (error: Error) => {
      if (partition === undefined) this.transport.logger.warn({ err: error.message }, `rabbitmq consumer channel of ${this.queue} failed`);
    });
    const lane: Lane = { partition, channel, tag: undefined, releasing: false, locked: false, held: new Set() };
    channel.on('close', () => this.laneLost(lane));
    await channel.prefetch(this.prefetch);
    if (this.closing || this.connection !== connection) {
      await channel.close().catch(() => undefined);
      return undefined;
    }
    const generation = this.transport.generation;
    this.lanes.set(channel, lane);
    if (partition !== undefined) this.owned.set(partition, lane);
    try {
      if (partition !== undefined) {
        await channel.assertQueue(partitionLock(this.queue, partition), { exclusive: true, durable: false });
        lane.locked = true;
      }
      const name = partition === undefined ? this.queue : partitionQueue(this.queue, partition);
      const { consumerTag } = await channel.consume(name, (raw) => this.arrive(lane, raw, generation), { noAck: false });
      lane.tag = consumerTag;
      return lane;
    } catch (error) {
      this.laneLost(lane);
      if (partition === undefined) throw error;
      return undefined; // another instance holds the lock
    }
  }

  private arrive(lane: Lane, raw: amqp.ConsumeMessage | null, generation: number): void {
    if (raw === null) {
      // The broker cancelled the consumer: the queue was deleted.
      if (lane.partition === undefined) void this.close();
      else void lane.channel.close().catch(() => undefined);
      return;
    }
    const delivery = new RabbitDelivery(this, lane.channel, raw, generation);
    lane.held.add(delivery);
    if (this.closing || lane.releasing) return; // goes back with the rest of the lane
    const key = delivery.message.partitionKey;
    if (key === undefined || this.keys.admit(delivery, key)) this.push(delivery);
  }

  private push(delivery: RabbitDelivery): void {
    this.buffer.push(delivery); // false once closed: it stays held and goes back when its lane is flushed
  }

  /** The key's message is done: the next one of the key goes out. */
  private releaseKey(delivery: RabbitDelivery): void {
    const next = this.keys.done(delivery);
    if (next !== undefined) this.push(next);
  }

  /** Takes back everything of `lane` that is not running: unread, parked, waiting for a retry. */
  private withdraw(lane: Lane): void {
    this.buffer.remove((d) => d.channel === lane.channel);
    for (const [copy, timer] of this.pending) {
      if (copy.channel !== lane.channel) continue;
      clearTimeout(timer);
      this.pending.delete(copy);
    }
    for (const next of this.keys.withdraw(
      (d) => d.channel === lane.channel,
      (d) => this.buffer.isYielded(d),
    ))
      this.push(next);
  }

  /** Lets a partition go (see the module comment): stop handing out, wait for its running handlers, close. */
  private release(lane: Lane): void {
    if (lane.releasing) return;
    lane.releasing = true;
    this.withdraw(lane);
    this.settleCheck(lane);
  }

  /** Flushes a releasing lane (or every lane when closing) once none of its deliveries is running. */
  private settleCheck(lane: Lane): void {
    if (!lane.releasing && !this.closing) return;
    for (const delivery of lane.held) if (this.buffer.isYielded(delivery)) return;
    lane.held.clear(); // closing the channel returns them, in the order they were taken
    this.lanes.delete(lane.channel);
    if (this.main === lane) this.main = undefined;
    const going = this.letGo(lane);
    this.going.add(going);
    void going.finally(() => this.going.delete(going));
    if (this.closing && this.lanes.size === 0) this.forgetOnceGone();
  }

  /**
   * Leaves the transport once the channels being let go are closed: their acks must reach the
   * broker before the connection closes (until then `shutdown`, which waits for them, runs at the
   * transport's close). A lane's acks and its close share a channel, but the connection's close can
   * overtake a channel's frames.
   */
  private forgetOnceGone(): void {
    void Promise.allSettled([...this.going]).then(() => {
      if (this.lanes.size === 0) this.transport.forget(this);
    });
  }

  /** Closes a lane's channel, then (a partition) deletes its lock and tells the others. */
  private async letGo(lane: Lane): Promise<void> {
    await lane.channel.close().catch(() => undefined);
    if (lane.partition === undefined) return;
    await this.unlock(lane);
    if (this.owned.get(lane.partition) === lane) this.owned.delete(lane.partition);
    if (!this.closing) this.control?.announce();
  }

  private async unlock(lane: Lane): Promise<void> {
    if (!lane.locked || lane.partition === undefined) return;
    lane.locked = false;
    try {
      await (await this.transport.adminChannelNow()).deleteQueue(partitionLock(this.queue, lane.partition));
    } catch (error) {
      this.transport.logger.debug(
        { err: error },
        `could not delete the lock of ${partitionQueue(this.queue, lane.partition)}; it goes with the connection`,
      );
    }
  }

  /** A lane's channel closed under us: the broker returned its un-acked messages. */
  private laneLost(lane: Lane): void {
    if (this.lanes.get(lane.channel) !== lane) return;
    this.withdraw(lane);
    lane.held.clear();
    this.lanes.delete(lane.channel);
    if (lane.partition !== undefined && this.owned.get(lane.partition) === lane) this.owned.delete(lane.partition);
    if (this.main === lane) this.main = undefined;
    if (this.connection !== undefined) void this.unlock(lane);
    if (!this.closing && this.connection !== undefined) this.scheduleTick();
  }

  private scheduleTick(): void {
    if (!this.closing) this.ticker.kick();
  }

  /** Owns at most ⌈partitions ÷ instances⌉: lets the surplus go, claims free ones up to the share. */
  private async rebalance(): Promise<void> {
    const connection = this.connection;
    if (this.closing || connection === undefined) return;
    this.main ??= await this.openLane(connection, undefined);
    const admin = await this.transport.adminChannelNow();
    const members = Math.max(1, (await admin.checkQueue(this.queue)).consumerCount);
    const share = Math.ceil(PARTITIONS / members);
    const active = [...this.owned.values()].filter((lane) => !lane.releasing);
    if (active.length > share) {
      for (const lane of active.sort((a, b) => b.partition! - a.partition!).slice(0, active.length - share)) this.release(lane);
      return;
    }
    let count = active.length;
    let others = 0; // partitions another instance consumes (counted in full until ready)
    const start = Math.floor(Math.random() * PARTITIONS);
    for (let k = 0; k < PARTITIONS && (count < share || !this.started.settled); k++) {
      const partition = (start + k) % PARTITIONS;
      if (this.owned.has(partition)) continue;
      const { consumerCount } = await admin.checkQueue(partitionQueue(this.queue, partition));
      if (this.closing || this.connection !== connection) return;
      if (consumerCount > 0) others++;
      else if (count < share && (await this.openLane(connection, partition)) !== undefined) count++;
    }
    // Every partition has an owner and the others hold no more than their shares: this is our share.
    if (count + others === PARTITIONS && others <= (members - 1) * share) this.started.open();
  }
}
