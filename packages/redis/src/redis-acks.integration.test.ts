/**
 * Acks on Redis go in batches: `XACK` + `XDEL` of the batch's ids, or, when a delivery is keyed,
 * one script call that checks a batch against the pending-entries list with one `XPENDING` over
 * the batch's id range, and falls back to one check per delivery when that range holds more of
 * the consumer's entries than it read. Entry ids are ordered as numbers.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@missive/core';
import type { Delivery } from '@missive/core/transport';
import { createWaiter } from '@missive/testing';
import { readEntry } from './entry.js';
import { compareEntryIds } from './redis-consumer.js';
import { RedisTransport } from './redis-transport.js';
import { cleanupAfterEach, deletePrefix, needRedis, redisUrl, uniquePrefix } from './test-support/redis.js';

const cleanup = cleanupAfterEach();
const waiter = createWaiter({ timeoutMs: 20_000 });

describe('redis ack batches', () => {
  it('entry ids compare as numbers, milliseconds then sequence', () => {
    expect(compareEntryIds('9-0', '10-0')).toBeLessThan(0);
    expect(compareEntryIds('1700000000000-10', '1700000000000-9')).toBeGreaterThan(0);
    expect(compareEntryIds('5-5', '5-5')).toBe(0);
  });

  it('a keyed batch whose id range spans more held entries than the range read settles exactly its own', async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const prefix = uniquePrefix();
    cleanup.push(() => deletePrefix(redisUrl, prefix));
    const transport = new RedisTransport({ url: redisUrl, prefix }, { logger: silentLogger });
    await transport.connect();
    cleanup.push(() => transport.close());
    await transport.declare({ name: 'held', topics: [] });
    // Keyed: such a batch goes through the ack script (plain batches are XACK + XDEL).
    for (let i = 0; i < 100; i++)
      await transport.send('held', { id: `m-${i}`, type: 't', body: Buffer.from(String(i)), headers: {}, partitionKey: `k-${i}` });
    const consumer = transport.consume('held', { prefetch: 100 });
    cleanup.push(() => consumer.close());
    const iterator = consumer[Symbol.asyncIterator]();
    const held: Delivery[] = [];
    for (let i = 0; i < 100; i++) held.push((await iterator.next()).value as Delivery);
    // The first and the last: 98 held entries lie between them, more than the batch's range read (2 × 2 + 32).
    const [first, last] = [held.find((d) => d.message.id === 'm-0')!, held.find((d) => d.message.id === 'm-99')!];
    void first.ack();
    void last.ack();
    const [info] = await waiter.eventually(
      () => transport.queues(),
      ([q]) => q?.inFlight === 98,
      'the two acks',
    );
    expect(info).toMatchObject({ depth: 0, inFlight: 98 });
    const left = await transport.redis.xrangeBuffer(`${prefix}:q:held`, '-', '+');
    expect(left.map(([, fields]) => readEntry(fields).message.id)).toEqual(
      held.map((d) => d.message.id).filter((id) => id !== 'm-0' && id !== 'm-99'),
    );
  });
});
