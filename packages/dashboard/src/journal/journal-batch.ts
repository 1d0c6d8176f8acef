/**
 * Journal rows packed for a hand-over to another thread. The journal packs each `handled` event
 * as it arrives (`journal-pack.ts`: the event is not kept) into a few flat values per batch — the
 * numbers in one `Float64Array`; the strings that differ per message (its id, time, correlation,
 * causation and conversation ids, traceparent and business keys), only those present, joined into
 * one string with their lengths in a `Uint32Array`; the strings that repeat (types, services,
 * endpoints, sources, outcomes, reasons) once each in a dictionary; and the rare long ones (error
 * summaries, payloads) in a small array — so the hand-over to the SQLite worker copies two typed
 * arrays and one string (memory copies) instead of serializing a string per field per row. The receiver builds the
 * rows with {@link unpackBatch}: decoding the strings, parsing the time, reading the trace id,
 * cutting the source prefix and allocating the row objects happen there, off the bus thread. This
 * module loads no runtime code of `@missive/core` (the worker imports it).
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
  /**
   * Per row, in order, those of its per-message strings that are present (its flags say which:
   * its message id always, then {@link HAS_TIME} to {@link HAS_TRACEPARENT}), then its business keys
   * (as many as its key count), joined into one string (one flat string crosses to the worker,
   * copied as a whole)...
   */
  readonly text: string;
  /** ...with the length of each of them, in the same order. */
  readonly lengths: Uint32Array;
  /** Per row, in order, its error summary ({@link HAS_ERROR}) and its payload ({@link HAS_PAYLOAD}), when present. */
  readonly strings: readonly string[];
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
// The per-message strings of a row (in `text`), in this order after its message id (always there), each only when its bit is set.
export const HAS_TIME = 16;
export const HAS_CORRELATION = 32;
export const HAS_CAUSATION = 64;
export const HAS_CONVERSATION = 128;
/** The envelope's `traceparent`: the worker reads the trace id from it. */
export const HAS_TRACEPARENT = 256;
// The rare strings of a row (in `strings`), in this order.
export const HAS_ERROR = 512;
export const HAS_PAYLOAD = 1024;

/** Reads the per-message strings of a batch, one after the other. */
class TextReader {
  private at = 0;
  private k = 0;

  constructor(
    private readonly text: string,
    private readonly lengths: Uint32Array,
  ) {}

  /** The next string. */
  next(): string {
    const start = this.at;
    this.at += this.lengths[this.k++]!;
    return this.text.slice(start, this.at);
  }

  /** Skips the next string. */
  skip(): void {
    this.at += this.lengths[this.k++]!;
  }

  /** Where the next string starts in the text, and its index in the lengths. */
  get offset(): number {
    return this.at;
  }
  get index(): number {
    return this.k;
  }
}

/** The rows of a packed batch. */
export function unpackBatch(batch: PackedBatch): JournalEntry[] {
  const { numbers, strings, dictionary } = batch;
  const word = (at: number): string | undefined => (numbers[at]! < 0 ? undefined : dictionary[numbers[at]!]);
  const entries: JournalEntry[] = [];
  const chars = new TextReader(batch.text, batch.lengths);
  let s = 0;
  const next = (flags: number, bit: number): string | undefined => ((flags & bit) === 0 ? undefined : chars.next());
  const rare = (flags: number, bit: number): string | undefined => ((flags & bit) === 0 ? undefined : strings[s++]);
  for (let row = 0, n = 0; row < batch.count; row++, n += NUMBERS) {
    const flags = numbers[n + FLAGS]!;
    const keyCount = numbers[n + KEY_COUNT]!;
    const messageId = chars.next();
    const time = next(flags, HAS_TIME);
    const correlationId = (flags & CORRELATION_IS_ID) !== 0 ? messageId : next(flags, HAS_CORRELATION);
    const causationId = next(flags, HAS_CAUSATION);
    const conversationId = (flags & SAME_CONVERSATION) !== 0 ? correlationId : next(flags, HAS_CONVERSATION);
    const traceparent = next(flags, HAS_TRACEPARENT);
    const keys: string[] = [];
    for (let k = 0; k < keyCount; k++) keys.push(chars.next());
    const error = rare(flags, HAS_ERROR);
    const payload = rare(flags, HAS_PAYLOAD);
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

/** The per-message strings in `text` of the row at `n` (its numbers' offset): its message id, those its flags name, and its keys. */
function charStringsOf(numbers: Float64Array, n: number): number {
  const flags = numbers[n + FLAGS]!;
  let count = 1 + numbers[n + KEY_COUNT]!;
  for (const bit of [HAS_TIME, HAS_CORRELATION, HAS_CAUSATION, HAS_CONVERSATION, HAS_TRACEPARENT]) if ((flags & bit) !== 0) count++;
  return count;
}

/** The rare strings of the row at `n`. */
function rareStringsOf(numbers: Float64Array, n: number): number {
  const flags = numbers[n + FLAGS]!;
  return ((flags & HAS_ERROR) !== 0 ? 1 : 0) + ((flags & HAS_PAYLOAD) !== 0 ? 1 : 0);
}

/** The rows of `batch` from row `from` on (what is left when the oldest rows are dropped). */
export function sliceBatch(batch: PackedBatch, from: number): PackedBatch {
  if (from <= 0) return batch;
  const chars = new TextReader(batch.text, batch.lengths);
  let s = 0;
  for (let row = 0; row < from && row < batch.count; row++) {
    for (let k = charStringsOf(batch.numbers, row * NUMBERS); k > 0; k--) chars.skip();
    s += rareStringsOf(batch.numbers, row * NUMBERS);
  }
  const count = Math.max(0, batch.count - from);
  return {
    count,
    instance: batch.instance,
    numbers: batch.numbers.slice(from * NUMBERS, (from + count) * NUMBERS),
    text: batch.text.slice(chars.offset),
    lengths: batch.lengths.slice(chars.index),
    strings: batch.strings.slice(s),
    dictionary: batch.dictionary,
  };
}
