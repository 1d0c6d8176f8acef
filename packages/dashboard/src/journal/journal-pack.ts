/**
 * Packing `handled` events into a {@link PackedBatch} on the bus thread, one event as it arrives
 * ({@link BatchPacker}): its fields are read into the batch's flat arrays and the event is not kept,
 * so a batch waiting for its write holds a few strings and numbers per row instead of every
 * envelope and payload (which the garbage collector would otherwise copy and promote). Nothing
 * more happens here: no row objects, no time parsing, no trace id parsing. The payload, when the
 * journal keeps payloads, is redacted and serialized here.
 *
 * @example
 * ```ts
 * const packer = new BatchPacker(1000, { instance, payload: undefined, keys: defaultKeyFields });
 * bus.on('handled', (event) => packer.add(event, Date.now())); // or, without an event object: bus.observeHandled(…packer.pack(…))
 * const batch = packer.take(); // to the store; the packer starts a new batch
 * ```
 * @module
 */
import type { Envelope, HandledEvent, HandledOutcome } from '@missive/core';
import {
  AT,
  ATTEMPT,
  CORRELATION_IS_ID,
  DECODED,
  DURATION,
  ENDPOINT,
  FLAGS,
  HAS_CAUSATION,
  HAS_CONVERSATION,
  HAS_CORRELATION,
  HAS_ERROR,
  HAS_PAYLOAD,
  HAS_TIME,
  HAS_TRACEPARENT,
  KEY_COUNT,
  KIND,
  NUMBERS,
  OUTCOME,
  REASON,
  REPLAYED,
  SAME_CONVERSATION,
  SERVICE,
  SOURCE,
  TYPE,
  type PackedBatch,
} from './journal-batch.js';
import type { EntryOptions } from './journal-entry.js';
import { errorSummary, keysOf } from './journal-row.js';
import { redact } from './redact.js';

/** The dictionary slots, in the order of their last-word cache. */
const WORDS = [TYPE, SERVICE, ENDPOINT, OUTCOME, KIND, SOURCE, REASON] as const;

/** Per-message strings a packer's lengths have room for at first, per row (grown when needed). */
const STRINGS_PER_ROW = 4;
/** Per-message strings joined into one chunk at a time. */
const CHUNK = 64;
/** Written batches' numbers arrays kept for reuse (two alternate while the store keeps up). */
const SPARE = 2;

/** Packs events one at a time into a batch of at most `capacity` rows. */
export class BatchPacker {
  private numbers: Float64Array;
  /** The per-message strings packed so far and their lengths (see {@link PackedBatch.text}); the lengths' array is kept across batches, grown when a batch needs more. */
  private texts: (string | undefined)[] = [];
  private lengths: Uint32Array;
  /** Strings in the batch so far (those joined into `chunks` included). */
  private strings_ = 0;
  /**
   * The strings of the batch, joined every {@link CHUNK} strings: a message's strings are not kept
   * for the whole batch (the young generation's collections would copy and promote them), only
   * flat chunks of them.
   */
  private chunks: string[] = [];
  private strings: string[] = [];
  private dictionary: string[] = [];
  private indexes = new Map<string, number>();
  /** Per dictionary slot, the last word and its index: most rows repeat the previous row's type, service and endpoint. */
  private readonly lastWord: (string | undefined)[] = WORDS.map(() => undefined);
  private readonly lastIndex: number[] = WORDS.map(() => -1);
  private count_ = 0;
  /** Numbers arrays of written batches, for the next full batches ({@link recycle}). */
  private readonly spare: Float64Array[] = [];

  constructor(
    private readonly capacity: number,
    private readonly options: Omit<EntryOptions, 'at'>,
  ) {
    this.numbers = new Float64Array(capacity * NUMBERS);
    this.lengths = new Uint32Array(capacity * STRINGS_PER_ROW);
  }

  /** Rows in the batch being packed. */
  get count(): number {
    return this.count_;
  }

  /** Whether the batch is full (then {@link take} it before the next {@link add}). */
  get full(): boolean {
    return this.count_ >= this.capacity;
  }

  /** Packs `event`, settled at `at` (epoch ms). */
  add(event: HandledEvent, at: number): void {
    this.pack(
      event.service,
      event.endpoint,
      event.envelope,
      event.messageId,
      event.type,
      event.attempt,
      event.outcome,
      event.durationMs,
      at,
      event.error,
      event.reason,
      event.replayed,
    );
  }

