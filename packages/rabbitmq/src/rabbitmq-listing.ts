/**
 * `queues()` on RabbitMQ: Missive's queues with their depths, from those this transport declared
 * and those in the registry that still exist. `depth` counts the main queue and, for an ordered
 * endpoint, its partitions; `inFlight` is 0, because AMQP does not report un-acked counts; a command
 * type another queue took over is left out of the queue's topics.
 *
 * @example
 * ```ts
 * const queues = await listQueues(declarations, registry);
 * ```
 * @module
 */
import type * as amqp from 'amqplib';
import type { QueueInfo } from '@missive/core';
import type { QueueSpec } from '@missive/core/transport';
import { PARTITIONS, partitionQueue } from './partitions.js';
import type { RegisteredQueue } from './queue-registry.js';
import type { RabbitRegistry } from './rabbitmq-registry.js';
import { DEAD_LETTER_SUFFIX } from './topology.js';

/** What listing needs of the declarations. */
export interface ListedDeclarations {
  readonly declared: ReadonlyMap<string, QueueSpec>;
  checkQueues(names: readonly string[]): Promise<Map<string, amqp.Replies.AssertQueue>>;
}

/** The queues, sorted by name. */
export async function listQueues(declarations: ListedDeclarations, registry: RabbitRegistry): Promise<QueueInfo[]> {
  const known = new Map<string, RegisteredQueue>();
  if (registry.available) for (const [name, record] of (await registry.catchUp()).queues) known.set(name, record);
  for (const spec of declarations.declared.values()) {
    if (spec.temporary !== true) known.set(spec.name, { name: spec.name, topics: spec.topics, ordered: spec.ordered === true });
  }
  // Main queues first: a queue deleted behind Missive's back costs one failed check, not eighteen.
  const mains = await declarations.checkQueues([...known.keys()]);
  const live = [...known.values()].filter((q) => mains.has(q.name));
  const counts = await declarations.checkQueues(
    live.flatMap((q) => [
      q.name + DEAD_LETTER_SUFFIX,
      ...(q.ordered ? Array.from({ length: PARTITIONS }, (_, i) => partitionQueue(q.name, i)) : []),
    ]),
  );
  const out: QueueInfo[] = [];
  for (const queue of live) {
    const main = mains.get(queue.name)!;
    let depth = main.messageCount;
    if (queue.ordered) for (let i = 0; i < PARTITIONS; i++) depth += counts.get(partitionQueue(queue.name, i))?.messageCount ?? 0;
    // A command type another queue took over is no longer bound here, though the queue's old record names it.
    const topics = queue.topics.filter((t) => !registry.view.claims.lostBy(queue.name, t));
    out.push({
      name: queue.name,
      depth,
      inFlight: 0,
      deadLetters: counts.get(queue.name + DEAD_LETTER_SUFFIX)?.messageCount ?? 0,
      topics,
      consumers: main.consumerCount,
    });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
