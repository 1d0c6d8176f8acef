/**
 * Stopping a PostgreSQL consumer: what it claimed and never started goes back without counting as
 * a delivery (it must not bring a message closer to `maxDeliveries`), including the delivery the
 * endpoint's loop held while it waited for a free handler slot (`Delivery.release`), and what a
 * claim still under way when the consumer closed brings back, even if the transport closes next.
 * A closed transport refuses to consume with `BusStateError` `CLOSED` rather than handing out a
 * consumer that ends at once.
 */
import { afterEach, expect, it } from 'vitest';
import { z } from 'zod';
import { BusStateError, createBus, defineCommand, silentLogger, type Bus } from '@missive/core';
import type { Delivery } from '@missive/core/transport';
import { createWaiter } from '@missive/testing';
import { gate, range } from '@missive/testing/vitest';
import type { ClaimedRow, PostgresConsumer } from './pg-consumer.js';
import { PostgresTransport } from './pg-transport.js';
import { dropSchema, needPostgres, postgresUrl, sql, uniqueSchema } from './test-support/database.js';

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

/** A transport whose first claim that finds rows holds them on their way back until `held` opens. */
class HeldClaim extends PostgresTransport {
  readonly claimed = gate();
  readonly held = gate();
  private holding = true;

  override async claim(queue: string, room: number): Promise<ClaimedRow[]> {
    const rows = await super.claim(queue, room);
    if (rows.length > 0 && this.holding) {
      this.holding = false;
      this.claimed.open();
      await this.held.promise;
    }
    return rows;
  }
}

// The conformance case "a message that keeps killing its consumer" stops its bus with a claim (the
// poll's) under way: the consumer closed first, so the transport's close did not wait for that claim,
// and its rows came back after the transport closed, when giving them back was a no-op. They stayed
// leased to a gone connection, counted as a delivery no handler saw (one too many: the poison message
// was dead-lettered before its third run).
it('a claim under way when its consumer closes goes back, uncounted, before the transport closes', async (ctx) => {
  if (!(await needPostgres(ctx))) return;
  const schema = uniqueSchema('stop');
  cleanups.push(() => dropSchema(schema));
  const transport = new HeldClaim(
    { connectionString: postgresUrl, schema, pollMs: 60_000, leaseMs: 60_000, poolSize: 2 },
    { logger: silentLogger },
  );
  cleanups.push(() => transport.close());
  await transport.connect();
  await transport.declare({ name: 'held', topics: [] });
  await transport.send('held', { id: 'm-1', type: 'stop.work', body: Buffer.from('{}'), headers: {} });
  const consumer = transport.consume('held', { prefetch: 2 }) as PostgresConsumer;
  await transport.claimed.promise; // leased and counted in the database; the rows are on their way back
  await consumer.close();

  // The rows arrive once the transport's close asks the consumer for what it hands back, or after that close.
  const handedBack = consumer.handedBack.bind(consumer);
  consumer.handedBack = () => {
    transport.held.open();
    return handedBack();
  };
  await transport.close();
  transport.held.open();
  await handedBack();

  expect(await sql(`select delivery_count, lease_token from "${schema}".messages`)).toEqual([{ delivery_count: 0, lease_token: null }]);
}, 60_000);

it('a closed transport refuses to consume with BusStateError CLOSED', async (ctx) => {
  if (!(await needPostgres(ctx))) return;
  const schema = uniqueSchema('stop');
  cleanups.push(() => dropSchema(schema));
  const transport = new PostgresTransport({ connectionString: postgresUrl, schema }, { logger: silentLogger });
  await transport.connect();
  await transport.declare({ name: 'closed-work', topics: [] });
  await transport.close();
  let refused: unknown;
  try {
    transport.consume('closed-work', { prefetch: 1 });
  } catch (error) {
    refused = error;
  }
  expect(refused).toBeInstanceOf(BusStateError);
  expect((refused as BusStateError).code).toBe('CLOSED');
});