  /** Packs a settled delivery, its fields as a `HandledObserver` receives them, settled at `at` (epoch ms). */
  pack(
    service: string,
    endpoint: string,
    envelope: Envelope | undefined,
    messageId: string,
    type: string,
    attempt: number,
    outcome: HandledOutcome,
    durationMs: number,
    at: number,
    error: Error | undefined,
    reason: string | undefined,
    replayed: boolean,
  ): void {
    const numbers = this.numbers;
    const n = this.count_++ * NUMBERS;
    let flags = replayed ? REPLAYED : 0;
    this.put(messageId);
    if (envelope !== undefined) {
      flags |= DECODED;
      const correlation = envelope.correlationid;
      const conversation = envelope.conversationid;
      if (conversation === correlation) flags |= SAME_CONVERSATION;
      if (envelope.time !== undefined) {
        flags |= HAS_TIME;
        this.put(envelope.time);
      }
      if (correlation === messageId) flags |= CORRELATION_IS_ID;
      else if (correlation !== undefined) {
        flags |= HAS_CORRELATION;
        this.put(correlation);
      }
      if (envelope.causationid !== undefined) {
        flags |= HAS_CAUSATION;
        this.put(envelope.causationid);
      }
      if (conversation !== correlation && conversation !== undefined) {
        flags |= HAS_CONVERSATION;
        this.put(conversation);
      }
      if (envelope.traceparent !== undefined) {
        flags |= HAS_TRACEPARENT;
        this.put(envelope.traceparent);
      }
      numbers[n + KEY_COUNT] = this.keys(envelope.data);
    } else numbers[n + KEY_COUNT] = 0; // every number of a row is written: a recycled array holds an earlier batch's
    if (error !== undefined) {
      flags |= HAS_ERROR;
      this.strings.push(errorSummary(error)!);
    }
    const payload = this.options.payload;
    if (payload !== undefined && envelope !== undefined) {
      const json = JSON.stringify(redact(envelope.data, payload.redact)) as string | undefined;
      if (json !== undefined) {
        flags |= HAS_PAYLOAD;
        this.strings.push(json);
      }
    }
    numbers[n + AT] = at;
    numbers[n + ATTEMPT] = attempt;
    numbers[n + DURATION] = durationMs;
    numbers[n + FLAGS] = flags;
    numbers[n + TYPE] = this.word(0, type);
    numbers[n + SERVICE] = this.word(1, service);
    numbers[n + ENDPOINT] = this.word(2, endpoint);
    numbers[n + OUTCOME] = this.word(3, outcome);
    numbers[n + KIND] = this.word(4, envelope?.messagekind);
    numbers[n + SOURCE] = this.word(5, envelope?.source);
    numbers[n + REASON] = this.word(6, reason);
  }

  /** The batch packed so far; the packer starts an empty one. */
  take(): PackedBatch {
    const count = this.count_;
    const batch: PackedBatch = {
      count,
      instance: this.options.instance,
      numbers: count === this.capacity ? this.numbers : this.numbers.slice(0, count * NUMBERS),
      text: this.chunks.join('') + this.texts.join(''),
      lengths: this.lengths.slice(0, this.strings_),
      strings: this.strings,
      dictionary: this.dictionary,
    };
    if (count === this.capacity) this.numbers = this.spare.pop() ?? new Float64Array(this.capacity * NUMBERS);
    this.texts = [];
    this.chunks = [];
    this.strings_ = 0;
    this.strings = [];
    this.dictionary = [];
    this.indexes = new Map();
    this.lastWord.fill(undefined);
    this.lastIndex.fill(-1);
    this.count_ = 0;
    return batch;
  }

  /**
   * Takes back the numbers of a batch from {@link take} once its store has written it (the
   * journal's store contract: the batch's arrays are the journal's again when its write settles),
   * so that a full batch's next array is not a new 96 KB allocation, zero-filled and page-faulted
   * in on the bus thread. Other arrays (a partial or sliced batch's) are left to the collector.
   */
  recycle(numbers: Float64Array): void {
    if (
      numbers.length === this.capacity * NUMBERS &&
      numbers !== this.numbers &&
      this.spare.length < SPARE &&
      !this.spare.includes(numbers)
    )
      this.spare.push(numbers);
  }

  /** Appends `text` to the batch's per-message strings. */
  private put(text: string): void {
    const k = this.strings_++;
    if (k === this.lengths.length) this.grow();
    this.lengths[k] = text.length;
    if (this.texts.push(text) >= CHUNK) this.chunk();
  }

  /** Joins the strings waiting into one chunk. */
  private chunk(): void {
    this.chunks.push(this.texts.join(''));
    this.texts = [];
  }

  private grow(): void {
    const lengths = new Uint32Array(this.lengths.length * 2);
    lengths.set(this.lengths);
    this.lengths = lengths;
  }

  /** Packs the business keys of `data` (see `keysOf`); returns how many. */
  private keys(data: unknown): number {
    const texts = this.texts;
    const start = texts.length;
    keysOf(data, this.options.keys, texts);
    const count = texts.length - start;
    for (let k = 0; k < count; k++) {
      if (this.strings_ === this.lengths.length) this.grow();
      this.lengths[this.strings_++] = texts[start + k]!.length;
    }
    if (texts.length >= CHUNK) this.chunk();
    return count;
  }

  /** The dictionary index of `text` (-1 for undefined), for dictionary slot `slot`. */
  private word(slot: number, text: string | undefined): number {
    if (text === undefined) return -1;
    if (text === this.lastWord[slot]) return this.lastIndex[slot]!;
    let at = this.indexes.get(text);
    if (at === undefined) {
      at = this.dictionary.push(text) - 1;
      this.indexes.set(text, at);
    }
    this.lastWord[slot] = text;
    this.lastIndex[slot] = at;
    return at;
  }
}

/** Packs rows `from` to `to` (exclusive) of `events`, settled at `times`, in one batch. */
export function packBatch(
  events: readonly HandledEvent[],
  times: readonly number[],
  from: number,
  to: number,
  options: Omit<EntryOptions, 'at'>,
): PackedBatch {
  const packer = new BatchPacker(Math.max(1, to - from), options);
  for (let i = from; i < to; i++) packer.add(events[i]!, times[i]!);
  return packer.take();
}
