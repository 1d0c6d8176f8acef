/**
 * The columns of a journal row as both stores write and read them (snake_case in SQL, the
 * {@link JournalEntry} shape in TypeScript), and the conversation query's limits.
 *
 * @example
 * ```ts
 * const entries = rows.map(entryFromRow);
 * ```
 * @module
 */
import type { HandledOutcome } from '@missive/core';
import type { JournalEntry } from './journal-entry.js';

/** The columns after `seq`, in insert order. */
export const COLUMNS = [
  'at',
  'sent_at',
  'message_id',
  'type',
  'kind',
  'source',
  'service',
  'endpoint',
  'instance',
  'correlation_id',
  'causation_id',
  'conversation_id',
  'trace_id',
  'attempt',
  'outcome',
  'duration_ms',
  'reason',
  'error',
  'replayed',
  'payload',
] as const;

/** At most this many business transactions in one conversation answer. */
export const MAX_TRANSACTIONS = 20;
/** Default row limit of a conversation answer. */
export const CONVERSATION_LIMIT = 2000;

/** The values of `entry` in {@link COLUMNS} order. */
export function valuesOf(entry: JournalEntry): (string | number | null)[] {
  return [
    entry.at,
    entry.sentAt ?? null,
    entry.messageId,
    entry.type,
    entry.kind ?? null,
    entry.source ?? null,
    entry.service,
    entry.endpoint,
    entry.instance,
    entry.correlationId ?? null,
    entry.causationId ?? null,
    entry.conversationId ?? null,
    entry.traceId ?? null,
    entry.attempt,
    entry.outcome,
    entry.durationMs,
    entry.reason ?? null,
    entry.error ?? null,
    entry.replayed ? 1 : 0,
    entry.payload ?? null,
  ];
}

/** A row as a driver returns it. */
export type Row = Record<string, unknown>;

const text = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : value === null || value === undefined ? undefined : JSON.stringify(value);

/** The entry of a stored row (keys are not read back). */
export function entryFromRow(row: Row): JournalEntry {
  return {
    seq: Number(row.seq),
    at: Number(row.at),
    sentAt: row.sent_at === null ? undefined : Number(row.sent_at),
    messageId: String(row.message_id),
    type: String(row.type),
    kind: text(row.kind),
    source: text(row.source),
    service: String(row.service),
    endpoint: String(row.endpoint),
    instance: String(row.instance),
    correlationId: text(row.correlation_id),
    causationId: text(row.causation_id),
    conversationId: text(row.conversation_id),
    traceId: text(row.trace_id),
    attempt: Number(row.attempt),
    outcome: String(row.outcome) as HandledOutcome,
    durationMs: Number(row.duration_ms),
    reason: text(row.reason),
    error: text(row.error),
    replayed: Number(row.replayed) === 1 || row.replayed === true,
    payload: text(row.payload),
    keys: [],
  };
}
