/**
 * The outbox and inbox in the application's own `pg` transaction: the business write, the handled
 * mark and the outgoing messages commit or roll back together.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import pg from 'pg';
import { z } from 'zod';
import { createBus, defineCommand, defineEvent, silentLogger, type Bus } from '@missive/core';
import { createWaiter } from '@missive/testing';
import { PostgresMessageStore } from './pg-message-store.js';
import { PostgresOutbox } from './pg-outbox.js';
import { PostgresTransport } from './pg-transport.js';
import { dropSchema, needPostgres, postgresUrl, uniqueSchema } from './test-support/database.js';

let schema: string;
let pool: pg.Pool;
let bus: Bus;
let store: PostgresMessageStore;
let outbox: PostgresOutbox;
const waiter = createWaiter();

const OrderPlaced = defineEvent('tx-test.order-placed', z.object({ orderId: z.string() }));
const ChargeCard = defineCommand('tx-test.charge-card', z.object({ orderId: z.string(), failOnce: z.boolean().optional() }));
const CardCharged = defineEvent('tx-test.card-charged', z.object({ orderId: z.string() }));

async function inTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const value = await work(client);
    await client.query('commit');
    return value;
  } catch (error) {
    await client.query('rollback');
    throw error;
  } finally {
    client.release();
  }
}

const placed: string[] = [];
const charged: string[] = [];
const attempts = new Map<string, number>();

beforeEach(async (ctx) => {
  if (!(await needPostgres(ctx))) return;
  schema = uniqueSchema('tx');
  pool = new pg.Pool({ connectionString: postgresUrl, max: 4 });
  await pool.query(`create schema "${schema}"`);
  await pool.query(`create table "${schema}".orders (id text primary key)`);
  await pool.query(`create table "${schema}".charges (order_id text not null)`);
  store = new PostgresMessageStore({ pool, schema });
  bus = createBus({
    service: 'tx-test',
    logger: silentLogger,
    retry: { immediate: 1, delayed: false },
    transport: new PostgresTransport({ connectionString: postgresUrl, schema, pollMs: 200, poolSize: 4 }),
  });
  outbox = new PostgresOutbox(bus, store, { pollIntervalMs: 100 });
  placed.length = 0;
  charged.length = 0;
  attempts.clear();
  bus.endpoint('tx-analytics', (e) => {
    e.on(OrderPlaced, (m) => {
      placed.push(m.orderId);
      waiter.notify();
    });
    e.on(CardCharged, (m) => {
      charged.push(m.orderId);
      waiter.notify();
    });
  });
  bus.endpoint('tx-payment', (e) =>
    e.on(ChargeCard, async (m, ctx) => {
      attempts.set(m.orderId, (attempts.get(m.orderId) ?? 0) + 1);
      await inTransaction(async (client) => {
        if (!(await outbox.markHandled(client, ctx))) return; // a redelivery of a message already handled
        await client.query(`insert into "${schema}".charges (order_id) values ($1)`, [m.orderId]);
        await outbox.publish(client, CardCharged, { orderId: m.orderId }, undefined, ctx);
        if (m.failOnce === true && attempts.get(m.orderId) === 1) throw new Error('the transaction fails after its writes');
      });
      if (m.orderId.startsWith('dup') && attempts.get(m.orderId) === 1)
        throw new Error('fails after the commit: the message is delivered again');
    }),
  );
  await bus.start();
});

afterEach(async () => {
  if (bus === undefined) return;
  await bus.stop();
  await pool.end();
  await dropSchema(schema);
});

it('a business write and the messages it publishes commit together', async () => {
  await inTransaction(async (client) => {
    await client.query(`insert into "${schema}".orders (id) values ($1)`, ['o-1']);
    await outbox.publish(client, OrderPlaced, { orderId: 'o-1' });
  });
  outbox.kick();
  await waiter.until(() => placed.includes('o-1'), 'o-1 published after the commit');
  expect((await pool.query(`select id from "${schema}".orders`)).rows).toEqual([{ id: 'o-1' }]);
});

it('a rolled-back transaction publishes nothing and writes nothing', async () => {
  await expect(
    inTransaction(async (client) => {
      await client.query(`insert into "${schema}".orders (id) values ($1)`, ['o-lost']);
      await outbox.publish(client, OrderPlaced, { orderId: 'o-lost' });
      throw new Error('business rule broken');
    }),
  ).rejects.toThrow('business rule broken');
  // The relay removes what it sent after sending it, so a handler may see the message first: the
  // removal is held until then (this test read the outbox right after the handler ran, and raced it).
  let handled!: () => void;
  const markerHandled = new Promise<void>((resolve) => (handled = resolve));
  const removeOutbox = store.removeOutbox.bind(store);
  store.removeOutbox = async (ids) => {
    await markerHandled;
    return removeOutbox(ids);
  };
  // A later commit through the same outbox arrives; the rolled-back message never does.
  await inTransaction((client) => outbox.publish(client, OrderPlaced, { orderId: 'o-marker' }));
  outbox.kick();
  await waiter.until(() => placed.includes('o-marker'), 'the marker');
  expect(placed).toEqual(['o-marker']);
  expect((await pool.query(`select id from "${schema}".orders`)).rowCount).toBe(0);
  handled();
  await waiter.eventually(
    () => store.pendingOutbox(10),
    (rows) => rows.length === 0,
    'the relay to remove the marker it sent',
  );
});

it('a handler redelivered after its commit does its work once: the inbox mark committed with it', async () => {
  await bus.send(ChargeCard, { orderId: 'dup-1' });
  await waiter.until(() => attempts.get('dup-1') === 2 && charged.includes('dup-1'), 'the second delivery and the published event');
  await bus.publish(OrderPlaced, { orderId: 'o-after' });
  await waiter.until(() => placed.includes('o-after'), 'a later message');
  expect(charged).toEqual(['dup-1']);
  expect((await pool.query(`select order_id from "${schema}".charges`)).rows).toEqual([{ order_id: 'dup-1' }]);
  const marks = await pool.query<{ message_id: string }>(`select message_id from "${schema}".inbox where endpoint = 'tx-payment'`);
  expect(marks.rowCount).toBe(1);
  expect(await store.processed('tx-payment', marks.rows[0]!.message_id)).toBe(true);
});

it('a handler whose transaction rolls back leaves no mark: the retry does the work', async () => {
  await bus.send(ChargeCard, { orderId: 'c-1', failOnce: true });
  await waiter.until(() => charged.includes('c-1'), 'the event of the retry');
  expect(attempts.get('c-1')).toBe(2);
  expect((await pool.query(`select order_id from "${schema}".charges`)).rows).toEqual([{ order_id: 'c-1' }]);
  expect(charged).toEqual(['c-1']);
});
