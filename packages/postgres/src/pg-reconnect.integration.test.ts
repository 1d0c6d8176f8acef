/**
 * Losing PostgreSQL, through the fault proxy (`@missive/testing`): one reconnect loop with capped
 * backoff per transport however many publishes wait, a bound on the waiting publishes
 * (`PostgresBacklogFullError`), a wait that ends (`PostgresUnavailableError`), the outage logged
 * once (lost, recovered), and a silent (blackholed) link noticed by the listening connection's
 * ping and recovered. See `pg-link.ts`.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { TransportError, type LogFields, type Logger, type TransportMessage } from '@missive/core';
import { createWaiter, startFaultProxy, type FaultProxy } from '@missive/testing';
import { range } from '@missive/testing/vitest';
import { PostgresBacklogFullError, PostgresUnavailableError } from './index.js';
import { PostgresTransport } from './pg-transport.js';
import { dropSchema, needPostgres, postgresUrl, uniqueSchema } from './test-support/database.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanups.splice(0).reverse()) await step().catch(() => undefined);
});

/** A logger that keeps every line's level and message. */
function recordingLogger(onLine: () => void): Logger & { readonly lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  const method =
    (level: string) =>
    (fields: LogFields | string, message?: string): void => {
      lines.push({ level, message: typeof fields === 'string' ? fields : (message ?? '') });
      onLine();
    };
  return { lines, debug: method('debug'), info: method('info'), warn: method('warn'), error: method('error') };
}

function message(n: number): TransportMessage {
  return { id: randomUUID(), type: 'reconnect.test', body: new TextEncoder().encode(String(n)), headers: {} };
}

/** A transport through a fault proxy in front of the shared server, on a schema of its own, with one queue. */
async function throughProxy(options: { maxBuffered?: number; reconnectMs?: number; heartbeatMs?: number }) {
  const waiter = createWaiter({ timeoutMs: 60_000 });
  const target = new URL(postgresUrl);
  const proxy: FaultProxy = await startFaultProxy({ host: target.hostname, port: Number(target.port || 5432) });
  const schema = uniqueSchema('reconnect');
  const via = new URL(postgresUrl);
  via.port = String(proxy.port);
  const logger = recordingLogger(() => waiter.notify());
  const transport = new PostgresTransport(
    { connectionString: via.href, schema, poolSize: 2, pollMs: 200, reconnectMs: 60_000, heartbeatMs: 1000, ...options },
    { logger },
  );
  cleanups.push(
    () => dropSchema(schema),
    () => proxy.close(),
    () => transport.close(),
    async () => proxy.blackhole(false),
    async () => proxy.refuse(false),
  );
  await transport.connect();
  const queue = 'reconnect-work';
  await transport.declare({ name: queue, topics: [] });
  await transport.send(queue, message(-1));
  const logged = (level: string, pattern: RegExp) => logger.lines.filter((l) => l.level === level && pattern.test(l.message)).length;
  return { waiter, proxy, transport, queue, logged };
}

/**
 * The most connection attempts one reconnect loop can make in `ms`: its pauses are drawn between
 * half and all of 100 ms doubling to 1 s (`pg-link.ts`), so at least 50, 100, 200, 400, then 500 ms.
 */
function mostAttempts(ms: number): number {
  let n = 0;
  for (let spent = 0, pause = 50; spent + pause <= ms; n++, spent += pause, pause = Math.min(500, pause * 2));
  return n + 1;
}

it('an outage with 300 publishes waiting: one reconnect loop with backoff, at most maxBuffered wait, the rest fail at once, logged once', async (ctx) => {
  if (!(await needPostgres(ctx))) return;
  const maxBuffered = 100;
  const { waiter, proxy, transport, queue, logged } = await throughProxy({ maxBuffered });

  proxy.refuse(true);
  proxy.cut();
  const downAt = performance.now();
  const before = proxy.attempts.length;
  const outcomes: string[] = []; // 'confirmed', 'backlog full', or what else happened
  const sends = range(300).map((n) =>
    transport.send(queue, message(n)).then(
      () => void outcomes.push('confirmed'),
      (error: unknown) => void outcomes.push(error instanceof PostgresBacklogFullError ? 'backlog full' : String(error)),
    ),
  );
  for (const send of sends) void send.then(() => waiter.notify());
  await waiter.until(() => outcomes.length >= 300 - maxBuffered, 'the publishes past maxBuffered to fail at once');
  expect(outcomes.every((o) => o === 'backlog full')).toBe(true);
  await waiter.until(() => logged('warn', /connection lost/) === 1, 'the outage logged');
  // The reconnect loop keeps trying, with growing pauses.
  await waiter.until(() => proxy.attempts.length - before >= 8, 'eight connection attempts while the server is away');
  const upAt = performance.now();
  proxy.refuse(false);
  const attempts = proxy.attempts.filter((t) => t >= downAt && t < upAt).length;
  // Whatever the number of waiting publishes: one loop, plus at most one attempt per pool connection (2 + 2) as it went down.
  expect(attempts).toBeLessThanOrEqual(mostAttempts(upAt - downAt) + 4);

  await Promise.all(sends);
  const confirmed = outcomes.filter((o) => o === 'confirmed').length;
  expect(outcomes.filter((o) => o !== 'confirmed' && o !== 'backlog full')).toEqual([]); // only the typed error
  expect(confirmed).toBeGreaterThan(0);
  expect(confirmed).toBeLessThanOrEqual(maxBuffered);
  await waiter.until(() => logged('info', /connection recovered/) === 1, 'the recovery logged');
  expect(logged('warn', /connection lost/)).toBe(1); // once per outage, not per attempt or per operation
  const depth = (await transport.queues()).find((q) => q.name === queue)?.depth;
  expect(depth).toBe(confirmed + 1); // every confirmed publish is in the queue
}, 120_000);

it('a publish that cannot wait any longer (reconnectMs) fails with PostgresUnavailableError, retryable', async (ctx) => {
  if (!(await needPostgres(ctx))) return;
  const { waiter, proxy, transport, queue, logged } = await throughProxy({ reconnectMs: 500 });
  proxy.refuse(true);
  proxy.cut();
  await waiter.until(() => logged('warn', /connection lost/) === 1, 'the outage noticed');
  const error = await transport.send(queue, message(1)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PostgresUnavailableError);
  expect(error).toBeInstanceOf(TransportError);
  expect((error as TransportError).retryable).toBe(true);
  proxy.refuse(false);
  await waiter.until(() => logged('info', /connection recovered/) === 1, 'the recovery');
  await transport.send(queue, message(2));
}, 60_000);

it('a silent link (blackholed): the ping notices it, statements under way are run again, and it recovers', async (ctx) => {
  if (!(await needPostgres(ctx))) return;
  const { waiter, proxy, transport, queue, logged } = await throughProxy({ heartbeatMs: 500 });
  proxy.blackhole(true); // nothing arrives, nothing closes
  let done = false;
  const send = transport.send(queue, message(1)).then(() => {
    done = true;
    waiter.notify();
  });
  await waiter.until(() => logged('warn', /connection lost/) === 1, 'the dead link noticed while it is still dark');
  expect(done).toBe(false);
  proxy.blackhole(false);
  await send;
  await waiter.until(() => logged('info', /connection recovered/) === 1, 'the recovery logged');
  const depth = (await transport.queues()).find((q) => q.name === queue)?.depth;
  expect(depth).toBe(2);
}, 60_000);
