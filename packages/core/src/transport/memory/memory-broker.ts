/**
 * An in-process broker for tests and single-process use. Several buses in one process share one
 * `MemoryBroker`, each through its own connection from {@link MemoryBroker.transport}; the URL
 * `memory://` gives a bus a private broker. All waiting goes through the broker's clock, so a
 * virtual clock drives delayed delivery in tests.
 *
 * It keeps every promise of the `Transport` contract except durability across a process exit.
 *
 * @example
 * ```ts
 * const broker = new MemoryBroker();
 * const a = createBus({ service: 'order', transport: broker.transport() });
 * const b = createBus({ service: 'payment', transport: broker.transport() });
 * ```
 * @module
 */
import { systemClock, type Clock, type TimerHandle } from '../../clock.js';
import { BusStateError, ErrorCode, UnroutableError } from '../../errors.js';
import { topicMatcher } from '../topic-pattern.js';
import type { CommandOwnership } from '../command-owners.js';
import { MemoryCommandOwners } from './memory-command-owners.js';
import { BufferedConsumer } from '../buffered-consumer.js';
import { SettleOnceDelivery, type NackOptions } from '../settle-once-delivery.js';
import type {
  Consumer,
  DeadLetter,
  DeadLetterFailure,
  DeadLetterStore,
  EnqueueOptions,
  QueueInfo,
  QueueSpec,
  Transport,
  TransportCapabilities,
  TransportMessage,
} from '../transport.js';

interface Item {
  message: TransportMessage;
  deliveryCount: number;
  visibleAt: number;
  /** The delivery currently holding the item, if any. */
  holder: MemoryDelivery | undefined;
  /** Which delay timer may make the item ready again. */
  delayToken: number;
  /** Returned with a delay whose timer has not fired yet: not counted in `ready`. */
  delayed: boolean;
  /** Acked or dead-lettered: its slot in `order` is dead. */
  gone: boolean;
}

interface Binding {
  readonly pattern: string;
  readonly matches: (topic: string) => boolean;
}

interface Scheduled {
  readonly timer: TimerHandle;
  readonly queue: string;
  readonly message: TransportMessage;
}

class MemoryQueue {
  /**
   * Items in seq order, append-only; removed items are marked `gone` and skipped, leading dead
   * slots are dropped by moving `start` (and let go of, so a removed message is garbage at once),
   * and the array is compacted when half of it is dead. Scans begin at `start`, so finding the next
   * deliverable item costs the items held ahead of it, not the queue's history. There is no Map by
   * seq beside it: a busy Map keeps its replaced hash tables, and with them every message, alive
   * until the next full collection.
   */
  order: Item[] = [];
  start = 0;
  /** Items not gone. */
  size = 0;
  readonly bindings: Binding[] = [];
  readonly consumers: MemoryConsumer[] = [];
  readonly deadLetters: DeadLetter[] = [];
  /** Items neither held nor delayed (some may still wait behind their key); lets an idle queue skip the scan. */
  ready = 0;
  rr = 0;
  pumpQueued = false;
  constructor(
    readonly name: string,
    readonly owner: MemoryConnection | undefined,
    /** Since when the queue has had no consumer (see `QueueInfo.idleSince`). */
    public idleSince: number,
  ) {}
}

/** What a dead slot of `order` below `start` holds instead of the removed item. */
const GONE: Item = { message: { id: '', type: '', body: new Uint8Array(0), headers: {} }, deliveryCount: 0, visibleAt: 0, holder: undefined, delayToken: 0, delayed: false, gone: true };

/** The items of a queue that are not gone, in order. */
function* liveItems(queue: MemoryQueue): Generator<Item> {
  for (let i = queue.start; i < queue.order.length; i++) if (!queue.order[i]!.gone) yield queue.order[i]!;
}

