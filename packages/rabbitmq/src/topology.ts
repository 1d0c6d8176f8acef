/**
 * The RabbitMQ topology: exchange names, routing keys, and the bindings a queue needs.
 *
 * Every message type has its own exchange, named after the type (`shop.order-placed`): a durable
 * topic exchange that publishers and subscribers both declare. A message is published to its type's
 * exchange with the routing key `<slot>.<type>`, where the slot is the partition of its key
 * (`0`–`15`, see `partitions.ts`) or `none` when it has no key. A queue that handles the type binds
 * `*.<type>` on that exchange; an ordered queue binds `none.<type>` and each of its partition queues
 * `<p>.<type>`, so keyed messages land in the partition of their key.
 *
 * Each type's exchange is also bound to `missive.topics` (`#`), where wildcard subscriptions (wire
 * taps such as `shop.#`) bind `*.<pattern>`. RabbitMQ delivers a message once per queue, even when
 * a queue is reached both ways.
 *
 * Delayed messages leave their delay queue through `missive.delay.return`, where the routing key
 * is `t.<slot>.<type>` (published) or `q.<slot>.<queue>` (sent to a queue); queues bind there the
 * same way. Messages sent to a queue go through the default exchange, or, with a partition key,
 * through `missive.keyed` with `<slot>.<queue>`, so an ordered queue's partitions get them.
 *
 * @example
 * ```ts
 * bindingsOf({ name: 'billing', topics: ['shop.order-placed', 'shop.#'] });
 * // [{ queue: 'billing', exchange: 'shop.order-placed', key: '*.shop.order-placed' }, …]
 * ```
 * @module
 */
import { ConfigurationError } from '@missive/core';
import { isExactTopic } from '@missive/core/transport';
import { CONTROL_EXCHANGE, PARTITIONS, partitionOf, partitionQueue } from './partitions.js';

/** Where wildcard subscriptions bind; every type's exchange feeds it. */
export const TOPICS_EXCHANGE = 'missive.topics';
/** Routes a delayed message to the delay queue of its bucket (a headers exchange). */
export const DELAY_EXCHANGE = 'missive.delay';
/** Where delay queues dead-letter their expired messages, to route them home. */
export const RETURN_EXCHANGE = 'missive.delay.return';
/** Messages sent to a queue with a partition key. */
export const KEYED_EXCHANGE = 'missive.keyed';
/** An endpoint's dead-letter queue is its name with this suffix. */
export const DEAD_LETTER_SUFFIX = '.dead-letters';
/** The longest delay (48.6 days): RabbitMQ's TTLs are 32-bit milliseconds, and a bucket rounds up. */
export const MAX_DELAY_MS = 4_200_000_000;

/** The queue that holds one cancellable scheduled message. */
export function scheduledQueue(scheduleId: string): string {
  return `missive.scheduled.${scheduleId}`;
}

/** The smallest bucket ≥ `ms` with two significant digits: at most ~10 % late, a bounded set of delay queues (`missive.delay.<bucket>`). */
export function delayBucket(ms: number): number {
  if (ms <= 10) return 10;
  const magnitude = 10 ** (Math.floor(Math.log10(ms)) - 1);
  return Math.ceil(ms / magnitude) * magnitude;
}

/** A message's place in routing keys: the partition of its key, or `none`. */
export type Slot = number | 'none';

/** A binding's slot: one slot, or `*` for any. */
export type SlotPattern = Slot | '*';

/** The slot of a message with partition key `key`. */
export function slotOf(key: string | undefined): Slot {
  return key === undefined ? 'none' : partitionOf(key);
}

/** The routing key on a type's exchange (and on {@link TOPICS_EXCHANGE}). */
export function typeKey(slot: SlotPattern, type: string): string {
  return `${slot}.${type}`;
}

/** The routing key on {@link RETURN_EXCHANGE}: back to the subscribers of a type (`t`) or to a queue (`q`). */
export function returnKey(kind: 't' | 'q', slot: SlotPattern, name: string): string {
  return `${kind}.${slot}.${name}`;
}

/** The routing key on {@link KEYED_EXCHANGE}. */
export function sendKey(slot: SlotPattern, queue: string): string {
  return `${slot}.${queue}`;
}

/**
 * The exchanges Missive declares for itself. No message type may take one of these names; any
 * other name is free, `missive.` names included (Missive's own message types, such as the fault
 * events `missive.fault.<type>`, use that prefix).
 */
export const MISSIVE_EXCHANGES: ReadonlySet<string> = new Set([
  TOPICS_EXCHANGE,
  DELAY_EXCHANGE,
  RETURN_EXCHANGE,
  KEYED_EXCHANGE,
  CONTROL_EXCHANGE,
]);

/**
 * Refuses a type whose exchange name RabbitMQ reserves (`amq.`: the broker refuses to declare it)
 * or one of {@link MISSIVE_EXCHANGES}.
 *
 * @throws ConfigurationError naming the type.
 */
export function checkTypeExchange(type: string): void {
  if (type.startsWith('amq.')) {
    throw new ConfigurationError(
      `message type "${type}" cannot be used on RabbitMQ: exchange names starting with "amq." are reserved; rename the type`,
    );
  }
  if (MISSIVE_EXCHANGES.has(type)) {
    throw new ConfigurationError(
      `message type "${type}" cannot be used on RabbitMQ: the name of Missive's own exchange is reserved; rename the type`,
    );
  }
}

/** Whether `exchange` is a message type's exchange (not the default exchange, not one of Missive's). */
export function isTypeExchange(exchange: string): boolean {
  return exchange !== '' && !MISSIVE_EXCHANGES.has(exchange) && !exchange.startsWith('amq.');
}

/** One queue binding. */
export interface Binding {
  readonly queue: string;
  readonly exchange: string;
  readonly key: string;
}

/** What {@link bindingsOf} needs of a queue. */
export interface BoundQueue {
  readonly name: string;
  readonly topics: readonly string[];
  readonly ordered?: boolean;
}

/** The types whose exchanges a queue binds to (its exact topics). */
export function typeExchangesOf(spec: BoundQueue): string[] {
  return spec.topics.filter(isExactTopic);
}

/**
 * Every binding of a queue (and, ordered, of its partition queues): its types and patterns, its
 * delayed messages coming home, and its keyed sends.
 */
export function bindingsOf(spec: BoundQueue): Binding[] {
  const targets: { queue: string; slot: SlotPattern }[] =
    spec.ordered === true
      ? [
          { queue: spec.name, slot: 'none' },
          ...Array.from({ length: PARTITIONS }, (_, p) => ({ queue: partitionQueue(spec.name, p), slot: p })),
        ]
      : [{ queue: spec.name, slot: '*' }];
  const out: Binding[] = [];
  for (const { queue, slot } of targets) {
    for (const topic of spec.topics) {
      out.push({ queue, exchange: isExactTopic(topic) ? topic : TOPICS_EXCHANGE, key: typeKey(slot, topic) });
      out.push({ queue, exchange: RETURN_EXCHANGE, key: returnKey('t', slot, topic) });
    }
    out.push({ queue, exchange: RETURN_EXCHANGE, key: returnKey('q', slot, spec.name) });
    // Unkeyed sends come through the default exchange, to the queue itself.
    if (slot !== 'none') out.push({ queue, exchange: KEYED_EXCHANGE, key: sendKey(slot, spec.name) });
  }
  return out;
}
