/**
 * A lane of an ordered consumer: one channel consuming either the endpoint's main queue or one
 * partition queue it owns, with what that channel's consumer holds un-acked. Closing a lane's
 * channel returns everything it holds to the head of its queue, in the order it was taken.
 *
 * @example
 * ```ts
 * const lane: Lane = { partition: 3, channel, tag: undefined, releasing: false, locked: false, held: new Set() };
 * ```
 * @module
 */
import type * as amqp from 'amqplib';
import type { RabbitDelivery } from './rabbitmq-delivery.js';

/** A consumer on one channel: the main queue or one owned partition. */
export interface Lane {
  /** The partition, or undefined for the main queue. */
  readonly partition: number | undefined;
  readonly channel: amqp.Channel;
  tag: string | undefined;
  /** Letting go: nothing more handed out; waiting for its running handlers before closing. */
  releasing: boolean;
  /** This connection holds the partition's lock (and must delete it when it lets go). */
  locked: boolean;
  /** Every delivery of this channel the broker still holds un-acked (running, waiting, parked, held for a retry). */
  readonly held: Set<RabbitDelivery>;
}
