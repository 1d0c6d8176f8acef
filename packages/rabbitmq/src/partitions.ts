/**
 * Partitions of an ordered endpoint on RabbitMQ. A message with a partition key goes to one of
 * {@link PARTITIONS} partition queues of every ordered endpoint that receives it, chosen by a stable
 * hash of the key, so one key's messages share one FIFO queue. Each partition has one owner among
 * the endpoint's instances (the connection holding its lock queue), and the owner hands out one
 * message per key at a time.
 *
 * Keyed messages are published to the `missive.keyed` topic exchange with routing keys that name
 * the partition: `<p>.t.<topic>` for a published topic and `<p>.q.<queue>` for a message sent to a
 * queue. A partition queue `i` binds `i.t.<pattern>` and `i.q.<endpoint>`; every other queue binds
 * `*.t.<pattern>` and `*.q.<name>` and so receives keyed messages like any other.
 *
 * The partition count is a constant, not an option: every publisher and consumer must agree on it,
 * and a mismatch would route messages to queues nobody binds.
 *
 * @example
 * ```ts
 * partitionOf('order-42');                    // 0 … 15, the same in every process
 * keyedRoutingKey(partitionOf('order-42'), 't', 'shop.order-placed');
 * ```
 * @module
 */

/** Partition queues per ordered endpoint. */
export const PARTITIONS = 16;

/** The topic exchange keyed messages are published to. */
export const KEYED_EXCHANGE = 'missive.keyed';

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

/** The routing key of a keyed message on {@link KEYED_EXCHANGE}: to a topic (`t`) or a queue (`q`). */
export function keyedRoutingKey(partition: number | '*', kind: 't' | 'q', name: string): string {
  return `${partition}.${kind}.${name}`;
}
