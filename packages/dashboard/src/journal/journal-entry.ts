/**
 * One row of the message journal: what one endpoint did with one delivery. Built from core's
 * `handled` event, with the payload kept only when asked for and its configured fields redacted.
 *
 * @example
 * ```ts
 * const entry = entryOf(event, { instance: bus.instanceId, at: Date.now(), payload: { redact: ['card'] }, keys: defaultKeyFields });
 * ```
 * @module
 */
import { traceIdOf, type HandledEvent } from '@missive/core';
import { errorSummary, keysOf, rowOf, type JournalEntry } from './journal-row.js';
import { redact } from './redact.js';

export type { JournalEntry } from './journal-row.js';

/** What {@link entryOf} needs besides the event. */
export interface EntryOptions {
  readonly instance: string;
  readonly at: number;
  /** Keep payloads, with these fields (at any depth) replaced by "[redacted]". Undefined: no payloads. */
  readonly payload: { readonly redact: readonly string[] } | undefined;
  /** Payload fields whose values are business keys; the payload's top-level fields are searched. */
  readonly keys: (field: string) => boolean;
}

const CHAR_I = 73;
const CHAR_D = 100;

/**
 * By default, a business key is a top-level field named `id` or ending in `Id` (orderId, customerId).
 * Two character codes rather than `endsWith`: V8 inlines them, while `endsWith` is a builtin call
 * for every field of every payload journaled.
 */
export const defaultKeyFields = (field: string): boolean => {
  const n = field.length;
  return field === 'id' || (n >= 2 && field.charCodeAt(n - 1) === CHAR_D && field.charCodeAt(n - 2) === CHAR_I);
};

/** The journal row of a `handled` event. The journal itself builds the same rows from a packed batch (`journal-batch.ts`). */
export function entryOf(event: HandledEvent, options: EntryOptions): JournalEntry {
  const envelope = event.envelope;
  return rowOf({
    at: options.at,
    messageId: event.messageId,
    type: event.type,
    service: event.service,
    endpoint: event.endpoint,
    instance: options.instance,
    decoded: envelope !== undefined,
    time: envelope?.time,
    kind: envelope?.messagekind,
    source: envelope?.source,
    correlationId: envelope?.correlationid,
    causationId: envelope?.causationid,
    conversationId: envelope?.conversationid,
    traceId: traceIdOf(envelope?.traceparent),
    attempt: event.attempt,
    outcome: event.outcome,
    durationMs: event.durationMs,
    reason: event.reason,
    error: errorSummary(event.error),
    replayed: event.replayed,
    payload:
      options.payload === undefined || envelope === undefined ? undefined : JSON.stringify(redact(envelope.data, options.payload.redact)),
    keys: envelope === undefined ? [] : (keysOf(envelope.data, options.keys) as string[]),
  });
}
