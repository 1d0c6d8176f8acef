/**
 * The queue listing the CLI and the dashboard read (`Transport.queues()`), on Redis: depth counts
 * waiting messages, delayed ones and those waiting for their key; in flight counts what consumers
 * hold; dead letters and topics are the queue's own; a deleted queue leaves no key behind.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger, type DeadLetterFailure } from '@missive/core';
import type { Delivery } from '@missive/core/transport';
import { Redis } from 'ioredis';
import { RedisTransport } from './redis-transport.js';
import { createWaiter } from '@missive/testing';
import { cleanupAfterEach, deletePrefix, needRedis, redisUrl, uniquePrefix } from './test-support/redis.js';

const cleanup = cleanupAfterEach();
const waiter = createWaiter({ timeoutMs: 20_000 });

const failure: DeadLetterFailure = {
  reason: 'HANDLER_FAILED',
  errorName: 'Error',
  errorMessage: 'no',
  attempts: 1,
  endpoint: 'listing',
  service: 'test',
  host: 'h',
  time: 1,
};
const message = (id: string, partitionKey?: string) => ({ id, type: 't', body: Buffer.from(id), headers: {}, partitionKey });

describe('redis queue listing', () => {
  it('reports depth (waiting, delayed, waiting for a key), in flight, dead letters and topics', async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const prefix = uniquePrefix();
    cleanup.push(() => deletePrefix(redisUrl, prefix));
    const transport = new RedisTransport({ url: redisUrl, prefix }, { logger: silentLogger });
    await transport.connect();
    cleanup.push(() => transport.close());
    await transport.declare({ name: 'listing', topics: ['shop.#', 'billing.paid'], ordered: true });
    await transport.send('listing', message('a', 'k'));
    await transport.send('listing', message('b', 'k'));
    await transport.send('listing', message('c'));
    await transport.send('listing', message('d'));
    await transport.send('listing', message('later'), { notBefore: Date.now() + 60_000 });

    const consumer = transport.consume('listing', { prefetch: 3 });
    const iterator = consumer[Symbol.asyncIterator]();
    const held: Delivery[] = [];
    for (let i = 0; i < 3; i++) held.push((await iterator.next()).value as Delivery);
    // a (holds key k), c, d are held; b waits for k; 'later' is delayed
    expect(held.map((d) => d.message.id).sort()).toEqual(['a', 'c', 'd']);
    expect(await transport.queues()).toEqual([
      { name: 'listing', depth: 2, inFlight: 3, deadLetters: 0, topics: ['billing.paid', 'shop.#'], consumers: 1 },
    ]);

    await held.find((d) => d.message.id === 'c')!.deadLetter(failure);
    await held.find((d) => d.message.id === 'd')!.ack();
    await held.find((d) => d.message.id === 'a')!.ack(); // b takes the key and is delivered
    const b = (await iterator.next()).value as Delivery;
    expect(b.message.id).toBe('b');
    expect(await transport.queues()).toEqual([
      { name: 'listing', depth: 1, inFlight: 1, deadLetters: 1, topics: ['billing.paid', 'shop.#'], consumers: 1 },
    ]);
    await b.ack();
    const closedAt = Date.now();
    await consumer.close();
    const [idle] = await transport.queues();
    expect(idle).toMatchObject({ consumers: 0 });
    expect(idle!.idleSince).toBeGreaterThanOrEqual(closedAt);

    await transport.deleteQueue('listing');
    expect(await transport.queues()).toEqual([]);
    const redis = new Redis(redisUrl);
    try {
      const left = (await redis.scan('0', 'MATCH', `${prefix}:*`, 'COUNT', 1000))[1].filter(
        (key) => !key.endsWith(':bver') && !key.includes(':conn:') && !key.endsWith(':rid'),
      );
      expect(left).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  it('a temporary queue goes with its connection: reaped once the connection is gone, declared again by an owner that was only stalled', async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const prefix = uniquePrefix();
    cleanup.push(() => deletePrefix(redisUrl, prefix));
    const owner = new RedisTransport({ url: redisUrl, prefix }, { logger: silentLogger });
    await owner.connect();
    cleanup.push(() => owner.close());
    await owner.declare({ name: 'replies-1', topics: [], temporary: true });
    await owner.declare({ name: 'durable-1', topics: [] });
    await owner.redis.del(`${prefix}:conn:${owner.connectionId}`); // as if the owner stalled past its liveness TTL

    const other = new RedisTransport({ url: redisUrl, prefix }, { logger: silentLogger });
    await other.connect(); // its first heartbeat reaps
    cleanup.push(() => other.close());
    expect((await other.queues()).map((q) => q.name)).toEqual(['durable-1']);

    await waiter.eventually(
      () => other.queues(),
      (qs) => qs.some((q) => q.name === 'replies-1'),
      "the owner's heartbeat to declare its reply queue again",
    );
    await owner.close();
    expect((await other.queues()).map((q) => q.name)).toEqual(['durable-1']);
  });
});
