/**
 * Redis under faults, against the shared server through the fault proxy: a consumer cut off long
 * enough to be taken for dead has its delivery reclaimed by another (delivery count from the
 * pending-entries list), and its late ack, arriving after the reconnect, settles nothing; a
 * connection cut mid-stream loses nothing that was published; acks that fail on a cut link are sent
 * again once it is back (nothing stays pending to be reclaimed later). The restart case (its own Redis
 * with AOF) is in `redis-restart.integration.test.ts`.
 */
import { describe, expect, it } from 'vitest';
import { consoleLogger, createBus, defineCommand, silentLogger } from '@missive/core';
import type { Delivery, TransportMessage } from '@missive/core/transport';
import { createWaiter, startFaultProxy } from '@missive/testing';
import { z } from 'zod';
import { GROUP } from './keys.js';
import { RedisTransport } from './redis-transport.js';
import { cleanupAfterEach, deletePrefix, needRedis, redisUrl, uniquePrefix } from './test-support/redis.js';

const cleanup = cleanupAfterEach();
const waiter = createWaiter({ timeoutMs: 30_000 });

async function proxied(): Promise<{ url: string; proxy: Awaited<ReturnType<typeof startFaultProxy>>; prefix: string }> {
  const target = new URL(redisUrl);
  const proxy = await startFaultProxy({ port: Number(target.port || 6379), host: target.hostname });
  cleanup.push(() => proxy.close());
  const prefix = uniquePrefix();
  cleanup.push(() => deletePrefix(redisUrl, prefix));
  const url = new URL(redisUrl);
  url.port = String(proxy.port);
  return { url: url.href, proxy, prefix };
}

