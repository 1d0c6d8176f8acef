/**
 * Partitions of an ordered endpoint on RabbitMQ. A message with a partition key goes to one of
 * {@link PARTITIONS} partition queues of every ordered endpoint that receives it, chosen by a stable
 * hash of the key, so one key's messages share one FIFO queue. Each partition has one owner among
 * the endpoint's instances (the connection holding its lock queue), and the owner hands out one
 * message per key at a time.
 *
 * A message's partition is part of its routing key (its *slot*, see `topology.ts`): partition
 * queue `p` binds slot `p`, the ordered endpoint's main queue binds slot `none` (messages without a
 * key), and every other queue binds `*`, so it receives keyed messages like any other.
 *
 * The partition count is a constant, not an option: every publisher and consumer must agree on it,
 * and a mismatch would route messages to queues nobody binds.
 *
 * @example
 * ```ts
 * partitionOf('order-42');                    // 0 … 15, the same in every process
 * partitionQueue('billing', partitionOf('order-42')); // 'billing.partition-<p>'
 * ```
 * @module
 */

/** Partition queues per ordered endpoint. */
export const PARTITIONS = 16;

/** The direct exchange ordered consumers use to tell each other they joined or let a partition go. */
export const CONTROL_EXCHANGE = 'missive.control';

/** The partition of a key: FNV-1a over its UTF-8 bytes, modulo {@link PARTITIONS}. */
export function partitionOf(key: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % PARTITIONS;
}

/** The queue that holds partition `index` of `queue`. */
export function partitionQueue(queue: string, index: number): string {
  return `${queue}.partition-${index}`;
}

/** The lock of partition `index` of `queue`: an exclusive queue, held by the owner's connection. */
export function partitionLock(queue: string, index: number): string {
  return `${partitionQueue(queue, index)}.owner`;
}
