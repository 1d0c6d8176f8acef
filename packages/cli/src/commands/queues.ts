/**
 * `missive queues`: every queue with its depth, in-flight and dead-letter counts and bound topics.
 *
 * @example
 * ```sh
 * missive queues --url sqlite://.missive/bus.db --json
 * ```
 * @module
 */
import type { Transport } from '@missive/core';
import type { Output } from '../output.js';

export async function queuesCommand(transport: Transport, out: Output): Promise<void> {
  const queues = await transport.queues();
  out.table(
    queues.map((q) => ({ name: q.name, depth: q.depth, inFlight: q.inFlight, deadLetters: q.deadLetters, topics: q.topics })),
    ['name', 'depth', 'inFlight', 'deadLetters', 'topics'],
  );
}
