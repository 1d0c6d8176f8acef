/**
 * `bus.stop()` on RabbitMQ drains without re-running completed work: the acks of the handlers that
 * finish during the drain reach the broker before the connection closes, so the next instance never
 * sees those messages again (the README's "completed work is never redelivered"). A handler that
 * fails during the drain is completed work too: its dead letter or delayed retry is published and
 * confirmed before the original is acked, and the channel must not close in between. A closed
 * transport refuses to consume with `BusStateError` `CLOSED` (one never connected: `NOT_STARTED`),
 * as SQLite, PostgreSQL and NATS do.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BusStateError, createBus, defineCommand, silentLogger, UnrecoverableError } from '@missive/core';
import { createWaiter } from '@missive/testing';
import { gate, range } from '@missive/testing/vitest';
import { cleanupAfterEach, needRabbitMq, rabbitUrl } from './test-support/broker.js';
import { RabbitMqTransport } from './rabbitmq-transport.js';

const cleanup = cleanupAfterEach();

const until = createWaiter({ timeoutMs: 30_000 }).until;

describe('rabbitmq stop', () => {
  it('handlers that finish during bus.stop() are acked before the connection closes: the next instance never runs them again', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const run = randomBytes(4).toString('hex');
    const queue = `stop-drain-${run}`;
    const Job = defineCommand(`stop.job-${run}`, z.object({ n: z.number() }));
    cleanup.push(async () => {
      const admin = new RabbitMqTransport({ url: rabbitUrl }, { logger: silentLogger });
      await admin.connect();
      await admin.deleteQueue(queue);
      await admin.deleteTopic(Job.name);
      await admin.close();
    });

    // The first instance: 8 handlers at once, 16 prefetched; every handler waits on a gate.
    const release = gate();
    const started: number[] = [];
    const completed = new Set<number>();
    const transport = new RabbitMqTransport({ url: rabbitUrl }, { logger: silentLogger });
    // The handlers finish right after stop() closed the consumer, as 2 s handlers do after a SIGTERM:
    // their acks go out while stop() goes on to close the connection.
    const consume = transport.consume.bind(transport);
    transport.consume = (name, options) => {
      const consumer = consume(name, options);
      const close = consumer.close.bind(consumer);
      consumer.close = async () => {
        await close();
        release.open();
      };
      return consumer;
    };
    const first = createBus({ service: 'stop-a', transport, logger: silentLogger, retry: { immediate: 0, delayed: false } });
    first.endpoint(
      queue,
      (e) =>
        e.on(Job, async ({ n }) => {
          started.push(n);
          await release.promise;
          completed.add(n);
        }),
      { concurrency: 8, prefetch: 16 },
    );
    await first.start();
    cleanup.push(() => first.stop({ timeoutMs: 0 }));
    for (const n of range(40)) await first.send(Job, { n });
    await until(() => started.length === 8, 'eight handlers running');

    // SIGTERM as a service handles it: stop (which drains), with the handlers finishing meanwhile.
    await first.stop({ timeoutMs: 10_000 });
    expect(completed.size).toBe(8);

    // The next instance takes the rest; a sentinel sent last marks the end of the queue.
    const second = createBus({
      service: 'stop-b',
      transport: new RabbitMqTransport({ url: rabbitUrl }, { logger: silentLogger }),
      logger: silentLogger,
      retry: { immediate: 0, delayed: false },
    });
    const again: number[] = [];
    second.endpoint(queue, (e) => e.on(Job, ({ n }) => void again.push(n)), { concurrency: 1, prefetch: 1 });
    await second.start();
    cleanup.push(() => second.stop({ timeoutMs: 0 }));
    await second.send(Job, { n: -1 });
    await until(() => again.includes(-1), 'the sentinel on the second instance');
    const rerun = again.filter((n) => completed.has(n));
    expect(rerun, `completed on the first instance, run again on the second`).toEqual([]);
    expect(new Set([...completed, ...again]).size).toBe(41);
  }, 60_000);
  it('handlers that fail during bus.stop() are dead-lettered or retried later, never also left in the queue for the next instance', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const run = randomBytes(4).toString('hex');
    const queue = `stop-fail-${run}`;
    const Job = defineCommand(`stop.fail-${run}`, z.object({ n: z.number() }));
    cleanup.push(async () => {
      const admin = new RabbitMqTransport({ url: rabbitUrl }, { logger: silentLogger });
      await admin.connect();
      await admin.deleteQueue(queue);
      await admin.deleteTopic(Job.name);
      await admin.close();
    });

    // 8 handlers wait on a gate, opened once stop() closed the consumer; then the even ones are
    // dead-lettered and the odd ones fail into a delayed retry (a republish to a delay queue).
    const release = gate();
    const started: number[] = [];
    const deadLettered: string[] = [];
    const transport = new RabbitMqTransport({ url: rabbitUrl }, { logger: silentLogger });
    const consume = transport.consume.bind(transport);
    transport.consume = (name, options) => {
      const consumer = consume(name, options);
      const close = consumer.close.bind(consumer);
      consumer.close = async () => {
        await close();
        release.open();
      };
      return consumer;
    };
    const first = createBus({
      service: 'stop-fail-a',
      transport,
      logger: silentLogger,
      retry: { immediate: 0, delayed: { attempts: 1, initialMs: 60_000, factor: 1, jitter: 0 } },
    });
    first.endpoint(
      queue,
      (e) =>
        e.on(Job, async ({ n }, { messageId }) => {
          started.push(n);
          if (n % 2 === 0) deadLettered.push(messageId);
          await release.promise;
          if (n % 2 === 0) throw new UnrecoverableError(`job ${n} dead-lettered during the drain`);
          throw new Error(`job ${n} retried in a minute`);
        }),
      { concurrency: 8, prefetch: 16 },
    );
    await first.start();
    cleanup.push(() => first.stop({ timeoutMs: 0 }));
    for (const n of range(40)) await first.send(Job, { n });
    await until(() => started.length === 8, 'eight handlers running');
    const failed = new Set(started);
    await first.stop({ timeoutMs: 10_000 });

    const second = createBus({
      service: 'stop-fail-b',
      transport: new RabbitMqTransport({ url: rabbitUrl }, { logger: silentLogger }),
      logger: silentLogger,
      retry: { immediate: 0, delayed: false },
    });
    const again: number[] = [];
    second.endpoint(queue, (e) => e.on(Job, ({ n }) => void again.push(n)), { concurrency: 1, prefetch: 1 });
    await second.start();
    cleanup.push(() => second.stop({ timeoutMs: 0 }));
    await second.send(Job, { n: -1 });
    await until(() => again.includes(-1), 'the sentinel on the second instance');
    expect(
      again.filter((n) => failed.has(n)),
      'failed (dead-lettered or retried later) on the first instance, handled at once on the second',
    ).toEqual([]);
    expect(new Set([...failed, ...again]).size).toBe(41);
    const letters = await second.deadLetters.list(queue);
    expect(letters.map((l) => l.message.id).sort()).toEqual([...deadLettered].sort());
  }, 60_000);

  it('a closed transport refuses to consume with BusStateError CLOSED, one never connected with NOT_STARTED', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const refusal = (transport: RabbitMqTransport): unknown => {
      try {
        transport.consume(`never-${randomBytes(4).toString('hex')}`, { prefetch: 1 });
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const transport = new RabbitMqTransport({ url: rabbitUrl }, { logger: silentLogger });
    const unconnected = refusal(transport);
    expect(unconnected).toBeInstanceOf(BusStateError);
    expect((unconnected as BusStateError).code).toBe('NOT_STARTED');
    await transport.connect();
    await transport.close();
    const closed = refusal(transport);
    expect(closed).toBeInstanceOf(BusStateError);
    expect((closed as BusStateError).code).toBe('CLOSED');
    expect((closed as BusStateError).message).toBe('rabbitmq transport is closed');
  });
});