describe('redis faults', () => {
  it('a consumer cut off past claimIdle loses its delivery to another; its late ack settles nothing', async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const { url, proxy, prefix } = await proxied();
    const warnings: string[] = [];
    const cutOff = new RedisTransport(
      { url, prefix, claimIdleMs: 300 },
      { logger: consoleLogger('warn', { write: (line) => void warnings.push(line) }) },
    );
    const healthy = new RedisTransport({ url: redisUrl, prefix, claimIdleMs: 300 }, { logger: silentLogger });
    await cutOff.connect();
    await healthy.connect();
    cleanup.push(() => cutOff.close());
    cleanup.push(() => healthy.close());
    await healthy.declare({ name: 'work', topics: [] });
    await healthy.send('work', { id: 'm-1', type: 'x', body: Buffer.from('one'), headers: {} });

    const first = cutOff.consume('work', { prefetch: 1 });
    const taken = (await first[Symbol.asyncIterator]().next()).value as Delivery;
    expect(taken.deliveryCount).toBe(1);
    proxy.freeze(); // the consumer's link is dead: it can no longer touch what it holds

    const second = healthy.consume('work', { prefetch: 1 });
    const reclaimed = (await second[Symbol.asyncIterator]().next()).value as Delivery;
    expect(reclaimed.message.id).toBe('m-1');
    expect(reclaimed.deliveryCount).toBe(2);

    await taken.ack(); // goes into the frozen link
    proxy.cut(); // the link comes back: ioredis reconnects and sends the ack again
    // The ack script's reply says the delivery is no longer this consumer's: Redis has seen the late ack, and refused it.
    await waiter.until(
      () => warnings.some((line) => line.includes('found the delivery reclaimed by another consumer')),
      'the late ack to be refused',
    );
    const [info] = await cutOff.queues();
    expect(info).toMatchObject({ name: 'work', depth: 0, inFlight: 1 }); // the reclaimed copy is still held

    await reclaimed.ack();
    await waiter.eventually(
      () => healthy.queues(),
      ([q]) => q?.inFlight === 0 && q.depth === 0,
      'the reclaimed copy to be acked',
    );
    await first.close();
    await second.close();
  });

  it('acks that fail on a cut link (plain, keyed, a batch entry) are sent again once reconnected: nothing stays pending', async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const { url, proxy, prefix } = await proxied();
    const warnings: string[] = [];
    // maxRetriesPerRequest 0: a command issued while the link is down fails at the next refused reconnect attempt.
    // claimIdle 60 s: an entry left pending is not reclaimed (and acked) during the test; it stays in XPENDING.
    const cutOff = new RedisTransport(
      { url, prefix, claimIdleMs: 60_000, redisOptions: { maxRetriesPerRequest: 0 } },
      { logger: consoleLogger('warn', { write: (line) => void warnings.push(line) }) },
    );
    // batch 64: the publishes below share one batch entry (batch entries are opt-in).
    const healthy = new RedisTransport({ url: redisUrl, prefix, batch: 64 }, { logger: silentLogger });
    await cutOff.connect();
    await healthy.connect();
    cleanup.push(() => cutOff.close());
    cleanup.push(() => healthy.close());
    await healthy.declare({ name: 'work', topics: ['acks.#'] });
    const message = (id: string, partitionKey?: string): TransportMessage => ({
      id,
      type: 't',
      body: Buffer.from(id),
      headers: {},
      partitionKey,
    });
    for (let i = 0; i < 10; i++) await healthy.send('work', message(`plain-${i}`)); // XACK + XDEL
    for (let i = 0; i < 10; i++) await healthy.send('work', message(`keyed-${i}`, `k-${i}`)); // the ack script (releases the key)
    await Promise.all(Array.from({ length: 20 }, (_, i) => healthy.publish('acks.batch', message(`batch-${i}`)))); // one entry: ackEntries
    const stream = `${prefix}:q:work`;
    expect(await healthy.redis.xlen(stream)).toBe(21);

    const consumer = cutOff.consume('work', { prefetch: 64 });
    cleanup.push(() => consumer.close());
    const iterator = consumer[Symbol.asyncIterator]();
    const held: Delivery[] = [];
    for (let i = 0; i < 40; i++) held.push((await iterator.next()).value as Delivery);
    expect(held.every((d) => d.deliveryCount === 1)).toBe(true);

    proxy.refuse(true);
    proxy.cut();
    // Ack once the client has seen its link drop (a reconnect was refused): the acks wait offline, then fail.
    await waiter.until(() => proxy.refused > 0 && cutOff.redis.status !== 'ready', 'the link to drop');
    for (const d of held) await d.ack();
    const failed = () =>
      warnings
        .map((line) => /(\d+) ack\(s\) on redis queue work (failed on a lost connection|may not have reached Redis)/.exec(line))
        .reduce((sum, m) => sum + (m === null ? 0 : Number(m[1])), 0);
    await waiter.until(() => failed() >= 21, `the 21 acks to fail (so far ${failed()})`);
    expect((await healthy.redis.xpending(stream, GROUP))[0]).toBe(21);

    proxy.refuse(false);
    await waiter.eventually(
      async () => await healthy.redis.xpending(stream, GROUP),
      ([pending]) => pending === 0,
      'every entry acked after the reconnect',
    );
    expect(await healthy.redis.xlen(stream)).toBe(0);
    const [info] = await healthy.queues();
    expect(info).toMatchObject({ name: 'work', depth: 0, inFlight: 0 });
  }, 60_000);

  it('an entry read by a reply lost with the link is delivered after the reconnect, not left pending until claimIdle', async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const { url, proxy, prefix } = await proxied();
    // claimIdle 60 s: an entry left pending is not reclaimed during the test. timeout 60 s: the blocking read waits 30 s.
    const cutOff = new RedisTransport({ url, prefix, claimIdleMs: 60_000, timeoutMs: 60_000 }, { logger: silentLogger });
    const healthy = new RedisTransport({ url: redisUrl, prefix }, { logger: silentLogger });
    await cutOff.connect();
    await healthy.connect();
    cleanup.push(() => cutOff.close());
    cleanup.push(() => healthy.close());
    await healthy.declare({ name: 'work', topics: [] });
    const stream = `${prefix}:q:work`;
    const consumer = cutOff.consume('work', { prefetch: 10 });
    cleanup.push(() => consumer.close());
    const got: Delivery[] = [];
    void (async () => {
      for await (const d of consumer) {
        got.push(d);
        waiter.notify();
      }
    })();
    // The consumer waits in XREADGROUP … BLOCK on its own connection.
    const blockerId = () => (consumer as unknown as { blockerId: number | undefined }).blockerId;
    await waiter.eventually(
      async () => (blockerId() === undefined ? '' : String(await healthy.redis.client('LIST', 'ID', blockerId()!))),
      (line) => /flags=b/.test(line) && /cmd=xreadgroup/.test(line),
      'the consumer to block in its read',
    );
    proxy.freeze();
    await healthy.send('work', { id: 'm-1', type: 't', body: Buffer.from('one'), headers: {}, partitionKey: undefined });
    // Redis ran the read: the entry is pending for the consumer, its reply stuck in the frozen link.
    await waiter.eventually(
      async () => await healthy.redis.xpending(stream, GROUP),
      ([count]) => count === 1,
      'the blocked read to take the entry',
    );
    proxy.cut(); // the reply is lost; ioredis sends the read again, which takes only new entries
    // A new entry ends that read (it waits up to 30 s): the consumer reads on, after taking back m-1.
    await healthy.send('work', { id: 'm-2', type: 't', body: Buffer.from('two'), headers: {}, partitionKey: undefined });
    await waiter.until(
      () => got.length >= 2,
      `both entries delivered after the reconnect (so far ${got.map((d) => d.message.id).join(', ')})`,
    );
    expect(got.map((d) => [d.message.id, d.deliveryCount]).sort()).toEqual([
      ['m-1', 1],
      ['m-2', 1],
    ]);
    for (const d of got) await d.ack();
    await waiter.eventually(
      async () => await healthy.redis.xpending(stream, GROUP),
      ([count]) => count === 0,
      'the entries acked',
    );
  }, 60_000);

  it('a connection cut mid-stream: both sides reconnect and every published message is handled', async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const { url, proxy, prefix } = await proxied();
    const Work = defineCommand('faults.work', z.object({ n: z.number() }));
    const transportUrl = `${url}?prefix=${prefix}&claimIdle=1000`;
    const consumer = createBus({
      service: 'consumer',
      transport: transportUrl,
      logger: silentLogger,
      retry: { immediate: 0, delayed: false },
    });
    const handled = new Set<number>();
    let cut = false;
    consumer.endpoint(
      'faults-work',
      (e) =>
        e.on(Work, async (m) => {
          handled.add(m.n);
          if (handled.size === 100 && !cut) {
            cut = true;
            proxy.cut();
          }
          waiter.notify();
        }),
      { concurrency: 8 },
    );
    await consumer.start();
    cleanup.push(() => consumer.stop());
    const publisher = createBus({ service: 'publisher', transport: transportUrl, logger: silentLogger });
    await publisher.start();
    cleanup.push(() => publisher.stop());
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(Array.from({ length: 40 }, (_, k) => publisher.send(Work, { n: batch * 40 + k })));
    }
    await waiter.until(() => handled.size === 400, `all 400 messages (so far ${handled.size})`);
    expect(cut).toBe(true);
    expect(proxy.accepted).toBeGreaterThan(3); // the first connections, then the reconnects
  }, 60_000);
});
