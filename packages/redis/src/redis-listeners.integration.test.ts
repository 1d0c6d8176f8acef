/**
 * Many consumers on one transport: Node's listener-leak warning (`MaxListenersExceededWarning`,
 * past 10 listeners of one event on one emitter) must not fire however many consumers share the
 * command connection, and closed consumers leave no listener of theirs on it.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { silentLogger } from '@missive/core';
import { RedisTransport } from './redis-transport.js';
import { cleanupAfterEach, deletePrefix, needRedis, redisUrl, uniquePrefix } from './test-support/redis.js';

const cleanup = cleanupAfterEach();

/** Listeners per event on a connection. */
function listeners(redis: Redis): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const event of redis.eventNames()) counts[String(event)] = redis.listenerCount(event);
  return counts;
}

describe('redis listeners', () => {
  it('25 consumers on one transport: no MaxListenersExceededWarning; closed, they leave no listener on its connection', async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const prefix = uniquePrefix();
    cleanup.push(() => deletePrefix(redisUrl, prefix));
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    cleanup.push(() => void process.off('warning', onWarning));
    const transport = new RedisTransport({ url: redisUrl, prefix }, { logger: silentLogger });
    await transport.connect();
    cleanup.push(() => transport.close());
    await transport.declare({ name: 'many', topics: ['many.*'] });
    const own = listeners(transport.redis);
    expect(transport.readyEvents.size).toBe(0);

    const consumers = Array.from({ length: 25 }, () => transport.consume('many', { prefetch: 2 }));
    await Promise.all(consumers.map((c) => c.ready ?? Promise.resolve()));
    // Deliveries through every consumer: each has read (and waited in its blocking read) at least once.
    for (let i = 0; i < 50; i++)
      await transport.publish('many.one', { id: `m-${i}`, type: 'many.one', body: Buffer.from('x'), headers: {} });
    await Promise.all(
      consumers.map(async (consumer) => {
        for await (const delivery of consumer) {
          await delivery.ack();
          break;
        }
      }),
    );
    await Promise.all(consumers.map((c) => c.close()));
    // A warning is emitted on the next tick after the listener that crossed the limit.
    await new Promise((resolve) => setImmediate(resolve));

    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message)).toEqual([]);
    expect(listeners(transport.redis)).toEqual(own);
    expect(transport.readyEvents.size).toBe(0); // the consumers unsubscribed from the one `ready` listener
  });
});
