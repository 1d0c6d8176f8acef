import { describe, expect, it } from 'vitest';
import { createEnvelope, type HandledEvent } from '@missive/core';
import { sliceBatch, unpackBatch } from './journal-batch.js';
import { defaultKeyFields, entryOf, type EntryOptions } from './journal-entry.js';
import { BatchPacker, packBatch } from './journal-pack.js';

const traceparent = `00-${'a1'.repeat(16)}-${'b2'.repeat(8)}-01`;

function handled(overrides: Partial<HandledEvent>, init: Partial<Parameters<typeof createEnvelope>[0]> = {}): HandledEvent {
  const envelope = createEnvelope({
    type: 'shop.order-placed',
    source: '/missive/gateway',
    data: { orderId: 'o-1', customerId: 7, note: 'x', nested: { itemId: 'i-1' } },
    ...init,
  });
  return {
    service: 'order',
    endpoint: 'order',
    messageId: envelope.id,
    type: envelope.type,
    envelope,
    attempt: 1,
    outcome: 'handled',
    durationMs: 0.123456,
    settledAt: 1234.5,
    error: undefined,
    reason: undefined,
    replayed: false,
    ...overrides,
  };
}

/** Every kind of row: plain, traced, another conversation, caused, failed, dead-lettered, replayed, undecodable, no keys, repeated keys. */
const events: HandledEvent[] = [
  handled({}),
  handled({}, { traceparent, kind: 'command', correlationId: 'c-1', conversationId: 'conv-1', causationId: 'm-0' }),
  handled({ outcome: 'retried', attempt: 2, error: new Error('database busy') }),
  handled({ outcome: 'dead-lettered', reason: 'UNRECOVERABLE', error: new RangeError('x'.repeat(600)), replayed: true }),
  handled({ outcome: 'dropped', reason: 'EXPIRED', service: 'billing', endpoint: 'billing-audit' }, { source: 'urn:elsewhere' }),
  { ...handled({}), envelope: undefined, messageId: 'raw-1', type: 'unknown.type', outcome: 'dead-lettered', reason: 'DECODE' },
  handled({}, { data: 'not an object' }),
  handled({}, { data: { id: 'same', otherId: 'same', emptyId: '', card: { number: '4111' } } }),
  // Strings beyond Latin-1 (an emoji is two UTF-16 code units), and one longer than 65,535 code units.
  handled({}, { id: 'é-😀-\u4e2d', correlationId: 'c'.repeat(70_000), data: { orderId: 'ö-1' } }),
];
const times = events.map((_, i) => 1_700_000_000_000 + i);

function options(payload: EntryOptions['payload']): Omit<EntryOptions, 'at'> {
  return { instance: 'i-1', payload, keys: defaultKeyFields };
}

describe('a packed journal batch', () => {
  for (const payload of [undefined, { redact: ['number'] }]) {
    it(`unpacks, after a structured clone, to the rows entryOf builds (payloads ${payload === undefined ? 'off' : 'on, redacted'})`, () => {
      const batch = structuredClone(packBatch(events, times, 0, events.length, options(payload)));
      const expected = events.map((event, i) => entryOf(event, { ...options(payload), at: times[i]! }));
      expect(unpackBatch(batch)).toEqual(expected);
      // The rows carry what the journal promises, not only what entryOf happens to do.
      const [plain, traced, retried, dead] = expected;
      expect(plain).toMatchObject({
        source: 'gateway',
        keys: ['o-1', '7'],
        sentAt: Date.parse(events[0]!.envelope!.time),
        durationMs: 0.123,
      });
      expect(traced).toMatchObject({ traceId: 'a1'.repeat(16), conversationId: 'conv-1', correlationId: 'c-1', causationId: 'm-0' });
      expect(retried!.error).toBe('Error: database busy');
      expect(dead!.error).toHaveLength(500);
      if (payload !== undefined) expect(JSON.parse(expected[7]!.payload!)).toMatchObject({ card: { number: '[redacted]' } });
    });
  }

  it('packs a range of the events, and drops its oldest rows by slicing', () => {
    const batch = packBatch(events, times, 2, 7, options(undefined));
    expect(batch.count).toBe(5);
    const all = unpackBatch(batch);
    expect(all.map((e) => e.at)).toEqual(times.slice(2, 7));
    for (const from of [0, 1, 3, 5]) expect(unpackBatch(sliceBatch(batch, from))).toEqual(all.slice(from));
  });

  it('reuses the numbers of a written full batch for a later one, every number of a row written again', () => {
    const packer = new BatchPacker(2, options(undefined));
    const rows = (batch: ReturnType<BatchPacker['take']>) => unpackBatch(structuredClone(batch));
    packer.add(events[0]!, 1); // two business keys
    packer.add(events[0]!, 2);
    const first = packer.take();
    expect(rows(first).map((row) => row.keys)).toEqual([
      ['o-1', '7'],
      ['o-1', '7'],
    ]);
    packer.recycle(first.numbers);
    packer.add(events[0]!, 3);
    const partial = packer.take(); // a copy: the packer keeps its array, this row in it
    expect(partial.numbers.buffer).not.toBe(first.numbers.buffer);
    packer.add(events[5]!, 4); // undecodable, where a keyed row was
    packer.add(events[0]!, 5);
    expect(rows(packer.take())).toEqual([events[5]!, events[0]!].map((e, i) => entryOf(e, { ...options(undefined), at: 4 + i })));
    // The next full batch is packed into the recycled array.
    packer.add(events[5]!, 6);
    packer.add(events[1]!, 7);
    const reused = packer.take();
    expect(reused.numbers).toBe(first.numbers);
    expect(rows(reused)).toEqual([events[5]!, events[1]!].map((e, i) => entryOf(e, { ...options(undefined), at: 6 + i })));
  });

  it('repeats a type, service, endpoint or source once per batch, not once per row', () => {
    const many = Array.from({ length: 100 }, () => handled({}));
    const batch = packBatch(
      many,
      many.map(() => 1),
      0,
      many.length,
      options(undefined),
    );
    expect([...batch.dictionary].sort()).toEqual(['/missive/gateway', 'event', 'handled', 'order', 'shop.order-placed']);
    // Many rows: their strings were joined in several chunks.
    expect(unpackBatch(structuredClone(batch))).toEqual(many.map((event) => entryOf(event, { ...options(undefined), at: 1 })));
  });
});