/** The broker: queues, bindings, timers. */
export class MemoryBroker {
  readonly clock: Clock;
  private readonly queues = new Map<string, MemoryQueue>();
  private readonly scheduled = new Map<string, Scheduled[]>();
  private seq = 0;
  private outstanding = 0;
  private activity_ = 0;
  /** @internal Which queue owns each command type (see `command-owners.ts`). */
  readonly commandOwners: MemoryCommandOwners;

  constructor(options: { readonly clock?: Clock } = {}) {
    this.clock = options.clock ?? systemClock;
    this.commandOwners = new MemoryCommandOwners(this.clock, (from, to, type) => {
      const bindings = this.queues.get(from)?.bindings;
      const i = bindings?.findIndex((b) => b.pattern === type) ?? -1;
      if (i >= 0) bindings!.splice(i, 1);
      this.declare({ name: to, topics: [type] }, undefined);
    });
  }

  /** A new connection to this broker. */
  transport(): Transport {
    return new MemoryConnection(this);
  }

  /**
   * Whether the broker has nothing to do: no message is deliverable to a consumer with room.
   * Deliveries held by handlers may still settle; watch {@link MemoryBroker.activity} for that.
   */
  isQuiet(): boolean {
    for (const queue of this.queues.values()) {
      if (queue.pumpQueued) return false;
      if (queue.ready > 0 && queue.consumers.some((c) => c.hasRoom()) && this.nextDeliverable(queue) !== undefined) return false;
    }
    return true;
  }

  /** Grows with every enqueue, hand-out and settle: unchanged across event-loop turns means no progress. */
  get activity(): number {
    return this.activity_;
  }

  /** Deliveries handed out and not settled, across all queues. */
  get unsettled(): number {
    return this.outstanding;
  }

  // --- operations used by connections -------------------------------------------------------

  /** @internal */
  declare(spec: QueueSpec, owner: MemoryConnection | undefined): void {
    let queue = this.queues.get(spec.name);
    if (queue === undefined) {
      queue = new MemoryQueue(spec.name, spec.temporary === true ? owner : undefined, this.clock.now());
      this.queues.set(spec.name, queue);
    }
    for (const pattern of spec.topics) {
      if (!queue.bindings.some((b) => b.pattern === pattern)) queue.bindings.push({ pattern, matches: topicMatcher(pattern) });
    }
  }

  /** @internal */
  publish(topic: string, message: TransportMessage, options: EnqueueOptions | undefined): void {
    let routed = 0;
    for (const queue of this.queues.values()) {
      if (queue.bindings.some((b) => b.matches(topic))) {
        this.enqueueOrSchedule(queue, message, options);
        routed++;
      }
    }
    if (routed === 0 && options?.mandatory === true) throw new UnroutableError(topic);
  }

  /** @internal */
  send(queueName: string, message: TransportMessage, options: EnqueueOptions | undefined): void {
    const queue = this.queues.get(queueName);
    if (queue === undefined) throw new UnroutableError(queueName, 'no such queue');
    this.enqueueOrSchedule(queue, message, options);
  }

  /** @internal */
  cancelScheduled(scheduleId: string): boolean {
    const entries = this.scheduled.get(scheduleId);
    if (entries === undefined) return false;
    for (const entry of entries) this.clock.clearTimeout(entry.timer);
    this.scheduled.delete(scheduleId);
    return true;
  }

  /** @internal */
  consume(queueName: string, prefetch: number, owner: MemoryConnection): MemoryConsumer {
    const queue = this.queues.get(queueName);
    if (queue === undefined) throw new UnroutableError(queueName, 'no such queue; declare it before consuming');
    const consumer = new MemoryConsumer(this, queue, Math.max(1, Math.floor(prefetch)), owner);
    queue.consumers.push(consumer);
    this.schedulePump(queue);
    return consumer;
  }

