import { randomBytes } from 'node:crypto';
import * as amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { CHECK_WORKERS, checkQueues, deleteQueues } from './queue-probe.js';
import { cleanupAfterEach, needRabbitMq, rabbitUrl } from './test-support/broker.js';

const cleanup = cleanupAfterEach();

describe('queue probe', () => {
  it('reports the queues that exist among many names, missing ones in between, and deletes what it is given', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const connection = await amqp.connect(rabbitUrl);
    cleanup.push(() => connection.close());
    const run = randomBytes(4).toString('hex');
    const names = Array.from({ length: CHECK_WORKERS * 3 }, (_, i) => `probe-${run}-${i}`);
    const real = names.filter((_, i) => i % 3 === 0);
    const channel = await connection.createConfirmChannel();
    for (const name of real) await channel.assertQueue(name, { durable: false });
    cleanup.push(() => deleteQueues(connection, real));
    channel.sendToQueue(real[0]!, Buffer.from('x'));
    await channel.waitForConfirms();
    await channel.close();

    const found = await checkQueues(connection, names);
    expect([...found.keys()].sort()).toEqual([...real].sort());
    expect(found.get(real[0]!)?.messageCount).toBe(1);

    await deleteQueues(connection, [...real, `probe-${run}-unknown`]);
    expect((await checkQueues(connection, real)).size).toBe(0);
  }, 60_000);
});
