/**
 * AMQP 0-9-1 reply codes: how the broker says why it closed a channel or a connection. amqplib puts
 * the code on the error it reports (`error.code`, with `classId` and `methodId` of the method that
 * failed), both for the `error` event of a closed channel and for the rejection of the operation
 * that closed it. The transport decides by these codes, never by the wording of the reply text.
 *
 * @example
 * ```ts
 * if (replyCode(error) === ReplyCode.PreconditionFailed) throw new ConfigurationError('…', { cause: error });
 * ```
 * @module
 */

/** The reply codes the transport tells apart. */
export const ReplyCode = {
  /** The server is closing the connection (an operator, a node shutting down). */
  ConnectionForced: 320,
  /** The user may not do this (permissions). */
  AccessRefused: 403,
  /** No such queue or exchange. */
  NotFound: 404,
  /** Another connection holds the queue exclusively. */
  ResourceLocked: 405,
  /** It exists with other settings (a declaration that does not match), or the operation's precondition failed. */
  PreconditionFailed: 406,
} as const;

/** One of the values of {@link ReplyCode}. */
export type ReplyCode = (typeof ReplyCode)[keyof typeof ReplyCode];

/** The AMQP reply code amqplib attached to `error`, or undefined (not a broker refusal: a socket error, a timeout). */
export function replyCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}
