/**
 * Stopping a PostgreSQL consumer: what it claimed and never started goes back without counting as
 * a delivery (it must not bring a message closer to `maxDeliveries`), including the delivery the
 * endpoint's loop held while it waited for a free handler slot (`Delivery.release`).
 */
import { afterEach, expect, it } from 'vitest';
import { z } from 'zod';
import { createBus, defineCommand, silentLogger, type Bus } from '@missive/core';
import type { Delivery } from '@missive/core/transport';
import { createWaiter } from '@missive/testing';
import { gate, range } from '@missive/testing/vitest';
import { PostgresTransport } from './pg-transport.js';
import { dropSchema, needPostgres, postgresUrl, uniqueSchema } from './test-support/database.js';

const Work = defineCommand('stop.work', z.object({ n: z.number() }));
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanups.splice(0).reverse()) await step().catch(() => undefined);
});

it('a stopping consumer hands back what it claimed and never started without counting a delivery', async (ctx) => {
  if (!(await needPostgres(ctx))) return;
  const schema = uniqueSchema('stop');
  cleanups.push(() => dropSchema(schema));
  const waiter = createWaiter({ timeoutMs: 30_000 });
  const transport = () =>
    new PostgresTransport({ connectionString: postgresUrl, schema, pollMs: 100, poolSize: 2 }, { logger: silentLogger });
  const endpoint = 'stop-work';

  // First instance: concurrency 1, prefetch 4. Message 0's handler waits; 1 is held by the endpoint
  // for a free slot, 2 (and 3, if claimed) sit in the consumer's buffer.
  const release = gate();
  const started: number[] = [];
  const first: Bus = createBus({ service: 'stop-first', transport: transport(), logger: silentLogger });
  first.endpoint(
    endpoint,
    (e) =>
      e.on(Work, async (m) => {
        started.push(m.n);
        waiter.notify();
        if (m.n === 0) await release.promise;
      }),
    { concurrency: 1, prefetch: 4 },
  );
  await first.start();
  cleanups.push(() => first.stop());
  const admin = transport();
  cleanups.push(() => admin.close());
  await admin.connect();
  for (const n of range(4)) await first.send(Work, { n });
  const inFlight = async () => (await admin.queues()).find((q) => q.name === endpoint)?.inFlight;
  await waiter.eventually(inFlight, (held) => held !== undefined && held >= 3 && started.length === 1, 'three claimed, message 0 started');

  const stopping = first.stop();
  // Once the consumer closed, only message 0 (its handler running) is still claimed.
  await waiter.eventually(inFlight, (held) => held === 1, 'the unstarted three handed back');
  release.open();
  await stopping;
  expect(started).toEqual([0]);

  // Consumed again: each of 1, 2 and 3 arrives as its first delivery.
  const counts: Record<string, number> = {};
  const iterator = admin.consume(endpoint, { prefetch: 3 })[Symbol.asyncIterator]();
  for (const _ of range(3)) {
    const delivery = (await iterator.next()).value as Delivery;
    counts[delivery.message.id] = delivery.deliveryCount;
    await delivery.ack();
  }
  expect(Object.values(counts)).toEqual([1, 1, 1]);
}, 60_000);
