/**
 * An endpoint without its own prefetch holds 8 deliveries per handler on quorum queues: a quorum
 * queue counts an ack against the consumer's window until its Raft commit, and with the usual 2 per
 * handler the window filled with acks on their way under load while the handlers waited (the
 * example shop's order saga spent most of an order's time so). Measured on the broker: the
 * messages it has not handed out.
 */
import { randomBytes } from 'node:crypto';
import * as amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { createBus, defineCommand, silentLogger } from '@missive/core';
import { createWaiter } from '@missive/testing';
import { z } from 'zod';
import { checkQueues } from './queue-probe.js';
import { QUORUM_PREFETCH_PER_HANDLER } from './rabbitmq-transport.js';
import { cleanupAfterEach, needRabbitMq, rabbitUrl } from './test-support/broker.js';

const cleanup = cleanupAfterEach();

describe('prefetch on quorum queues', () => {
  it('an endpoint without its own prefetch holds 8 deliveries per handler', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const run = randomBytes(4).toString('hex');
    const Job = defineCommand(`prefetch${run}.job`, z.object({ n: z.number() }));
    const endpoint = `prefetch-${run}`;
    const bus = createBus({ service: `prefetch-${run}`, transport: rabbitUrl, logger: silentLogger });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const started: number[] = [];
    bus.endpoint(
      endpoint,
      (e) =>
        e.on(Job, async (m) => {
          started.push(m.n);
          await held;
        }),
      { concurrency: 2 },
    );
    await bus.start();
    cleanup.push(() => bus.stop());
    cleanup.push(() => bus.transport.deleteQueue?.(endpoint)); // runs first (last added), while connected
    cleanup.push(() => bus.transport.deleteTopic?.(Job.name));
    cleanup.push(() => release());
    const connection = await amqp.connect(rabbitUrl);
    cleanup.push(() => connection.close());
    const total = 3 * QUORUM_PREFETCH_PER_HANDLER * 2;
    for (let n = 0; n < total; n++) await bus.send(Job, { n });
    const waiter = createWaiter();
    const waiting = await waiter.eventually(
      async () => (await checkQueues(connection, [endpoint])).get(endpoint)?.messageCount,
      (count) => count === total - 2 * QUORUM_PREFETCH_PER_HANDLER,
      'the endpoint to take its prefetch while both handlers are held',
    );
    expect(waiting).toBe(total - 16);
    expect(started).toHaveLength(2);
    release();
    await waiter.until(() => started.length === total, 'every job');
  });
});
