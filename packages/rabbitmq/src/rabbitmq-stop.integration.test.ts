/**
 * `bus.stop()` on RabbitMQ drains without re-running completed work: the acks of the handlers that
 * finish during the drain reach the broker before the connection closes, so the next instance never
 * sees those messages again (the README's "completed work is never redelivered").
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createBus, defineCommand, silentLogger } from '@missive/core';
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
});
