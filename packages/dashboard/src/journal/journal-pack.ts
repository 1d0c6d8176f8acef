/**
 * Packing `handled` events into a {@link PackedBatch} at flush time, on the bus thread: reading
 * each event's fields into the batch's flat arrays, and nothing more (no row objects, no time
 * parsing). The payload, when the journal keeps payloads, is redacted and serialized here.
 *
 * @example
 * ```ts
 * const batch = packBatch(events, times, 0, events.length, { instance, payload: undefined, keys: defaultKeyFields });
 * ```
 * @module
 */
import { traceIdOf, type HandledEvent } from '@missive/core';
import {
  AT,
  ATTEMPT,
  DECODED,
  DURATION,
  ENDPOINT,
  FLAGS,
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

/** Packs rows `from` to `to` (exclusive) of `events`, settled at `times`. */
export function packBatch(
  events: readonly HandledEvent[],
  times: readonly number[],
  from: number,
  to: number,
  options: Omit<EntryOptions, 'at'>,
): PackedBatch {
  const count = to - from;
  const numbers = new Float64Array(count * NUMBERS);
  const strings: (string | undefined)[] = [];
  const dictionary: string[] = [];
  const indexes = new Map<string, number>();
  const index = (text: string | undefined): number => {
    if (text === undefined) return -1;
    let at = indexes.get(text);
    if (at === undefined) {
      at = dictionary.push(text) - 1;
      indexes.set(text, at);
    }
    return at;
  };
  const payload = options.payload;
  for (let i = from, n = 0; i < to; i++, n += NUMBERS) {
    const event = events[i]!;
    const envelope = event.envelope;
    const sameConversation = envelope !== undefined && envelope.conversationid === envelope.correlationid;
    numbers[n + AT] = times[i]!;
    numbers[n + ATTEMPT] = event.attempt;
    numbers[n + DURATION] = event.durationMs;
    numbers[n + FLAGS] =
      (event.replayed ? REPLAYED : 0) | (envelope === undefined ? 0 : DECODED) | (sameConversation ? SAME_CONVERSATION : 0);
    numbers[n + TYPE] = index(event.type);
    numbers[n + SERVICE] = index(event.service);
    numbers[n + ENDPOINT] = index(event.endpoint);
    numbers[n + OUTCOME] = index(event.outcome);
    numbers[n + KIND] = index(envelope?.messagekind);
    numbers[n + SOURCE] = index(envelope?.source);
    numbers[n + REASON] = index(event.reason);
    strings.push(
      event.messageId,
      envelope?.time,
      envelope?.correlationid,
      envelope?.causationid,
      sameConversation ? undefined : envelope?.conversationid,
      traceIdOf(envelope?.traceparent),
      errorSummary(event.error),
      payload === undefined || envelope === undefined ? undefined : JSON.stringify(redact(envelope.data, payload.redact)),
    );
    const before = strings.length;
    if (envelope !== undefined) keysOf(envelope.data, options.keys, strings);
    numbers[n + KEY_COUNT] = strings.length - before;
  }
  return { count, instance: options.instance, numbers, strings, dictionary };
}
