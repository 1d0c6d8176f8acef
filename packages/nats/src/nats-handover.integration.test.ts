/**
 * A command type taken over by another endpoint (`takeOver`): what waited in the previous owner's
 * lane for the type is written again to that owner's own queue (see `handover.ts`), and keeps its
 * type there, though it was published to the topic named after its type (so without a
 * `Missive-Type` header: the topic subject said it, the queue subject does not), alone or as a
 * member of a batch message (`?batch=`).
 */
import { afterEach, expect, it } from 'vitest';
import { z } from 'zod';
import { createBus, defineCommand, type Bus } from '@missive/core';
import type { Delivery } from '@missive/core/transport';
import { take } from './test-support/take.js';
import { NatsTransport } from './nats-transport.js';
import { natsUrlFor, needNats, removePrefix, uniquePrefix } from './test-support/server.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const DoThing = defineCommand('test.handover.do-thing', z.object({ n: z.number() }));

/** The next `n` deliveries of `queue`, acked. */
async function takeAcked(transport: NatsTransport, queue: string, n: number): Promise<Delivery[]> {
  const consumer = transport.consume(queue, { prefetch: 10 });
  const deliveries = await take(consumer[Symbol.asyncIterator](), n);
  for (const delivery of deliveries) await delivery.ack();
  await consumer.close();
  return deliveries;
}

function started(bus: Bus): Bus {
  cleanups.push(() => bus.stop());
  return bus;
}

it("a command waiting in the previous owner's lane keeps its type when the lane is moved aside, alone or in a batch message", async (ctx) => {
  if (!(await needNats(ctx))) return;
  const url = natsUrlFor(uniquePrefix());
  cleanups.push(() => removePrefix(url));

  const old = started(createBus({ service: 'old-service', transport: url }));
  old.endpoint('before', (e) => e.on(DoThing, () => undefined));
  await old.start();
  await old.stop();

  // One command sent through a bus (a topic publish where topic = type: no Missive-Type header) ...
  const sender = started(createBus({ service: 'sender', transport: url }));
  await sender.start();
  await sender.send(DoThing, { n: 0 });
  // ... and three published in one turn by a transport with batch messages: one JetStream message.
  const batching = new NatsTransport({ url: `${url}&batch=64` });
  cleanups.push(() => batching.close());
  await batching.connect();
  const encode = (n: number) => new TextEncoder().encode(JSON.stringify({ n }));
  await Promise.all(
    [1, 2, 3].map((n) => batching.publish(DoThing.name, { id: `b-${n}`, type: DoThing.name, body: encode(n), headers: {} })),
  );

  const next = started(createBus({ service: 'new-service', transport: url }));
  next.endpoint('after', (e) => e.on(DoThing, () => undefined), { takeOver: true });
  await next.start();

  const admin = new NatsTransport({ url });
  cleanups.push(() => admin.close());
  const kept = await takeAcked(admin, 'before', 4);
  expect(kept.map((d) => d.message.type)).toEqual([DoThing.name, DoThing.name, DoThing.name, DoThing.name]);
  expect(kept.slice(1).map((d) => d.message.id)).toEqual(['b-1', 'b-2', 'b-3']);
}, 60_000);
