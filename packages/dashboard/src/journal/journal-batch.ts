/**
 * Journal rows packed for a hand-over to another thread. The journal keeps only references to
 * `handled` events on the handler's path; at flush time `packBatch` (`journal-pack.ts`) reads the fields a row
 * needs into three flat arrays — the numbers in one `Float64Array`, the strings that differ per
 * message (ids, time, trace context, error, payload, business keys) in one array, and the strings
 * that repeat (types, services, endpoints, sources, outcomes, reasons) once each in a dictionary —
 * so the hand-over to the SQLite worker is one structured clone of three arrays instead of one
 * clone of an object per row. The receiver builds the rows with {@link unpackBatch}: parsing the
 * time, cutting the source prefix and allocating the row objects happen there, off the bus thread.
 * This module loads no runtime code of `@missive/core` (the worker imports it).
 *
 * `unpackBatch(packBatch(events, times, options))` equals `events.map((e, i) => entryOf(e, { ...options, at: times[i] }))`.
 *
 * @example
 * ```ts
 * const batch = packBatch(events, times, 0, events.length, options); // on the bus thread
 * const rows = unpackBatch(batch); // on the worker
 * ```
 * @module
 */
import type { HandledOutcome } from '@missive/core';
import { rowOf, type JournalEntry } from './journal-row.js';

/** Rows packed by {@link packBatch}. Plain data: survives a structured clone. */
export interface PackedBatch {
  readonly count: number;
  readonly instance: string;
  /** {@link NUMBERS} per row. */
  readonly numbers: Float64Array;
  /** {@link STRINGS} per row, then the row's business keys (as many as its key count). */
  readonly strings: readonly (string | undefined)[];
  /** The repeated strings, indexed from `numbers`; -1 there is undefined. */
  readonly dictionary: readonly string[];
}

// The layout, which journal-pack.ts writes. The numbers of a row, in order.
export const AT = 0;
export const ATTEMPT = 1;
export const DURATION = 2;
export const FLAGS = 3;
export const TYPE = 4;
export const SERVICE = 5;
export const ENDPOINT = 6;
export const OUTCOME = 7;
export const KIND = 8;
export const SOURCE = 9;
export const REASON = 10;
export const KEY_COUNT = 11;
export const NUMBERS = 12;
// The strings of a row, in order.
export const MESSAGE_ID = 0;
export const TIME = 1;
export const CORRELATION = 2;
export const CAUSATION = 3;
export const CONVERSATION = 4;
export const TRACE_ID = 5;
export const ERROR = 6;
export const PAYLOAD = 7;
export const STRINGS = 8;
// Flag bits.
export const REPLAYED = 1;
export const DECODED = 2;
/** The conversation id is the correlation id (most messages): not repeated in the strings. */
export const SAME_CONVERSATION = 4;

/** The rows of a packed batch. */
export function unpackBatch(batch: PackedBatch): JournalEntry[] {
  const { numbers, strings, dictionary } = batch;
  const word = (at: number): string | undefined => (numbers[at]! < 0 ? undefined : dictionary[numbers[at]!]);
  const entries: JournalEntry[] = [];
  for (let row = 0, n = 0, s = 0; row < batch.count; row++, n += NUMBERS) {
    const flags = numbers[n + FLAGS]!;
    const keyCount = numbers[n + KEY_COUNT]!;
    const correlationId = strings[s + CORRELATION];
    entries.push(
      rowOf({
        at: numbers[n + AT]!,
        messageId: strings[s + MESSAGE_ID]!,
        type: word(n + TYPE)!,
        service: word(n + SERVICE)!,
        endpoint: word(n + ENDPOINT)!,
        instance: batch.instance,
        decoded: (flags & DECODED) !== 0,
        time: strings[s + TIME],
        kind: word(n + KIND),
        source: word(n + SOURCE),
        correlationId,
        causationId: strings[s + CAUSATION],
        conversationId: (flags & SAME_CONVERSATION) !== 0 ? correlationId : strings[s + CONVERSATION],
        traceId: strings[s + TRACE_ID],
        attempt: numbers[n + ATTEMPT]!,
        outcome: word(n + OUTCOME) as HandledOutcome,
        durationMs: numbers[n + DURATION]!,
        reason: word(n + REASON),
        error: strings[s + ERROR],
        replayed: (flags & REPLAYED) !== 0,
        payload: strings[s + PAYLOAD],
        keys: strings.slice(s + STRINGS, s + STRINGS + keyCount) as string[],
      }),
    );
    s += STRINGS + keyCount;
  }
  return entries;
}

/** The rows of `batch` from row `from` on (what is left when the oldest rows are dropped). */
export function sliceBatch(batch: PackedBatch, from: number): PackedBatch {
  if (from <= 0) return batch;
  let s = 0;
  for (let row = 0; row < from && row < batch.count; row++) s += STRINGS + batch.numbers[row * NUMBERS + KEY_COUNT]!;
  const count = Math.max(0, batch.count - from);
  return {
    count,
    instance: batch.instance,
    numbers: batch.numbers.slice(from * NUMBERS, (from + count) * NUMBERS),
    strings: batch.strings.slice(s),
    dictionary: batch.dictionary,
  };
}
