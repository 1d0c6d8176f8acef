/**
 * The wire format against a real nats-server: a message published to the topic named after its
 * type carries no `Missive-Type` header (its subject says it), is delivered with its type, and its
 * dead letter keeps the type; a message as earlier versions wrote it (with the header) reads as
 * before (rolling upgrade). Both content modes: a bus writing binary mode (`contentMode=binary`: the
 * data alone as the payload, the attributes in `ce-` headers) is read by one writing structured
 * mode (the default) and the other way round, and a CloudEvent in binary mode from another
 * producer (every attribute in a `ce-` header) is handled and dead-lettered like any message.
 */
import { describe, expect, it } from 'vitest';
import { connect, headers, type Msg } from 'nats';
import { z } from 'zod';
import { createBus, defineEvent, jsonCodec, type DeadLetterFailure, type Envelope } from '@missive/core';
import { take } from './test-support/take.js';
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

      const consumer = transport.consume('wire', { prefetch: 10 });
      const deliveries = await take(consumer[Symbol.asyncIterator](), 2);
      const byId = new Map(deliveries.map((d) => [d.message.id, d]));
      expect(byId.get('new-1')?.message.type).toBe('shop.placed');
      expect(byId.get('old-1')?.message.type).toBe('shop.placed-v0');
      await byId.get('new-1')!.deadLetter(failure);
      await byId.get('old-1')!.ack();
      await consumer.close();
      expect((await transport.deadLetters.get('wire', 'new-1'))?.message.type).toBe('shop.placed');
    } finally {
      await nc.close();
      await transport.close();
      await removePrefix(url);
    }
  });

  it('content modes: binary and structured writers read by each other; a CloudEvent in binary mode from elsewhere handled and dead-lettered', async (ctx) => {
    if (!(await needNats(ctx))) return;
    const prefix = uniquePrefix();
    const url = natsUrlFor(prefix);
    const binaryUrl = natsUrlFor(prefix, { contentMode: 'binary' });
    const Placed = defineEvent('shop.placed', z.object({ orderId: z.string() }));
    const seen: Envelope[] = [];
    let arrived!: () => void;
    const three = new Promise<void>((resolve) => (arrived = resolve));
    const reader = createBus({ service: 'reader', transport: url });
    reader.endpoint('wire', (e) =>
      e.on(Placed, (_order, c) => {
        seen.push(c.envelope);
        if (seen.length === 3) arrived();
      }),
    );
    const binaryWriter = createBus({ service: 'binary-writer', transport: binaryUrl });
    const structuredWriter = createBus({ service: 'structured-writer', transport: url });
    const nc = await connect({ servers: new URL(url).host });
    try {
      await reader.start();
      await binaryWriter.start();
      await structuredWriter.start();
      const subject = `${prefix}._.t.shop.placed`;
      const wire: Msg[] = [];
      nc.subscribe(subject, { max: 2, callback: (_e, m) => wire.push(m) });
      await nc.flush();
      await binaryWriter.publish(Placed, { orderId: 'b-1' });
      await structuredWriter.publish(Placed, { orderId: 's-1' });
      // A CloudEvent as the binding's binary mode writes it elsewhere: every attribute in a header.
      const h = headers();
      for (const [name, value] of Object.entries({
        specversion: '1.0',
        id: 'f-1',
        type: 'shop.placed',
        source: '/elsewhere',
        subject: 'a b',
      })) {
        h.set(`ce-${name}`, value === 'a b' ? 'a%20b' : value);
      }
      h.set('Nats-Msg-Id', 'f-1');
      await nc.jetstream().publish(subject, Buffer.from('{"orderId":"f-1"}'), { headers: h });
      const bad = headers();
      for (const [name, value] of Object.entries({ id: 'f-2', type: 'shop.placed', source: '/elsewhere' })) bad.set(`ce-${name}`, value);
      bad.set('Nats-Msg-Id', 'f-2');
      await nc.jetstream().publish(subject, Buffer.from('{"orderId":2}'), { headers: bad }); // fails the schema: dead-lettered
      await three;
      await nc.flush(); // the raw subscription has had both publishes (it ends itself after two)

      const [binary, structured] = wire;
      expect(binary!.headers?.get('ce-source')).toBe('/missive/binary-writer');
      expect(binary!.headers?.has('ce-id')).toBe(false); // it is Nats-Msg-Id
      expect(binary!.headers?.has('ce-type')).toBe(false); // the subject says it
      expect(JSON.parse(Buffer.from(binary!.data).toString('utf8'))).toEqual({ orderId: 'b-1' });
      expect(structured!.headers?.has('ce-source')).toBe(false);
      expect(JSON.parse(Buffer.from(structured!.data).toString('utf8'))).toMatchObject({
        source: '/missive/structured-writer',
        data: { orderId: 's-1' },
      });

      const bySource = new Map(seen.map((e) => [e.source, e]));
      expect(bySource.get('/missive/binary-writer')).toMatchObject({
        specversion: '1.0',
        type: 'shop.placed',
        data: { orderId: 'b-1' },
        messagekind: 'event',
      });
      expect(bySource.get('/missive/binary-writer')?.id).toBe(binary!.headers?.get('Nats-Msg-Id'));
      expect(bySource.get('/missive/structured-writer')?.data).toEqual({ orderId: 's-1' });
      expect(bySource.get('/elsewhere')).toMatchObject({ id: 'f-1', subject: 'a b', data: { orderId: 'f-1' } });

      let letter = await reader.transport.deadLetters.get('wire', 'f-2');
      for (let i = 0; letter === undefined && i < 100; i++) {
        await nc.flush(); // the dead letter is stored after the handler's failure: a round trip to the server each time
        letter = await reader.transport.deadLetters.get('wire', 'f-2');
      }
      expect(letter?.failure.reason).toBe('VALIDATION');
      expect(jsonCodec().decode(letter!.message.body)).toMatchObject({ id: 'f-2', source: '/elsewhere', data: { orderId: 2 } });
    } finally {
      await nc.close();
      await Promise.allSettled([reader.stop(), binaryWriter.stop(), structuredWriter.stop()]);
      await removePrefix(url);
    }
  });
});
