/**
 * The wire format against a real nats-server: a message published to the topic named after its
 * type carries no `Missive-Type` header (its subject says it), is delivered with its type, and its
 * dead letter keeps the type; a message as earlier versions wrote it (with the header) reads as
 * before (rolling upgrade).
 */
import { describe, expect, it } from 'vitest';
import { connect, headers } from 'nats';
import type { DeadLetterFailure } from '@missive/core';
import type { Delivery } from '@missive/core/transport';
import { NatsTransport } from './nats-transport.js';
import { natsUrlFor, needNats, removePrefix, uniquePrefix } from './test-support/server.js';

const failure: DeadLetterFailure = {
  reason: 'DECODE_FAILED',
  errorName: 'Error',
  errorMessage: 'not an envelope',
  attempts: 1,
  endpoint: 'wire',
  service: 'test',
  host: 'h',
  time: 0,
};

/** The next `n` deliveries of `queue`, not settled. */
async function take(transport: NatsTransport, queue: string, n: number): Promise<{ deliveries: Delivery[]; close(): Promise<void> }> {
  const consumer = transport.consume(queue, { prefetch: 10 });
  const deliveries: Delivery[] = [];
  const iterator = (consumer as AsyncIterable<Delivery>)[Symbol.asyncIterator]();
  while (deliveries.length < n) {
    const next = await iterator.next();
    if (next.done === true) break;
    deliveries.push(next.value);
  }
  return { deliveries, close: () => consumer.close() };
}

describe('nats wire format', () => {
  it('no Missive-Type on a publish to its type topic; the type read from the subject; a header as earlier versions wrote it wins', async (ctx) => {
    if (!(await needNats(ctx))) return;
    const prefix = uniquePrefix();
    const url = natsUrlFor(prefix);
    const transport = new NatsTransport({ url });
    const nc = await connect({ servers: new URL(url).host });
    try {
      await transport.connect();
      await transport.declare({ name: 'wire', topics: ['shop.placed'] });
      const subject = `${prefix}._.t.shop.placed`;
      const sub = nc.subscribe(subject, { max: 1 });
      const seen = (async () => {
        for await (const m of sub) return m.headers;
        return undefined;
      })();
      await nc.flush(); // the subscription is in place at the server before the publish
      await transport.publish('shop.placed', { id: 'new-1', type: 'shop.placed', body: Buffer.from('not json'), headers: {} });
      expect((await seen)?.has('Missive-Type')).toBe(false);
      // As a version before this change published it: the type in a header, whatever the subject says.
      const h = headers();
      h.set('Nats-Msg-Id', 'old-1');
      h.set('Missive-Type', 'shop.placed-v0');
      await nc.jetstream().publish(subject, Buffer.from('{}'), { headers: h });

      const { deliveries, close } = await take(transport, 'wire', 2);
      const byId = new Map(deliveries.map((d) => [d.message.id, d]));
      expect(byId.get('new-1')?.message.type).toBe('shop.placed');
      expect(byId.get('old-1')?.message.type).toBe('shop.placed-v0');
      await byId.get('new-1')!.deadLetter(failure);
      await byId.get('old-1')!.ack();
      await close();
      expect((await transport.deadLetters.get('wire', 'new-1'))?.message.type).toBe('shop.placed');
    } finally {
      await nc.close();
      await transport.close();
      await removePrefix(url);
    }
  });
});
