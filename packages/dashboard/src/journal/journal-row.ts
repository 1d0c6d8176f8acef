/**
 * A journal row, and building one from the fields of a `handled` event: shared by `entryOf` (on
 * the bus thread) and the SQLite worker's unpacking of a batch (`journal-batch.ts`). This module and
 * what it imports load no runtime code of `@missive/core`, so the worker thread stays small.
 *
 * @example
 * ```ts
 * const row = rowOf({ ...fields, at: Date.now() });
 * ```
 * @module
 */
import type { HandledOutcome } from '@missive/core';

const SOURCE_PREFIX = '/missive/';
const MAX_ERROR = 500;
const MAX_KEYS = 8;

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

/**
 * Pushes onto `into` the business keys of `data`: the string or number values of its top-level
 * fields that `isKey` names, each once, non-empty, at most 200 characters, at most 8.
 */
export function keysOf(data: unknown, isKey: (field: string) => boolean, into: (string | undefined)[] = []): (string | undefined)[] {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return into;
  const start = into.length;
  const fields = data as Record<string, unknown>;
  // for…in, not Object.entries: no array per message (payloads are plain objects decoded from JSON).
  for (const field in fields) {
    const value = fields[field];
    if ((typeof value === 'string' || typeof value === 'number') && isKey(field)) {
      const text = typeof value === 'string' ? value : String(value);
      if (text.length > 0 && text.length <= 200 && into.indexOf(text, start) < 0) into.push(text);
      if (into.length - start >= MAX_KEYS) break;
    }
  }
  return into;
}

/**
 * The trace id of a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`), or undefined when absent,
 * malformed or all zeros. As core's `traceIdOf`, here so the worker thread loads no code of core.
 */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  if (traceparent === undefined || traceparent.length !== 55) return undefined;
  const id = traceparent.slice(3, 35);
  return /^[0-9a-f]{32}$/.test(id) && id !== '0'.repeat(32) ? id : undefined;
}

/** `Name: message` of a failure, at most 500 characters. */
export function errorSummary(error: Error | undefined): string | undefined {
  return error === undefined ? undefined : `${error.name}: ${error.message}`.slice(0, MAX_ERROR);
}

/** What a row is built from: the event's fields as read, before parsing the time and the source. */
export interface RowFields {
  readonly at: number;
  readonly messageId: string;
  readonly type: string;
  readonly service: string;
  readonly endpoint: string;
  readonly instance: string;
  /** Whether the message was decoded (it has an envelope). */
  readonly decoded: boolean;
  readonly time: string | undefined;
  readonly kind: string | undefined;
  readonly source: string | undefined;
  readonly correlationId: string | undefined;
  readonly causationId: string | undefined;
  readonly conversationId: string | undefined;
  readonly traceId: string | undefined;
  readonly attempt: number;
  readonly outcome: HandledOutcome;
  readonly durationMs: number;
  readonly reason: string | undefined;
  readonly error: string | undefined;
  readonly replayed: boolean;
  readonly payload: string | undefined;
  readonly keys: readonly string[];
}

/** The row of `fields`: the time parsed, the source's `/missive/` prefix cut, the duration rounded to µs. */
export function rowOf(fields: RowFields): JournalEntry {
  const source = fields.source;
  const sentAt = fields.decoded && fields.time !== undefined ? Date.parse(fields.time) : Number.NaN;
  return {
    seq: 0,
    at: fields.at,
    sentAt: Number.isNaN(sentAt) ? undefined : sentAt,
    messageId: fields.messageId,
    type: fields.type,
    kind: fields.kind,
    source: source === undefined ? undefined : source.startsWith(SOURCE_PREFIX) ? source.slice(SOURCE_PREFIX.length) : source,
    service: fields.service,
    endpoint: fields.endpoint,
    instance: fields.instance,
    correlationId: fields.correlationId,
    causationId: fields.causationId,
    conversationId: fields.conversationId,
    traceId: fields.traceId,
    attempt: fields.attempt,
    outcome: fields.outcome,
    durationMs: Math.round(fields.durationMs * 1000) / 1000,
    reason: fields.reason,
    error: fields.error,
    replayed: fields.replayed,
    payload: fields.payload,
    keys: fields.keys,
  };
}
