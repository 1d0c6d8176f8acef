/**
 * The outbox in the application's own transaction through Kysely's and Drizzle's interactive
 * transactions (on `pg`), with the README's adapters: the business write (the ORM's own query
 * builder) and the outgoing message commit together or roll back together, and the inbox mark
 * taken in a transaction makes a second handling a no-op.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import pg from 'pg';
import { z } from 'zod';
import { Kysely, PostgresDialect } from 'kysely';
import { drizzle } from 'drizzle-orm/node-postgres';
import { pgSchema, text } from 'drizzle-orm/pg-core';
import { createBus, defineEvent, silentLogger, type Bus, type MessageContext } from '@missive/core';
import { createWaiter } from '@missive/testing';
import { PostgresMessageStore } from './pg-message-store.js';
import { PostgresOutbox } from './pg-outbox.js';
import { PostgresTransport } from './pg-transport.js';
import { dropSchema, needPostgres, postgresUrl, uniqueSchema } from './test-support/database.js';
import { drizzleSql, kyselySql } from './test-support/orm-adapters.js';

const OrderPlaced = defineEvent('orm-test.order-placed', z.object({ orderId: z.string() }));

interface Tables {
  orders: { id: string };
}

let schema: string;
let pool: pg.Pool;
let bus: Bus;
let store: PostgresMessageStore;
let outbox: PostgresOutbox;
let placed: string[];
const waiter = createWaiter();

beforeEach(async (ctx) => {
  if (!(await needPostgres(ctx))) return;
  schema = uniqueSchema('orm');
  pool = new pg.Pool({ connectionString: postgresUrl, max: 4 });
  await pool.query(`create schema "${schema}"`);
  await pool.query(`create table "${schema}".orders (id text primary key)`);
  store = new PostgresMessageStore({ pool, schema });
  bus = createBus({
    service: 'orm-test',
    logger: silentLogger,
    transport: new PostgresTransport({ connectionString: postgresUrl, schema, pollMs: 200, poolSize: 3 }),
  });
  outbox = new PostgresOutbox(bus, store, { pollIntervalMs: 100 });
  placed = [];
  bus.endpoint('orm-analytics', (e) =>
    e.on(OrderPlaced, (m) => {
      placed.push(m.orderId);
      waiter.notify();
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

const orders = async () => (await pool.query<{ id: string }>(`select id from "${schema}".orders order by id`)).rows.map((r) => r.id);

/** A committed marker through plain `pg`: once it arrives, every earlier commit's message has too. */
async function marker(): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await outbox.publish(client, OrderPlaced, { orderId: 'marker' });
    await client.query('commit');
  } finally {
    client.release();
  }
  outbox.kick();
  await waiter.until(() => placed.includes('marker'), 'the marker');
}

/** The handler context `markHandled` reads (endpoint and message id). */
const handling = (messageId: string) => ({ endpoint: 'orm-payment', messageId }) as MessageContext;

it('Kysely: the business write and its message commit together, or roll back together', async () => {
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  await db.transaction().execute(async (trx) => {
    await trx.withSchema(schema).insertInto('orders').values({ id: 'k-1' }).execute();
    await outbox.publish(kyselySql(trx), OrderPlaced, { orderId: 'k-1' });
  });
  await expect(
    db.transaction().execute(async (trx) => {
      await trx.withSchema(schema).insertInto('orders').values({ id: 'k-lost' }).execute();
      await outbox.publish(kyselySql(trx), OrderPlaced, { orderId: 'k-lost' });
      throw new Error('business rule broken');
    }),
  ).rejects.toThrow('business rule broken');
  await marker();
  expect(placed.sort()).toEqual(['k-1', 'marker']);
  expect(await orders()).toEqual(['k-1']);
  // The inbox mark in a Kysely transaction: the first handling marks, the second finds it.
  const mark = () => db.transaction().execute((trx) => outbox.markHandled(kyselySql(trx), handling('m-k')));
  expect(await mark()).toBe(true);
  expect(await mark()).toBe(false);
});

it('Drizzle: the business write and its message commit together, or roll back together', async () => {
  const db = drizzle(pool);
  const ordersTable = pgSchema(schema).table('orders', { id: text('id').primaryKey() });
  await db.transaction(async (tx) => {
    await tx.insert(ordersTable).values({ id: 'd-1' });
    await outbox.publish(drizzleSql(tx), OrderPlaced, { orderId: 'd-1' });
  });
  await expect(
    db.transaction(async (tx) => {
      await tx.insert(ordersTable).values({ id: 'd-lost' });
      await outbox.publish(drizzleSql(tx), OrderPlaced, { orderId: 'd-lost' });
      tx.rollback();
    }),
  ).rejects.toThrow();
  await marker();
  expect(placed.sort()).toEqual(['d-1', 'marker']);
  expect(await orders()).toEqual(['d-1']);
  const mark = () => db.transaction((tx) => outbox.markHandled(drizzleSql(tx), handling('m-d')));
  expect(await mark()).toBe(true);
  expect(await mark()).toBe(false);
});
