/**
 * Header names for a transport that keeps a message's fields in broker headers (AMQP, NATS,
 * Redis stream fields): one spelling on every broker, so tools and replays read them alike. The
 * `x-` prefix marks them as the transport's own: they are not handed to the bus as
 * {@link TransportMessage.headers}. The bus's own header names are {@link Header}.
 *
 * @example
 * ```ts
 * const headers = { ...message.headers, [TransportHeader.PartitionKey]: message.partitionKey };
 * ```
 * @module
 */

/** Names of the headers a transport writes for itself. */
export const TransportHeader = {
  /** The message's {@link TransportMessage.partitionKey}. */
  PartitionKey: 'x-missive-partition-key',
  /** On a dead letter: its {@link DeadLetterFailure} as JSON. */
  Failure: 'x-missive-failure',
  /** On a dead letter: the queue the message failed in. */
  Queue: 'x-missive-queue',
} as const;

/** One of the values of {@link TransportHeader}. */
export type TransportHeader = (typeof TransportHeader)[keyof typeof TransportHeader];

/** Whether a header name is the transport's own (`x-` prefix), not one to hand to the bus. */
export function isTransportHeader(name: string): boolean {
  return name.startsWith('x-');
}
