/**
 * Ordered endpoints on RabbitMQ, beyond the conformance cases: a second instance's `bus.start`
 * returns only once it owns its share of the partitions, so keyed work sent right after reaches both;
 * a key's next message goes out only once the broker has its predecessor's settlement, and a
 * partition let go while a handler runs still sends that handler's ack before its channel closes.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBus, defineCommand, silentLogger, type Bus, type DeadLetterFailure, type TransportMessage } from '@missive/core';
import type { Delivery } from '@missive/core/transport';
import { z } from 'zod';
import { PARTITIONS, partitionOf } from './partitions.js';
import { RabbitMqTransport } from './rabbitmq-transport.js';
import { cleanupAfterEach, needRabbitMq, rabbitUrl } from './test-support/broker.js';

const url = rabbitUrl;
const cleanup = cleanupAfterEach();

/** One key per partition: `keys[p]` hashes to partition p. */
function keyPerPartition(): string[] {
  const keys: (string | undefined)[] = new Array<string | undefined>(PARTITIONS).fill(undefined);
  for (let i = 0; keys.includes(undefined); i++) {
    const key = `k${i}`;
    keys[partitionOf(key)] ??= key;
  }
  return keys as string[];
}

describe('rabbitmq ordered endpoints', () => {
  it("a joining instance's start returns once it owns its share of the partitions", async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const run = randomBytes(4).toString('hex');
    const endpoint = `ordered-ready-${run}`;
    const Work = defineCommand(`ordered-ready-${run}.work`, z.object({ key: z.string() }), { partitionKey: (m) => m.key });
    const started: Record<string, string[]> = { first: [], second: [] };
    let releaseAll!: () => void;
    const hold = new Promise<void>((resolve) => {
      releaseAll = resolve;
    });
    const instance = (name: 'first' | 'second'): Bus => {
      const bus = createBus({ service: `ordered-ready-${name}`, transport: url, logger: silentLogger });
      // Handlers hold their message until the end: an owner cannot hand a busy partition over, so
      // whatever each instance owns when the messages arrive is what it keeps.
      bus.endpoint(
        endpoint,
        (e) =>
          e.on(Work, async (m) => {
            started[name]!.push(m.key);
            await hold;
          }),
        { prefetch: PARTITIONS, concurrency: PARTITIONS },
      );
      return bus;
    };
    cleanup.push(async () => {
      const admin = new RabbitMqTransport({ url }, { logger: silentLogger });
      await admin.connect();
      await admin.deleteQueue(endpoint);
      await admin.deleteTopic(Work.name);
      await admin.close();
    });
    const first = instance('first');
    await first.start();
    cleanup.push(() => first.stop());
    const second = instance('second');
    await second.start();
    cleanup.push(async () => {
      releaseAll();
      await second.stop();
    });
    await Promise.all(keyPerPartition().map((key) => second.send(Work, { key })));
    const deadline = Date.now() + 20_000;
    while (started.first!.length + started.second!.length < PARTITIONS && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(started.first!.length + started.second!.length).toBe(PARTITIONS);
    expect(started.first).toHaveLength(PARTITIONS / 2);
    expect(started.second).toHaveLength(PARTITIONS / 2);
    releaseAll();
  }, 60_000);
});

/** A keyed (or, without a key, plain) message. */
function keyed(id: string, key?: string): TransportMessage {
  return { id, type: 't', body: Buffer.from('{}'), headers: {}, partitionKey: key };
}

const failure: DeadLetterFailure = {
  reason: 'HANDLER_FAILED',
  errorName: 'Error',
  errorMessage: 'boom',
  attempts: 1,
  endpoint: 'e',
  service: 's',
  host: 'h',
  time: 0,
};

/** A transport with an ordered queue, removed after the test. */
async function orderedQueue(prefix: string): Promise<{ transport: RabbitMqTransport; queue: string }> {
  const queue = `${prefix}-${randomBytes(4).toString('hex')}`;
  const transport = new RabbitMqTransport({ url }, { logger: silentLogger });
  await transport.connect();
  cleanup.push(async () => {
    const admin = new RabbitMqTransport({ url }, { logger: silentLogger });
    await admin.connect();
    await admin.deleteQueue(queue);
    await admin.close();
  });
  cleanup.push(() => transport.close());
  await transport.declare({ name: queue, topics: [], ordered: true });
  return { transport, queue };
}

/** The ids a new consumer of `queue` receives before a marker sent now with `key`: what the key's partition still held. */
async function leftBefore(queue: string, key: string): Promise<string[]> {
  const transport = new RabbitMqTransport({ url }, { logger: silentLogger });
  await transport.connect();
  try {
    await transport.declare({ name: queue, topics: [], ordered: true });
    const consumer = transport.consume(queue, { prefetch: 10 });
    await consumer.ready;
    await transport.send(queue, keyed('end-marker', key));
    const before: string[] = [];
    for await (const delivery of consumer) {
      await delivery.ack();
      if (delivery.message.id === 'end-marker') break;
      before.push(delivery.message.id);
    }
    return before;
  } finally {
    await transport.close();
  }
}

describe('rabbitmq ordered consumer settling', () => {
  it("a key's next message goes out only after its predecessor's dead letter is confirmed and acked", async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const { transport, queue } = await orderedQueue('ordered-dl');
    const consumer = transport.consume(queue, { prefetch: 10 });
    await consumer.ready;
    const deliveries = consumer[Symbol.asyncIterator]();
    await transport.send(queue, keyed('first', 'k'));
    await transport.send(queue, keyed('second', 'k'));
    const first = (await deliveries.next()).value as Delivery;
    expect(first.message.id).toBe('first');
    // Hold the dead letter's publish until the test lets it go.
    let publishDeadLetter!: () => void;
    const gate = new Promise<void>((resolve) => {
      publishDeadLetter = resolve;
    });
    const confirmPublish = transport.confirmPublish.bind(transport);
    transport.confirmPublish = async (...args) => {
      if (args[1].endsWith('.dead-letters')) await gate;
      return confirmPublish(...args);
    };
    const deadLettered = first.deadLetter(failure);
    // A marker sent after the dead letter began: it comes out before "second", which waits for "first" to be settled at the broker.
    await transport.send(queue, keyed('marker'));
    const next = (await deliveries.next()).value as Delivery;
    expect(next.message.id).toBe('marker');
    await next.ack();
    publishDeadLetter();
    await deadLettered;
    const second = (await deliveries.next()).value as Delivery;
    expect(second.message.id).toBe('second');
    await second.ack();
    await consumer.close();
    await transport.close();
    const admin = new RabbitMqTransport({ url }, { logger: silentLogger });
    await admin.connect();
    cleanup.push(() => admin.close());
    expect((await admin.queues()).find((q) => q.name === queue)?.deadLetters).toBe(1);
    expect(await leftBefore(queue, 'k')).toEqual([]);
  }, 60_000);

  it('a handler that finishes while its consumer closes has its ack sent before the partition channel closes', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const { transport, queue } = await orderedQueue('ordered-close');
    const consumer = transport.consume(queue, { prefetch: 10 });
    await consumer.ready;
    const deliveries = consumer[Symbol.asyncIterator]();
    await transport.send(queue, keyed('running', 'k'));
    const running = (await deliveries.next()).value as Delivery;
    expect(running.message.id).toBe('running');
    await consumer.close(); // the partition's lane waits for the running handler
    await running.ack();
    await transport.close();
    // What the partition still holds comes out before a marker of the same key (one FIFO queue).
    expect(await leftBefore(queue, 'k')).toEqual([]); // acked, not returned to the partition queue
  }, 60_000);
});
