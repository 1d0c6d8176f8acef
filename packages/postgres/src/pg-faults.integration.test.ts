/**
 * Faults on the PostgreSQL transport: the consumer's connections killed with
 * `pg_terminate_backend` mid-stream (it reconnects, nothing is lost), and the server restarted
 * mid-stream (a private instance, never the shared one). A consumer process killed with SIGKILL is
 * covered by the conformance suite's process cases.
 */
import { afterEach, expect, it } from 'vitest';
import { z } from 'zod';
import { createBus, defineCommand, silentLogger, type Bus } from '@missive/core';
import { createWaiter } from '@missive/testing';
import { brokersRequired, range } from '@missive/testing/vitest';
import { PostgresTransport } from './pg-transport.js';
import { dropSchema, needPostgres, postgresUrl, sql, uniqueSchema } from './test-support/database.js';
import { ownServerUnavailable, startOwnServer, type OwnServer } from './test-support/own-server.js';

const Work = defineCommand('faults.work', z.object({ n: z.number() }));
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanups.splice(0).reverse()) await step().catch(() => undefined);
});

/** A consumer bus and a sender bus on `url`/`schema`; the consumer records every n it handled. */
async function pair(url: string, schema: string, name: string) {
  const waiter = createWaiter({ timeoutMs: 60_000 });
  const got = new Set<number>();
  const transport = () =>
    new PostgresTransport(
      { connectionString: url, schema, pollMs: 200, leaseMs: 5000, poolSize: 3, applicationName: name },
      { logger: silentLogger },
    );
  const consumer: Bus = createBus({ service: `${name}-consumer`, transport: transport(), logger: silentLogger });
  consumer.endpoint(
    'fault-workers',
    (e) =>
      e.on(Work, (m) => {
        got.add(m.n);
        waiter.notify();
      }),
    { concurrency: 4 },
  );
  const sender: Bus = createBus({
    service: `${name}-sender`,
    transport: new PostgresTransport({ connectionString: url, schema, pollMs: 200, poolSize: 2 }, { logger: silentLogger }),
    logger: silentLogger,
  });
  await consumer.start();
  await sender.start();
  cleanups.push(
    () => sender.stop(),
    () => consumer.stop(),
  );
  return { got, waiter, consumer, sender };
}

it('a consumer whose connections are killed with pg_terminate_backend mid-stream reconnects and loses nothing', async (ctx) => {
  if (!(await needPostgres(ctx))) return;
  const schema = uniqueSchema('faults');
  cleanups.push(() => dropSchema(schema));
  const name = `missive-fault-${schema}`;
  const { got, waiter, sender } = await pair(postgresUrl, schema, name);
  const total = 300;
  let killed = 0;
  for (const n of range(total)) {
    await sender.send(Work, { n });
    if (n === 100 || n === 200) {
      await waiter.until(() => got.size > n - 50, `the consumer to be working (${got.size})`);
      const rows = await sql<{ ok: boolean }>('select pg_terminate_backend(pid) ok from pg_stat_activity where application_name = $1', [
        name,
      ]);
      killed += rows.length;
    }
  }
  expect(killed).toBeGreaterThan(0);
  await waiter.until(() => got.size === total, `all ${total} handled (have ${got.size})`);
  expect([...got].sort((a, b) => a - b)).toEqual(range(total));
}, 90_000);

it('the server restarted mid-stream: consumers and publishers reconnect and nothing confirmed is lost', async (ctx) => {
  const missing = await ownServerUnavailable();
  if (missing !== undefined) {
    if (brokersRequired()) throw new Error(missing);
    ctx.skip(missing);
    return;
  }
  const server: OwnServer = await startOwnServer();
  cleanups.push(() => server.destroy());
  const { got, waiter, sender } = await pair(server.url, 'missive', 'missive-restart');
  const total = 200;
  const started = async () => (await sql<{ t: Date }>('select pg_postmaster_start_time() t', [], server.url))[0]!.t.getTime();
  const before = await started();
  for (const n of range(total)) {
    // A publish during the outage waits for the server (retried on new connections), then resolves.
    await sender.send(Work, { n });
    if (n === 80) {
      await waiter.until(() => got.size > 40, `the consumer to be working (${got.size})`);
      await server.restart('immediate');
    }
  }
  await waiter.until(() => got.size === total, `all ${total} handled after the restart (have ${got.size})`);
  expect(await started()).toBeGreaterThan(before); // it really was restarted
  expect([...got].sort((a, b) => a - b)).toEqual(range(total));
}, 120_000);
