/**
 * Closing whatever state the links are in, against the shared server through the fault proxy: a
 * consumer whose link was frozen while it waited in its blocking read, then cut (ioredis between
 * reconnect attempts, or reconnecting through the proxy again), closes at once; so does the
 * transport. The tests wait on the close promises: vitest's timeout is the bound.
 */
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { silentLogger } from '@missive/core';
import { createWaiter, startFaultProxy } from '@missive/testing';
import { RedisTransport } from './redis-transport.js';
import { cleanupAfterEach, deletePrefix, needRedis, redisUrl, uniquePrefix } from './test-support/redis.js';

const cleanup = cleanupAfterEach();
const waiter = createWaiter({ timeoutMs: 30_000 });

/** Whether a blocking-read connection opened after `sinceId` is blocked in `XREADGROUP` now. */
async function blockedReader(raw: Redis, sinceId: number): Promise<boolean> {
  const list = (await raw.call('CLIENT', 'LIST', 'TYPE', 'normal')) as string;
  return list.split('\n').some((line) => {
    const id = Number(/(?:^| )id=(\d+)/.exec(line)?.[1]);
    return id > sinceId && line.includes(' name=missive-wait ') && line.includes(' cmd=xreadgroup') && / flags=\S*b/.test(line);
  });
}

async function setUp(): Promise<{ raw: Redis; prefix: string; viaProxy: (port: number) => string }> {
  const prefix = uniquePrefix();
  cleanup.push(() => deletePrefix(redisUrl, prefix));
  const raw = new Redis(redisUrl);
  cleanup.push(() => void raw.disconnect());
  const healthy = new RedisTransport({ url: redisUrl, prefix }, { logger: silentLogger });
  await healthy.connect();
  await healthy.declare({ name: 'work', topics: ['close.*'] });
  await healthy.close();
  const viaProxy = (port: number): string => {
    const url = new URL(redisUrl);
    url.port = String(port);
    return url.href;
  };
  return { raw, prefix, viaProxy };
}

describe('redis close', () => {
  it('a consumer whose link was frozen in its blocking read, then cut, closes (10 cycles; reconnects refused, then allowed)', async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const { raw, prefix, viaProxy } = await setUp();
    const target = new URL(redisUrl);
    for (let cycle = 0; cycle < 10; cycle++) {
      const proxy = await startFaultProxy({ port: Number(target.port || 6379), host: target.hostname });
      cleanup.push(() => proxy.close());
      const transport = new RedisTransport({ url: viaProxy(proxy.port), prefix }, { logger: silentLogger });
      await transport.connect();
      cleanup.push(() => transport.close());
      const since = Number(await raw.client('ID'));
      const consumer = transport.consume('work', { prefetch: 10 });
      await waiter.eventually(
        () => blockedReader(raw, since),
        (blocked) => blocked,
        'the consumer to wait in its blocking read',
      );
      proxy.freeze();
      const refused = cycle % 2 === 0; // even cycles: ioredis stays between reconnect attempts
      proxy.refuse(refused);
      proxy.cut();
      await consumer.close();
      if (refused) await transport.close(); // the transport closes too, its connection between attempts
    }
  });

  it('a transport whose link was cut while it published, its reconnects refused, closes: the publish in flight rejects with a TransportError', async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const { prefix, viaProxy } = await setUp();
    const target = new URL(redisUrl);
    const proxy = await startFaultProxy({ port: Number(target.port || 6379), host: target.hostname });
    cleanup.push(() => proxy.close());
    const transport = new RedisTransport({ url: viaProxy(proxy.port), prefix }, { logger: silentLogger });
    await transport.connect();
    cleanup.push(() => transport.close());
    await transport.publish('close.one', { id: 'm-1', type: 'close.one', body: Buffer.from('one'), headers: {} });
    proxy.freeze();
    const publishing = transport.publish('close.two', { id: 'm-2', type: 'close.two', body: Buffer.from('two'), headers: {} });
    const outcome = publishing.then(
      () => 'published',
      (error: unknown) => (error as Error).name,
    );
    proxy.refuse(true);
    proxy.cut();
    await transport.close();
    expect(await outcome).toBe('TransportError');
  });
});