  /** @internal */
  removeConsumer(consumer: MemoryConsumer): void {
    const list = consumer.queue.consumers;
    const i = list.indexOf(consumer);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) consumer.queue.idleSince = this.clock.now();
  }

  /** @internal Called when a delivery settles or is released. */
  release(item: Item, queue: MemoryQueue, how: 'remove' | 'return', delayMs = 0): void {
    this.activity_++;
    item.holder = undefined;
    this.outstanding--;
    if (how === 'remove') {
      item.gone = true;
      queue.size--;
      if (queue.start > 1024 && queue.start * 2 > queue.order.length) {
        queue.order = queue.order.slice(queue.start);
        queue.start = 0;
      }
    } else if (!item.gone) {
      item.visibleAt = this.clock.now() + delayMs;
      const token = ++item.delayToken;
      if (delayMs > 0) {
        item.delayed = true;
        this.clock.setTimeout(() => {
          if (!item.gone && item.holder === undefined && item.delayToken === token && item.delayed) {
            item.delayed = false;
            queue.ready++;
            this.schedulePump(queue);
          }
        }, delayMs);
      } else {
        queue.ready++;
      }
    }
    this.schedulePump(queue);
  }

  /** @internal */
  dropConnection(connection: MemoryConnection): void {
    for (const [name, queue] of this.queues) {
      if (queue.owner === connection) this.deleteQueue(name);
    }
  }

  /** @internal */
  deleteQueue(name: string): void {
    const queue = this.queues.get(name);
    if (queue === undefined) return;
    for (const consumer of [...queue.consumers]) consumer.closeNow();
    for (const item of liveItems(queue)) {
      item.gone = true;
      if (item.holder !== undefined) {
        item.holder.orphan();
        this.outstanding--;
      }
    }
    queue.size = 0;
    queue.order = [];
    queue.start = 0;
    queue.ready = 0;
    this.queues.delete(name);
    this.commandOwners.release(name);
  }

  /** @internal */
  queueNamed(name: string): MemoryQueue | undefined {
    return this.queues.get(name);
  }

  /** @internal */
  allQueues(): Iterable<MemoryQueue> {
    return this.queues.values();
  }

  /** @internal */
  enqueue(queue: MemoryQueue, message: TransportMessage): void {
    const item: Item = { message, deliveryCount: 0, visibleAt: 0, holder: undefined, delayToken: 0, delayed: false, gone: false };
    queue.size++;
    queue.order.push(item);
    queue.ready++;
    this.activity_++;
    this.schedulePump(queue);
  }

  private enqueueOrSchedule(queue: MemoryQueue, message: TransportMessage, options: EnqueueOptions | undefined): void {
    this.activity_++;
    const notBefore = options?.notBefore;
    const delay = notBefore === undefined ? 0 : notBefore - this.clock.now();
    if (delay <= 0) {
      this.enqueue(queue, message);
      return;
    }
    const key = options?.scheduleId ?? `~${++this.seq}`;
    const timer = this.clock.setTimeout(() => {
      const entries = this.scheduled.get(key);
      if (entries === undefined) return;
      const rest = entries.filter((e) => e.timer !== timer);
      if (rest.length === 0) this.scheduled.delete(key);
      else this.scheduled.set(key, rest);
      const target = this.queues.get(queue.name);
      if (target !== undefined) this.enqueue(target, message);
    }, delay);
    const list = this.scheduled.get(key) ?? [];
    list.push({ timer, queue: queue.name, message });
    this.scheduled.set(key, list);
  }

  private schedulePump(queue: MemoryQueue): void {
    if (queue.pumpQueued) return;
    queue.pumpQueued = true;
    queueMicrotask(() => {
      queue.pumpQueued = false;
      this.pump(queue);
    });
  }

  /** Hands deliverable items to consumers with room, round-robin. */
  private pump(queue: MemoryQueue): void {
    if (this.queues.get(queue.name) !== queue) return;
    while (queue.ready > 0) {
      const consumer = this.nextConsumerWithRoom(queue);
      if (consumer === undefined) return;
      const item = this.nextDeliverable(queue);
      if (item === undefined) return;
      // An item whose delay ran out before its timer fired was never counted as ready.
      if (item.delayed) item.delayed = false;
      else queue.ready--;
      item.deliveryCount++;
      this.outstanding++;
      this.activity_++;
      consumer.push(item);
    }
  }

  private nextConsumerWithRoom(queue: MemoryQueue): MemoryConsumer | undefined {
    const n = queue.consumers.length;
    for (let k = 0; k < n; k++) {
      const consumer = queue.consumers[(queue.rr + k) % n]!;
      if (consumer.hasRoom()) {
        queue.rr = (queue.rr + k + 1) % n;
        return consumer;
      }
    }
    return undefined;
  }

  /** The first item in order that is free, due, and whose key no earlier item holds. */
  private nextDeliverable(queue: MemoryQueue): Item | undefined {
    const now = this.clock.now();
    let blocked: Set<string> | undefined;
    const order = queue.order;
    while (queue.start < order.length && order[queue.start]!.gone) order[queue.start++] = GONE;
    for (let i = queue.start; i < order.length; i++) {
      const item = order[i]!;
      if (item.gone) continue;
      const key = item.message.partitionKey;
      if (item.holder !== undefined || item.visibleAt > now) {
        if (key !== undefined) (blocked ??= new Set()).add(key);
        continue;
      }
      if (key !== undefined && blocked?.has(key) === true) continue;
      return item;
    }
    return undefined;
  }
}

