/**
 * Saga timeouts on RabbitMQ are cancelled on the broker: each is scheduled in its own
 * `missive.scheduled.<id>` queue, and once the saga drops it (rescheduled, cancelled, or the saga
 * finished) that queue is deleted, so no stale timeout waits to be delivered and ignored (a shop run
 * used to leave one per order in the saga's queue). The timeouts here are an hour long: any message
 * still there would be a stale one, not a race with a firing timeout.
 */
import { randomBytes } from 'node:crypto';
import * as amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { createBus, defineCommand, defineSaga, MemoryMessageStore, silentLogger } from '@missive/core';
import { createWaiter } from '@missive/testing';
import { z } from 'zod';
import { checkQueues, deleteQueues } from './queue-probe.js';
import { scheduledQueue } from './rabbitmq-transport.js';
import { cleanupAfterEach, needRabbitMq, rabbitUrl } from './test-support/broker.js';

const cleanup = cleanupAfterEach();
const HOUR = 3_600_000;

describe('saga timeouts on RabbitMQ', () => {
  it('are cancelled on the broker when rescheduled and when the saga completes', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const run = randomBytes(4).toString('hex');
    const Order = z.object({ orderId: z.string() });
    const Place = defineCommand(`sagat${run}.place`, Order);
    const Extend = defineCommand(`sagat${run}.extend`, Order);
    const Pay = defineCommand(`sagat${run}.pay`, Order);
    const saga = defineSaga(`sagat${run}.order`, z.object({ orderId: z.string() }))
      .startedBy(Place, {
        correlate: (m) => m.orderId,
        initial: (m) => ({ orderId: m.orderId }),
        handle: (_m, s) => void s.scheduleTimeout('payment', { delayMs: HOUR }),
      })
      .on(Extend, { correlate: (m) => m.orderId, handle: (_m, s) => void s.scheduleTimeout('payment', { delayMs: 2 * HOUR }) })
      .on(Pay, { correlate: (m) => m.orderId, handle: (_m, s) => s.complete() })
      .onTimeout('payment', (s) => s.fail('payment timed out'));
    const store = new MemoryMessageStore();
    const endpoint = `sagat-${run}`;
    const bus = createBus({ service: `sagat-${run}`, transport: rabbitUrl, logger: silentLogger });
    bus.saga(saga, { store, endpoint });
    await bus.start();
    cleanup.push(() => bus.stop());
    cleanup.push(() => bus.transport.deleteQueue?.(endpoint)); // runs first (last added), while connected
    for (const type of [Place.name, Extend.name, Pay.name, `${saga.name}.timeout`]) cleanup.push(() => bus.transport.deleteTopic?.(type));
    const connection = await amqp.connect(rabbitUrl);
    cleanup.push(() => connection.close());
    const waiter = createWaiter();
    const load = () => store.loadSaga(saga.name, 'o-1');
    const scheduled = async (id: string) => (await checkQueues(connection, [scheduledQueue(id)])).get(scheduledQueue(id))?.messageCount;

    await bus.send(Place, { orderId: 'o-1' });
    const first = (await waiter.eventually(load, (r) => r?.timeouts.length === 1, 'the first timeout'))!.timeouts[0]!;
    cleanup.push(() => deleteQueues(connection, [scheduledQueue(first.id)]));
    expect(
      await waiter.eventually(
        () => scheduled(first.id),
        (n) => n === 1,
        'the first timeout on the broker (its queue holding it)',
      ),
    ).toBe(1);

    await bus.send(Extend, { orderId: 'o-1' });
    const second = (await waiter.eventually(load, (r) => r?.timeouts[0]?.id !== first.id, 'the rescheduled timeout'))!.timeouts[0]!;
    cleanup.push(() => deleteQueues(connection, [scheduledQueue(second.id)]));
    expect(
      await waiter.eventually(
        () => scheduled(second.id),
        (n) => n === 1,
        'the second timeout on the broker (its queue holding it)',
      ),
    ).toBe(1);
    await waiter.eventually(
      () => scheduled(first.id),
      (n) => n === undefined,
      'the first timeout cancelled on the broker',
    );

    await bus.send(Pay, { orderId: 'o-1' });
    await waiter.eventually(load, (r) => r?.status === 'completed', 'the saga to complete');
    await waiter.eventually(
      () => scheduled(second.id),
      (n) => n === undefined,
      'the second timeout cancelled on the broker',
    );
    expect((await bus.transport.queues()).find((q) => q.name === endpoint)?.depth ?? 0).toBe(0);
  });
});
