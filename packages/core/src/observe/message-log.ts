/**
 * The fields every log line about a message carries: its type, id, attempt, correlation id and
 * trace id, so a line found in one service's log leads to the whole transaction.
 *
 * @example
 * ```ts
 * logger.warn({ ...messageLogFields(state), error }, 'handler failed');
 * // WARN handler failed endpoint=billing type=shop.order-placed messageId=... attempt=2 correlationId=... traceId=...
 * ```
 * @module
 */
import type { ConsumeState } from '../consume/consume-state.js';
import type { Envelope } from '../message/envelope.js';
import type { LogFields } from '../logger.js';
import { traceIdOf } from './trace-context.js';

/** Log fields of a delivery being handled (what is known before decoding: id and type). */
export function messageLogFields(state: ConsumeState): LogFields {
  const envelope = state.envelope as Envelope | undefined;
  if (envelope === undefined)
    return { type: state.received.message.type, messageId: state.received.message.id, attempt: state.totalAttempts };
  return {
    type: envelope.type,
    messageId: envelope.id,
    attempt: state.attempt,
    correlationId: envelope.correlationid,
    traceId: traceIdOf(envelope.traceparent),
  };
}
