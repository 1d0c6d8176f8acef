/**
 * The memory broker's data: a queue, its items, bindings and dead letters, and what the broker's
 * other parts (consumers, deliveries, connections, the dead-letter store) may ask of the broker.
 * Only the broker changes a queue's items; the others go through {@link BrokerOps}.
 * @module
 */
import type { TimerHandle } from '../../clock.js';
import type { Consumer, DeadLetter, EnqueueOptions, QueueSpec, TransportMessage } from '../transport.js';
import type { MemoryCommandOwners } from './memory-command-owners.js';

/** A delivery holding an item: settled by the broker when the item's queue is deleted. */
export interface ItemHolder {
  orphan(): void;
}

/** A consumer of a queue, as the broker drives it. */
export interface QueueConsumer extends Consumer {
  readonly queue: MemoryQueue;
  hasRoom(): boolean;
  push(item: Item): void;
  closeNow(): boolean;
  drop(): void;
}

/** Who owns a temporary queue (a connection): compared by identity only. */
export type QueueOwner = object;

/** What the broker's consumers, deliveries, connections and dead-letter store ask of it. */
export interface BrokerOps {
  readonly commandOwners: MemoryCommandOwners;
  declare(spec: QueueSpec, owner: QueueOwner | undefined): void;
  publish(topic: string, message: TransportMessage, options: EnqueueOptions | undefined): void;
  send(queueName: string, message: TransportMessage, options: EnqueueOptions | undefined): void;
  cancelScheduled(scheduleId: string): boolean;
  consume(queueName: string, prefetch: number, owner: QueueOwner): QueueConsumer;
  removeConsumer(consumer: QueueConsumer): void;
  /** Called when a delivery settles or is released. */
  release(item: Item, queue: MemoryQueue, how: 'remove' | 'return', delayMs?: number): void;
  dropConnection(connection: QueueOwner): void;
  deleteQueue(name: string): void;
  queueNamed(name: string): MemoryQueue | undefined;
  allQueues(): Iterable<MemoryQueue>;
  enqueue(queue: MemoryQueue, message: TransportMessage): void;
}

/** A message in a queue, with its delivery bookkeeping. */
export interface Item {
  message: TransportMessage;
  deliveryCount: number;
  visibleAt: number;
  /** The delivery currently holding the item, if any. */
  holder: ItemHolder | undefined;
  /** Which delay timer may make the item ready again. */
  delayToken: number;
  /** Returned with a delay whose timer has not fired yet: not counted in `ready`. */
  delayed: boolean;
  /** Acked or dead-lettered: its slot in `order` is dead. */
  gone: boolean;
}

/** A topic pattern a queue is bound to. */
export interface Binding {
  readonly pattern: string;
  readonly matches: (topic: string) => boolean;
}

/** A message waiting for its due time. */
export interface Scheduled {
  readonly timer: TimerHandle;
  readonly queue: string;
  readonly message: TransportMessage;
}

/** One queue: its items in order, bindings, consumers and dead letters. */
export class MemoryQueue {
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
  readonly consumers: QueueConsumer[] = [];
  readonly deadLetters: DeadLetter[] = [];
  /** Items neither held nor delayed (some may still wait behind their key); lets an idle queue skip the scan. */
  ready = 0;
  rr = 0;
  pumpQueued = false;
  /** The broker's pump of this queue, made once (see `MemoryBroker.schedulePump`). */
  pumpTask: (() => void) | undefined;
  constructor(
    readonly name: string,
    readonly owner: QueueOwner | undefined,
    /** Since when the queue has had no consumer (see `QueueInfo.idleSince`). */
    public idleSince: number,
  ) {}
}

/** What a dead slot of `order` below `start` holds instead of the removed item. */
export const GONE: Item = {
  message: { id: '', type: '', body: new Uint8Array(0), headers: {} },
  deliveryCount: 0,
  visibleAt: 0,
  holder: undefined,
  delayToken: 0,
  delayed: false,
  gone: true,
};

/** The items of a queue that are not gone, in order. */
export function* liveItems(queue: MemoryQueue): Generator<Item> {
  for (let i = queue.start; i < queue.order.length; i++) if (!queue.order[i]!.gone) yield queue.order[i]!;
}
