/**
 * Journal rows packed for a hand-over to another thread. The journal packs each `handled` event
 * as it arrives (`journal-pack.ts`: the event is not kept) into three flat arrays per batch — the
 * numbers in one `Float64Array`, the strings that differ per message (ids, time, trace context,
 * error, payload, business keys) in one array, only those present, and the strings that repeat
 * (types, services, endpoints, sources, outcomes, reasons) once each in a dictionary — so the
 * hand-over to the SQLite worker is one structured clone of three arrays instead of one clone of an
 * object per row. The receiver builds the rows with {@link unpackBatch}: parsing the time, reading
 * the trace id, cutting the source prefix and allocating the row objects happen there, off the bus
 * thread. This module loads no runtime code of `@missive/core` (the worker imports it).
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
import { rowOf, traceIdOf, type JournalEntry } from './journal-row.js';

/** Rows packed by {@link packBatch}. Plain data: survives a structured clone. */
export interface PackedBatch {
  readonly count: number;
  readonly instance: string;
  /** {@link NUMBERS} per row. */
  readonly numbers: Float64Array;
  /** Per row, in order, those of its strings that are present (its flags say which), then its business keys (as many as its key count). */
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
// Flag bits.
export const REPLAYED = 1;
export const DECODED = 2;
/** The conversation id is the correlation id (most messages): not repeated in the strings. */
export const SAME_CONVERSATION = 4;
/** The correlation id is the message id (the first message of a business transaction): not repeated. */
export const CORRELATION_IS_ID = 8;
// The strings of a row, in this order after its message id (always there), each only when its bit is set.
export const HAS_TIME = 16;
export const HAS_CORRELATION = 32;
export const HAS_CAUSATION = 64;
export const HAS_CONVERSATION = 128;
/** The envelope's `traceparent`: the worker reads the trace id from it. */
export const HAS_TRACEPARENT = 256;
export const HAS_ERROR = 512;
export const HAS_PAYLOAD = 1024;

/** The rows of a packed batch. */
export function unpackBatch(batch: PackedBatch): JournalEntry[] {
  const { numbers, strings, dictionary } = batch;
  const word = (at: number): string | undefined => (numbers[at]! < 0 ? undefined : dictionary[numbers[at]!]);
  const entries: JournalEntry[] = [];
  let s = 0;
  const next = (flags: number, bit: number): string | undefined => ((flags & bit) === 0 ? undefined : strings[s++]);
  for (let row = 0, n = 0; row < batch.count; row++, n += NUMBERS) {
    const flags = numbers[n + FLAGS]!;
    const keyCount = numbers[n + KEY_COUNT]!;
    const messageId = strings[s++]!;
    const time = next(flags, HAS_TIME);
    const correlationId = (flags & CORRELATION_IS_ID) !== 0 ? messageId : next(flags, HAS_CORRELATION);
    const causationId = next(flags, HAS_CAUSATION);
    const conversationId = (flags & SAME_CONVERSATION) !== 0 ? correlationId : next(flags, HAS_CONVERSATION);
    const traceparent = next(flags, HAS_TRACEPARENT);
    const error = next(flags, HAS_ERROR);
    const payload = next(flags, HAS_PAYLOAD);
    const keys = strings.slice(s, s + keyCount) as string[];
    s += keyCount;
    entries.push(
      rowOf({
        at: numbers[n + AT]!,
        messageId,
        type: word(n + TYPE)!,
        service: word(n + SERVICE)!,
        endpoint: word(n + ENDPOINT)!,
        instance: batch.instance,
        decoded: (flags & DECODED) !== 0,
        time,
        kind: word(n + KIND),
        source: word(n + SOURCE),
        correlationId,
        causationId,
        conversationId,
        traceId: traceIdOf(traceparent),
        attempt: numbers[n + ATTEMPT]!,
        outcome: word(n + OUTCOME) as HandledOutcome,
        durationMs: numbers[n + DURATION]!,
        reason: word(n + REASON),
        error,
        replayed: (flags & REPLAYED) !== 0,
        payload,
        keys,
      }),
    );
  }
  return entries;
}

/** How many strings row `n` (its numbers' offset) has: its message id, those its flags name, and its keys. */
function stringsOf(numbers: Float64Array, n: number): number {
  const flags = numbers[n + FLAGS]!;
  let count = 1 + numbers[n + KEY_COUNT]!;
  for (const bit of [HAS_TIME, HAS_CORRELATION, HAS_CAUSATION, HAS_CONVERSATION, HAS_TRACEPARENT, HAS_ERROR, HAS_PAYLOAD])
    if ((flags & bit) !== 0) count++;
  return count;
}

/** The rows of `batch` from row `from` on (what is left when the oldest rows are dropped). */
export function sliceBatch(batch: PackedBatch, from: number): PackedBatch {
  if (from <= 0) return batch;
  let s = 0;
  for (let row = 0; row < from && row < batch.count; row++) s += stringsOf(batch.numbers, row * NUMBERS);
  const count = Math.max(0, batch.count - from);
  return {
    count,
    instance: batch.instance,
    numbers: batch.numbers.slice(from * NUMBERS, (from + count) * NUMBERS),
    strings: batch.strings.slice(s),
    dictionary: batch.dictionary,
  };
}