/** One delivery of an item. */
class MemoryDelivery extends SettleOnceDelivery {
  readonly message: TransportMessage;
  readonly deliveryCount: number;

  constructor(
    private readonly broker: MemoryBroker,
    private readonly queue: MemoryQueue,
    private readonly item: Item,
    consumer: MemoryConsumer,
  ) {
    super(consumer);
    this.message = item.message;
    this.deliveryCount = item.deliveryCount;
  }

  /** Settles without touching the item: its queue was deleted. */
  orphan(): void {
    this.claim();
  }

  protected override canSettle(): boolean {
    return this.item.holder === this;
  }

  protected async onAck(): Promise<void> {
    this.broker.release(this.item, this.queue, 'remove');
  }

  protected async onNack(options: NackOptions): Promise<void> {
    if (options.headers !== undefined) this.item.message = { ...this.item.message, headers: { ...options.headers } };
    this.broker.release(this.item, this.queue, 'return', Math.max(0, options.delayMs ?? 0));
  }

  protected async onDeadLetter(failure: DeadLetterFailure): Promise<void> {
    this.queue.deadLetters.push({ queue: this.queue.name, message: this.item.message, failure });
    this.broker.release(this.item, this.queue, 'remove');
  }

  /** Gives the item back as if the consumer's connection was lost. */
  giveBack(): void {
    if (this.settleOnce()) this.broker.release(this.item, this.queue, 'return');
  }
}

class MemoryConsumer extends BufferedConsumer<MemoryDelivery> {
  constructor(
    private readonly broker: MemoryBroker,
    readonly queue: MemoryQueue,
    prefetch: number,
    readonly owner: MemoryConnection,
  ) {
    super('memory', prefetch);
  }

  hasRoom(): boolean {
    return this.room() > 0;
  }

  push(item: Item): void {
    const delivery = new MemoryDelivery(this.broker, this.queue, item, this);
    item.holder = delivery;
    this.offer(delivery);
  }

  protected detach(): void {
    this.broker.removeConsumer(this);
  }

  protected giveBack(delivery: MemoryDelivery): void {
    delivery.giveBack();
  }
}

/** One connection to a {@link MemoryBroker}: the `Transport` a bus uses. */
class MemoryConnection implements Transport {
  readonly kind = 'memory';
  readonly capabilities: TransportCapabilities = Object.freeze({
    delayedDelivery: true,
    cancelScheduled: true,
    orderingKeys: true,
    multiProcess: false,
  });
  readonly deadLetters: DeadLetterStore;
  readonly commandOwners: CommandOwnership;
  private readonly consumers = new Set<MemoryConsumer>();
  private state: 'new' | 'open' | 'closed' = 'new';

