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

/**
 * A consumer bus and a sender bus on `url`/`schema`; the consumer records every n it handled. The
 * handler of an n in `holds` waits for that promise: its delivery is unsettled until the test lets it go.
 */
async function pair(url: string, schema: string, name: string, holds: ReadonlyMap<number, Promise<void>> = new Map()) {
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
      e.on(Work, async (m) => {
        got.add(m.n);
        waiter.notify();
        await holds.get(m.n);
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

/** Sends `from` … `to - 1`, all at once (sequential durable commits take seconds each on a loaded machine). */
async function sendRange(sender: Bus, from: number, to: number): Promise<void> {
  await Promise.all(range(to - from).map((i) => sender.send(Work, { n: from + i })));
}

it('a consumer whose connections are killed with pg_terminate_backend mid-stream reconnects and loses nothing', async (ctx) => {
  if (!(await needPostgres(ctx))) return;
  const schema = uniqueSchema('faults');
  cleanups.push(() => dropSchema(schema));
  const name = `missive-fault-${schema}`;
  // Messages 50 and 100 are being handled when the connections are killed: mid-stream by construction.
  const releases = new Map<number, () => void>();
  const holds = new Map([50, 100].map((n) => [n, new Promise<void>((resolve) => releases.set(n, resolve))]));
  const { got, waiter, sender } = await pair(postgresUrl, schema, name, holds);
  const total = 150;
  let killed = 0;
  for (const [from, to] of [
    [0, 50],
    [50, 100],
    [100, 150],
  ] as const) {
    await sendRange(sender, from, to);
    if (from === 0) continue;
    await waiter.until(() => got.has(from), `message ${from} being handled (have ${got.size})`);
    const rows = await sql<{ ok: boolean }>('select pg_terminate_backend(pid) ok from pg_stat_activity where application_name = $1', [
      name,
    ]);
    killed += rows.length;
    releases.get(from)!();
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
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  // Message 40 is being handled when the server goes down: mid-stream by construction.
  const { got, waiter, sender } = await pair(server.url, 'missive', 'missive-restart', new Map([[40, held]]));
  const total = 200;
  const started = async () => (await sql<{ t: Date }>('select pg_postmaster_start_time() t', [], server.url))[0]!.t.getTime();
  const before = await started();
  await sendRange(sender, 0, 80);
  await waiter.until(() => got.has(40), `message 40 being handled (have ${got.size})`);
  // Publishes under way during the outage wait for the server (retried on new connections), then resolve.
  const later = sendRange(sender, 80, total);
  await server.restart('immediate');
  release();
  await later;
  await waiter.until(() => got.size === total, `all ${total} handled after the restart (have ${got.size})`);
  expect(await started()).toBeGreaterThan(before); // it really was restarted
  expect([...got].sort((a, b) => a - b)).toEqual(range(total));
}, 120_000);
