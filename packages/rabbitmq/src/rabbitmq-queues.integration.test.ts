/**
 * `queues()` on RabbitMQ lists Missive's queues declared by any process (through the registry
 * stream), with their depths and dead letters, and drops a queue once it is deleted; a live
 * transport appends its records again so they outlive the stream's retention.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { silentLogger, type TransportMessage } from '@missive/core';
import { REGISTRY_QUEUE } from './queue-registry.js';
import { RabbitMqTransport } from './rabbitmq-transport.js';
import { cleanupAfterEach, needRabbitMq, rabbitUrl } from './test-support/broker.js';

const cleanup = cleanupAfterEach();

async function transport(): Promise<RabbitMqTransport> {
  const t = new RabbitMqTransport({ url: rabbitUrl }, { logger: silentLogger });
  await t.connect();
  cleanup.push(() => t.close());
  return t;
}

const message = (id: string, partitionKey?: string): TransportMessage => ({
  id,
  type: 't',
  body: Buffer.from('{}'),
  headers: {},
  partitionKey,
});

describe('rabbitmq queues()', () => {
  it('lists queues another connection declared, with depth and dead letters, until they are deleted', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const run = randomBytes(4).toString('hex');
    const [plain, ordered] = [`listed-${run}`, `listed-ordered-${run}`];
    const owner = await transport();
    cleanup.push(() => owner.deleteQueue(ordered));
    cleanup.push(() => owner.deleteQueue(plain));
    await owner.declare({ name: plain, topics: [`listed-${run}.happened`] });
    await owner.declare({ name: ordered, topics: [], ordered: true });
    await owner.send(plain, message('a'));
    await owner.send(plain, message('b'));
    await owner.send(ordered, message('c', 'key-1'));
    await owner.send(ordered, message('d'));

    const operator = await transport(); // declares nothing
    const listed = (await operator.queues()).filter((q) => q.name.endsWith(run));
    expect(listed).toEqual([
      { name: plain, depth: 2, inFlight: 0, deadLetters: 0, topics: [`listed-${run}.happened`], consumers: 0 },
      { name: ordered, depth: 2, inFlight: 0, deadLetters: 0, topics: [], consumers: 0 },
    ]);

    await owner.deleteQueue(plain);
    expect((await operator.queues()).map((q) => q.name).filter((n) => n.endsWith(run))).toEqual([ordered]);
  }, 60_000);
});

/** How many records in the registry stream name `queue`, read raw from its first record up to a marker. */
async function recordsOf(queue: string): Promise<number> {
  const connection = await amqp.connect(rabbitUrl);
  try {
    const writer = await connection.createChannel();
    const reader = await connection.createChannel();
    await reader.prefetch(1000);
    const marker = randomUUID();
    let count = 0;
    const reached = new Promise<void>((resolve) => {
      void reader.consume(
        REGISTRY_QUEUE,
        (message) => {
          if (message === null) return;
          reader.ack(message);
          const body = message.content.toString('utf8');
          if (body.includes(marker)) resolve();
          else if ((JSON.parse(body) as { name?: string }).name === queue) count++;
        },
        { arguments: { 'x-stream-offset': 'first' } },
      );
    });
    writer.sendToQueue(REGISTRY_QUEUE, Buffer.from(JSON.stringify({ marker })));
    await reached;
    return count;
  } finally {
    await connection.close();
  }
}

describe('rabbitmq queue registry refresh', () => {
  it('a live transport appends its records again, so they outlive the retention', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const queue = `refreshed-${randomBytes(4).toString('hex')}`;
    const owner = await transport();
    cleanup.push(() => owner.deleteQueue(queue));
    await owner.declare({ name: queue, topics: [] });
    const before = await recordsOf(queue);
    expect(before).toBe(1);
    await owner.refreshRegistry();
    expect(await recordsOf(queue)).toBe(2);
  }, 60_000);
});
