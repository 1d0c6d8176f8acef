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
import { traceIdOf, type HandledEvent, type HandledOutcome } from '@missive/core';
import { redact } from './redact.js';

/** A journal row. Times are epoch ms. */
export interface JournalEntry {
  /** Assigned by the store, increasing; 0 before it is stored. */
  readonly seq: number;
  /** When the delivery was settled. */
  readonly at: number;
  /** When the message was created (its envelope's time), or undefined when it could not be decoded. */
  readonly sentAt: number | undefined;
  readonly messageId: string;
  readonly type: string;
  /** event, command, query or reply. */
  readonly kind: string | undefined;
  /** The service that sent the message. */
  readonly source: string | undefined;
  /** The service and endpoint that handled it, and the bus instance. */
  readonly service: string;
  readonly endpoint: string;
  readonly instance: string;
  readonly correlationId: string | undefined;
  readonly causationId: string | undefined;
  readonly conversationId: string | undefined;
  readonly traceId: string | undefined;
  readonly attempt: number;
  readonly outcome: HandledOutcome;
  readonly durationMs: number;
  /** The dead-letter or drop reason. */
  readonly reason: string | undefined;
  /** `Name: message` of the failure, at most 500 characters. */
  readonly error: string | undefined;
  readonly replayed: boolean;
  /** The payload as JSON (redacted), when the journal keeps payloads. */
  readonly payload: string | undefined;
  /** Business keys found in the payload (values of the key fields), searchable. */
  readonly keys: readonly string[];
}

/** What {@link entryOf} needs besides the event. */
export interface EntryOptions {
  readonly instance: string;
  readonly at: number;
  /** Keep payloads, with these fields (at any depth) replaced by "[redacted]". Undefined: no payloads. */
  readonly payload: { readonly redact: readonly string[] } | undefined;
  /** Payload fields whose values are business keys; a field named in it is searched at the top level and one level down. */
  readonly keys: (field: string) => boolean;
}

/** By default, a business key is a top-level field named `id` or ending in `Id` (orderId, customerId). */
export const defaultKeyFields = (field: string): boolean => field === 'id' || field.endsWith('Id');

const SOURCE_PREFIX = '/missive/';
const MAX_ERROR = 500;
const MAX_KEYS = 8;

function keysOf(data: unknown, isKey: (field: string) => boolean): string[] {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return [];
  const keys: string[] = [];
  for (const [field, value] of Object.entries(data)) {
    if ((typeof value === 'string' || typeof value === 'number') && isKey(field)) {
      const text = String(value);
      if (text.length > 0 && text.length <= 200 && !keys.includes(text)) keys.push(text);
      if (keys.length >= MAX_KEYS) break;
    }
  }
  return keys;
}

/** The journal row of a `handled` event. */
export function entryOf(event: HandledEvent, options: EntryOptions): JournalEntry {
  const envelope = event.envelope;
  const source = envelope?.source;
  const error = event.error === undefined ? undefined : `${event.error.name}: ${event.error.message}`.slice(0, MAX_ERROR);
  const sentAt = envelope === undefined ? undefined : Date.parse(envelope.time);
  return {
    seq: 0,
    at: options.at,
    sentAt: Number.isNaN(sentAt) ? undefined : sentAt,
    messageId: event.messageId,
    type: event.type,
    kind: envelope?.messagekind,
    source: source === undefined ? undefined : source.startsWith(SOURCE_PREFIX) ? source.slice(SOURCE_PREFIX.length) : source,
    service: event.service,
    endpoint: event.endpoint,
    instance: options.instance,
    correlationId: envelope?.correlationid,
    causationId: envelope?.causationid,
    conversationId: envelope?.conversationid,
    traceId: traceIdOf(envelope?.traceparent),
    attempt: event.attempt,
    outcome: event.outcome,
    durationMs: Math.round(event.durationMs * 1000) / 1000,
    reason: event.reason,
    error,
    replayed: event.replayed,
    payload:
      options.payload === undefined || envelope === undefined ? undefined : JSON.stringify(redact(envelope.data, options.payload.redact)),
    keys: envelope === undefined ? [] : keysOf(envelope.data, options.keys),
  };
}
