/**
 * Names of the transport headers the bus reads and writes. Headers hold delivery metadata that
 * changes between deliveries of one message; everything else lives in the immutable envelope.
 *
 * @example
 * ```ts
 * const attempts = Number(delivery.message.headers[Header.Attempts] ?? 0);
 * ```
 * @module
 */
export const Header = {
  /** Handler invocations made for the message before this delivery (absent = 0). */
  Attempts: 'missive-attempts',
  /** Delayed redeliveries made so far (absent = 0). */
  Redeliveries: 'missive-redeliveries',
  /** Set when a dead letter was replayed: the replay time as an ISO string. */
  ReplayedAt: 'missive-replayed-at',
  /**
   * The body's media type, when the broker carries one that differs from the codec's (AMQP
   * `content-type`). The bus dead-letters a message whose type its codec does not read.
   */
  ContentType: 'content-type',
  /** The body's encoding (AMQP `content-encoding`). Anything but `identity` is dead-lettered: codecs read plain bodies. */
  ContentEncoding: 'content-encoding',
} as const;

/** One of the values of {@link Header}. */
export type Header = (typeof Header)[keyof typeof Header];
