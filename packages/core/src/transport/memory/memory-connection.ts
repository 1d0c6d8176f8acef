/**
 * One connection to a memory broker: the `Transport` a bus uses (see `MemoryBroker.transport`).
 * @module
 */
import { BusStateError, ErrorCode } from '../../errors.js';
import type { CommandOwnership } from '../command-owners.js';
import type {
  Consumer,
  DeadLetterStore,
  EnqueueOptions,
  QueueInfo,
  QueueSpec,
  Transport,
  TransportCapabilities,
  TransportMessage,
} from '../transport.js';
import { MemoryDeadLetters } from './memory-dead-letters.js';
import { liveItems, type BrokerOps, type QueueConsumer } from './memory-queue.js';

/** One connection to a memory broker: the `Transport` a bus uses. */
export class MemoryConnection implements Transport {
  readonly kind = 'memory';
  readonly capabilities: TransportCapabilities = Object.freeze({
    delayedDelivery: true,
    cancelScheduled: true,
    orderingKeys: true,
    multiProcess: false,
    inProcess: true,
  });
  readonly deadLetters: DeadLetterStore;
  readonly commandOwners: CommandOwnership;
  private readonly consumers = new Set<QueueConsumer>();
  private state: 'new' | 'open' | 'closed' = 'new';

  constructor(private readonly broker: BrokerOps) {
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
      throw new BusStateError(
        this.state === 'new' ? ErrorCode.NotStarted : ErrorCode.Closed,
        `memory transport is ${this.state === 'new' ? 'not connected' : 'closed'}`,
      );
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
