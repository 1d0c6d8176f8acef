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
import { systemClock, type Clock } from '../../clock.js';
import { UnroutableError } from '../../errors.js';
import { topicMatcher } from '../topic-pattern.js';
import { MemoryCommandOwners } from './memory-command-owners.js';
import type { EnqueueOptions, QueueSpec, Transport, TransportMessage } from '../transport.js';
import { MemoryConnection } from './memory-connection.js';
import { MemoryConsumer } from './memory-consumer.js';
import {
  GONE,
  liveItems,
  MemoryQueue,
  type BrokerOps,
  type Item,
  type QueueConsumer,
  type QueueOwner,
  type Scheduled,
} from './memory-queue.js';

const RESOLVED: Promise<void> = Promise.resolve();

/** Whether one of the queue's bindings matches `topic` (a loop: no closure per message). */
function boundTo(queue: MemoryQueue, topic: string): boolean {
  for (const binding of queue.bindings) if (binding.matches(topic)) return true;
  return false;
}

/** The broker: queues, bindings, timers. */
export class MemoryBroker implements BrokerOps {
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
      if (queue.ready > 0 && queue.consumers.some((c) => c.hasRoom()) && this.nextDeliverable(queue, this.clock.now()) !== undefined)
        return false;
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
  declare(spec: QueueSpec, owner: QueueOwner | undefined): void {
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
      if (boundTo(queue, topic)) {
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
  consume(queueName: string, prefetch: number, owner: QueueOwner): MemoryConsumer {
    const queue = this.queues.get(queueName);
    if (queue === undefined) throw new UnroutableError(queueName, 'no such queue; declare it before consuming');
    const consumer = new MemoryConsumer(this, queue, Math.max(1, Math.floor(prefetch)), owner);
    queue.consumers.push(consumer);
    this.schedulePump(queue);
    return consumer;
  }

  /** @internal */
  removeConsumer(consumer: QueueConsumer): void {
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
            // The timer is the authority that the delay is over: node's timers run on the loop's
            // cached clock and can fire a millisecond or two before `clock.now()` reaches
            // `visibleAt`, and a pump that then found the item not yet due left it waiting forever.
            item.visibleAt = Math.min(item.visibleAt, this.clock.now());
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
  dropConnection(connection: QueueOwner): void {
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

  /**
   * Pumps the queue in a microtask, once for everything that happened before it runs. A reaction
   * on a settled promise rather than `queueMicrotask`, which in Node makes an async resource and a
   * bound function each time (about a tenth of a message's cost here).
   */
  private schedulePump(queue: MemoryQueue): void {
    if (queue.pumpQueued) return;
    queue.pumpQueued = true;
    void RESOLVED.then(
      (queue.pumpTask ??= () => {
        queue.pumpQueued = false;
        this.pump(queue);
      }),
    );
  }

  /** Hands deliverable items to consumers with room, round-robin. */
  private pump(queue: MemoryQueue): void {
    if (this.queues.get(queue.name) !== queue) return;
    // One reading of the clock for the whole pump: an item whose delay ends meanwhile has its timer.
    const now = this.clock.now();
    while (queue.ready > 0) {
      const consumer = this.nextConsumerWithRoom(queue);
      if (consumer === undefined) return;
      const item = this.nextDeliverable(queue, now);
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

  private nextConsumerWithRoom(queue: MemoryQueue): QueueConsumer | undefined {
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
  private nextDeliverable(queue: MemoryQueue, now: number): Item | undefined {
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
