import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestHarness } from '@missive/testing';
import { defineEvent } from '../contracts/contract.js';
import { jsonCodec, type Codec } from '../message/codec.js';
import type { Envelope } from '../message/envelope.js';

const Placed = defineEvent('shop.order-placed', z.object({ orderId: z.string(), lines: z.array(z.object({ sku: z.string() })) }));
const Anything = defineEvent('shop.anything', z.unknown());

/** The JSON codec, counting its encodes and decodes. */
function countingCodec(): Codec & { encodes: number; decodes: number } {
  const inner = jsonCodec();
  const codec = {
    ...inner,
    encodes: 0,
    decodes: 0,
    encode(envelope: Envelope) {
      codec.encodes++;
      return inner.encode(envelope);
    },
    decode(bytes: Uint8Array) {
      codec.decodes++;
      return inner.decode(bytes);
    },
  };
  return codec;
}

describe('in-process messages (memory transport)', () => {
  it('are neither encoded nor decoded, and each delivery gets its own copy of what was published', async () => {
    const h = createTestHarness();
    const codec = countingCodec();
    const bus = h.bus('shop', { codec });
    const seen: { endpoint: string; sku: string; attempt: number }[] = [];
    bus.endpoint('billing', (e) =>
      e.on(
        Placed,
        (order, ctx) => {
          seen.push({ endpoint: 'billing', sku: order.lines[0]!.sku, attempt: ctx.attempt });
          (ctx.envelope.data as { lines: { sku: string }[] }).lines[0]!.sku = 'changed by billing';
          order.lines[0]!.sku = 'changed by billing';
          if (ctx.attempt === 1) throw new Error('once');
        },
        { retry: { immediate: 0, delayed: { attempts: 1, initialMs: 10 } } },
      ),
    );
    bus.endpoint('audit', (e) => e.on(Placed, (order) => void seen.push({ endpoint: 'audit', sku: order.lines[0]!.sku, attempt: 1 })));
    await bus.start();
    const order = { orderId: 'o-1', lines: [{ sku: 'a-1' }] };
    await bus.publish(Placed, order);
    order.lines[0]!.sku = 'changed by the publisher';
    await h.idle();
    await h.advance(10);
    await h.idle();
    expect(seen.sort((a, b) => a.endpoint.localeCompare(b.endpoint) || a.attempt - b.attempt)).toEqual([
      { endpoint: 'audit', sku: 'a-1', attempt: 1 },
      { endpoint: 'billing', sku: 'a-1', attempt: 1 },
      { endpoint: 'billing', sku: 'a-1', attempt: 2 },
    ]);
    expect({ encodes: codec.encodes, decodes: codec.decodes }).toEqual({ encodes: 0, decodes: 0 });
    await h.stop();
  });

  it('take the encoded path for what JSON would change, arriving as from a broker', async () => {
    const h = createTestHarness();
    const codec = countingCodec();
    const bus = h.bus('shop', { codec });
    const received: unknown[] = [];
    bus.endpoint('store', (e) => e.on(Anything, (payload) => void received.push(payload)));
    await bus.start();
    await bus.publish(Anything, { at: new Date(0), list: [1, undefined], gone: undefined });
    await h.idle();
    expect(received).toEqual([{ at: '1970-01-01T00:00:00.000Z', list: [1, null] }]);
    expect({ encodes: codec.encodes, decodes: codec.decodes }).toEqual({ encodes: 1, decodes: 1 });
    await h.stop();
  });

  it('keep a readable body: a dead letter decodes to the envelope published', async () => {
    const h = createTestHarness();
    const codec = countingCodec();
    const bus = h.bus('shop', { codec });
    bus.endpoint('billing', (e) => e.on(Placed, () => Promise.reject(new Error('always')), { retry: { immediate: 0, delayed: false } }));
    await bus.start();
    await bus.publish(Placed, { orderId: 'o-2', lines: [] });
    await h.idle();
    const [dead] = await h.broker.transport().deadLetters.list('billing');
    const published = h.published.find((e) => e.type === Placed.name)!;
    expect(codec.decode(dead!.message.body)).toEqual(published);
    await h.stop();
  });
});
