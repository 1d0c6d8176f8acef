/** Leases and keys under concurrency on the PostgreSQL transport. */
import { afterEach, expect, it } from 'vitest';
import { z } from 'zod';
import { createBus, defineCommand, silentLogger } from '@missive/core';
import type { Delivery } from '@missive/core/transport';
import { range } from '@missive/testing/vitest';
import { PostgresTransport } from './pg-transport.js';
import { dropSchema, needPostgres, postgresUrl, sql, uniqueSchema } from './test-support/database.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanups.splice(0).reverse()) await step().catch(() => undefined);
});

function open(leaseMs: number) {
  const schema = uniqueSchema('lease');
  cleanups.push(() => dropSchema(schema));
  return {
    schema,
    async connect(): Promise<PostgresTransport> {
      const t = new PostgresTransport(
        { connectionString: postgresUrl, schema, leaseMs, pollMs: 50, poolSize: 3 },
        { logger: silentLogger },
      );
      cleanups.push(() => t.close());
      await t.connect();
      return t;
    },
  };
}

async function first(transport: PostgresTransport, queue: string): Promise<Delivery> {
  const iterator = transport.consume(queue, { prefetch: 1 })[Symbol.asyncIterator]();
  return (await iterator.next()).value as Delivery;
}

it('an ack that arrives after the lease expired does not ack the redelivered copy', async (ctx) => {
  if (!(await needPostgres(ctx))) return;
  const db = open(60_000);
  const a = await db.connect();
  await a.declare({ name: 'q', topics: [] });
  await a.send('q', { id: 'm', type: 't', body: Buffer.from('x'), headers: {} });
  const stale = await first(a, 'q');
  // A stalled process: its lease runs out (set in the past here rather than waited for).
  await sql(`update "${db.schema}".messages set lease_until = 0`);
  const b = await db.connect();
  const fresh = await first(b, 'q');
  expect(fresh.deliveryCount).toBe(2);
  await stale.ack(); // too late: a no-op
  expect((await b.queues()).find((q) => q.name === 'q')?.inFlight).toBe(1);
  await fresh.ack();
  expect((await b.queues()).find((q) => q.name === 'q')).toMatchObject({ depth: 0, inFlight: 0 });
});

it('a handler that runs longer than several leases keeps its lease', async (ctx) => {
  if (!(await needPostgres(ctx))) return;
  // Long enough that a loaded machine's stall between two extensions (a third of it) does not
  // lose it: with 300 ms, a 200 ms stall let the other bus take the message (a flake at load 20).
  const leaseMs = 3000;
  const db = open(leaseMs);
  const Slow = defineCommand('t.slow', z.object({}));
  let runs = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  const leaseUntil = async () => Number((await sql<{ l: string }>(`select lease_until l from "${db.schema}".messages`))[0]?.l ?? 0);
  const bus = createBus({ service: 'slow', transport: await db.connect(), logger: silentLogger });
  bus.endpoint('slow', (e) =>
    e.on(Slow, async () => {
      runs++;
      const first = await leaseUntil();
      started();
      // The work goes on until the lease was extended past two more leases (the store shows it).
      while ((await leaseUntil()) < first + 2 * leaseMs) await new Promise((resolve) => setTimeout(resolve, 100));
      finish();
    }),
  );
  const other = createBus({ service: 'other', transport: await db.connect(), logger: silentLogger });
  other.endpoint('slow', (e) => e.on(Slow, () => void runs++));
  await bus.start();
  await bus.send(Slow, {});
  // The first bus holds the message before the other one competes (under load the other's first
  // claim could come first: it handled the message and this one never ran, a 30 s timeout).
  await running;
  await other.start();
  await finished;
  await bus.stop();
  await other.stop();
  expect(runs).toBe(1);
});

it('keyed messages written by many connections at once keep exactly one claimable head per key, and every message comes out', async (ctx) => {
  if (!(await needPostgres(ctx))) return;
  const db = open(60_000);
  const writers = await Promise.all(range(4).map(() => db.connect()));
  await writers[0]!.declare({ name: 'keyed', topics: ['t.keyed'], ordered: true });
  await Promise.all(
    writers.map((w, i) =>
      Promise.all(
        range(25).map((n) =>
          w.publish('t.keyed', { id: `w${i}-${n}`, type: 't.keyed', body: Buffer.from('x'), headers: {}, partitionKey: `k${n % 3}` }),
        ),
      ),
    ),
  );
  const heads = await sql<{ partition_key: string; n: string }>(
    `select partition_key, count(*) n from "${db.schema}".messages where not blocked group by partition_key order by 1`,
  );
  expect(heads).toEqual([
    { partition_key: 'k0', n: '1' },
    { partition_key: 'k1', n: '1' },
    { partition_key: 'k2', n: '1' },
  ]);
  // Drain key by key: each head, once acked, hands over to the next of its key, and all 100 come out.
  const consumer = writers[1]!.consume('keyed', { prefetch: 3 });
  let handled = 0;
  for await (const delivery of consumer) {
    await delivery.ack();
    if (++handled === 100) break;
  }
  expect((await sql<{ n: string }>(`select count(*) n from "${db.schema}".messages`))[0]!.n).toBe('0');
});