  constructor(private readonly broker: MemoryBroker) {
    this.deadLetters = new MemoryDeadLetters(broker);
    this.commandOwners = {
      claim: async (claim) => {
        this.open();
        return broker.commandOwners.claim(claim);
      },
      owners: async () => broker.commandOwners.list(),
    };
  }

  async connect(): Promise<void> {
    if (this.state === 'closed') throw new BusStateError(ErrorCode.Closed, 'memory transport connection is closed');
    this.state = 'open';
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const consumer of this.consumers) consumer.drop();
    this.consumers.clear();
    this.broker.dropConnection(this);
  }

  private open(): void {
    if (this.state !== 'open') {
      throw new BusStateError(this.state === 'new' ? ErrorCode.NotStarted : ErrorCode.Closed, `memory transport is ${this.state === 'new' ? 'not connected' : 'closed'}`);
    }
  }

  async declare(queue: QueueSpec): Promise<void> {
    this.open();
    this.broker.declare(queue, this);
  }

  async publish(topic: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    this.open();
    this.broker.publish(topic, message, options);
  }

  async send(queue: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    this.open();
    this.broker.send(queue, message, options);
  }

  consume(queue: string, options: { readonly prefetch: number }): Consumer {
    this.open();
    const consumer = this.broker.consume(queue, options.prefetch, this);
    this.consumers.add(consumer);
    return consumer;
  }

  async cancelScheduled(scheduleId: string): Promise<boolean> {
    this.open();
    return this.broker.cancelScheduled(scheduleId);
  }

  async queues(): Promise<QueueInfo[]> {
    const out: QueueInfo[] = [];
    for (const queue of this.broker.allQueues()) {
      let inFlight = 0;
      for (const item of liveItems(queue)) if (item.holder !== undefined) inFlight++;
      out.push({
        name: queue.name,
        depth: queue.size - inFlight,
        inFlight,
        deadLetters: queue.deadLetters.length,
        topics: queue.bindings.map((b) => b.pattern),
        consumers: queue.consumers.length,
        idleSince: queue.consumers.length === 0 ? queue.idleSince : undefined,
      });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async deleteQueue(name: string): Promise<void> {
    this.broker.deleteQueue(name);
  }
}

class MemoryDeadLetters implements DeadLetterStore {
  constructor(private readonly broker: MemoryBroker) {}

  private list_(queue: string): DeadLetter[] {
    return this.broker.queueNamed(queue)?.deadLetters ?? [];
  }

  async list(queue: string, options?: { readonly limit?: number; readonly offset?: number }): Promise<DeadLetter[]> {
    const offset = options?.offset ?? 0;
    const limit = options?.limit ?? Number.POSITIVE_INFINITY;
    return this.list_(queue).slice(offset, offset + limit);
  }

  async count(queue: string): Promise<number> {
    return this.list_(queue).length;
  }

  async get(queue: string, id: string): Promise<DeadLetter | undefined> {
    return this.list_(queue).find((d) => d.message.id === id);
  }

  async replay(queueName: string, ids: readonly string[], headers: Readonly<Record<string, string>>): Promise<number> {
    const queue = this.broker.queueNamed(queueName);
    if (queue === undefined) return 0;
    const wanted = new Set(ids);
    let moved = 0;
    for (let i = 0; i < queue.deadLetters.length; ) {
      const dead = queue.deadLetters[i]!;
      if (wanted.has(dead.message.id)) {
        queue.deadLetters.splice(i, 1);
        this.broker.enqueue(queue, { ...dead.message, headers: { ...headers } });
        moved++;
      } else {
        i++;
      }
    }
    return moved;
  }

  async purge(queueName: string, ids: readonly string[]): Promise<number> {
    const queue = this.broker.queueNamed(queueName);
    if (queue === undefined) return 0;
    const wanted = new Set(ids);
    const before = queue.deadLetters.length;
    const kept = queue.deadLetters.filter((d) => !wanted.has(d.message.id));
    queue.deadLetters.splice(0, queue.deadLetters.length, ...kept);
    return before - kept.length;
  }
}

export type { MemoryConnection, MemoryConsumer, MemoryDelivery };
