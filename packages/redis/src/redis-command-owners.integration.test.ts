/**
 * What the ownership conformance cases do not reach on Redis: a deposed owner that declares its
 * queue again (as after a reconnect) is not bound to the type it lost; claims forgotten by the
 * server (a restart without persistence) are made again on reconnect; a consumer whose
 * connection is gone (a killed process) stops counting, and the queue says since when it has none.
 */
import { describe, expect, it } from 'vitest';
import { CommandOwnerConflictError, UnroutableError, silentLogger } from '@missive/core';
import { createWaiter } from '@missive/testing';
import { RedisTransport } from './redis-transport.js';
import { cleanupAfterEach, deletePrefix, needRedis, redisUrl, uniquePrefix } from './test-support/redis.js';

const cleanup = cleanupAfterEach();
const waiter = createWaiter({ timeoutMs: 20_000 });
const message = (id: string) => ({ id, type: 'shop.charge-card', body: Buffer.from(id), headers: {} });

async function connected(prefix: string): Promise<RedisTransport> {
  const transport = new RedisTransport({ url: redisUrl, prefix }, { logger: silentLogger });
  await transport.connect();
  cleanup.push(() => transport.close());
  return transport;
}

async function fresh(ctx: { skip: (note?: string) => void }): Promise<string | undefined> {
  if (!(await needRedis(ctx))) return undefined;
  const prefix = uniquePrefix();
  cleanup.push(() => deletePrefix(redisUrl, prefix));
  return prefix;
}

describe('redis command owners', () => {
  it('a deposed owner declaring its queue again is not bound to the type it lost', async (ctx) => {
    const prefix = await fresh(ctx);
    if (prefix === undefined) return;
    const [old, next] = [await connected(prefix), await connected(prefix)];
    await old.commandOwners.claim({ queue: 'payment', service: 'pay', types: ['shop.charge-card'] });
    await old.declare({ name: 'payment', topics: ['shop.charge-card', 'shop.order-placed'] });
    expect(await next.commandOwners.claim({ queue: 'billing', service: 'bill', types: ['shop.charge-card'], takeOver: true })).toEqual({
      moved: [{ type: 'shop.charge-card', from: 'payment' }],
    });
    // The claimant is bound by the claim itself, before it declares anything.
    await old.publish('shop.charge-card', message('1'), { mandatory: true });
    await old.declare({ name: 'payment', topics: ['shop.charge-card', 'shop.order-placed'] }); // as after a reconnect
    await next.publish('shop.charge-card', message('2'), { mandatory: true });
    const queues = await next.queues();
    expect(queues.find((q) => q.name === 'payment')).toMatchObject({ depth: 0, topics: ['shop.order-placed'] });
    expect(queues.find((q) => q.name === 'billing')).toMatchObject({ depth: 2, topics: ['shop.charge-card'] });
    expect(await old.commandOwners.owners()).toEqual([
      expect.objectContaining({ type: 'shop.charge-card', queue: 'billing', service: 'bill' }),
    ]);
  });

  it('claims the server forgot are made again on reconnect, and a claim made meanwhile by another endpoint stays', async (ctx) => {
    const prefix = await fresh(ctx);
    if (prefix === undefined) return;
    const owner = await connected(prefix);
    await owner.commandOwners.claim({ queue: 'payment', service: 'pay', types: ['shop.charge-card', 'shop.refund'] });
    await owner.declare({ name: 'payment', topics: ['shop.charge-card', 'shop.refund'] });
    // As a restart without persistence: the record, the queues and the bindings are gone.
    await owner.redis.del(`${prefix}:owners`, `${prefix}:queues`, `${prefix}:bindings`);
    const other = await connected(prefix);
    await other.commandOwners.claim({ queue: 'refunds', service: 'refund', types: ['shop.refund'] });
    owner.redis.disconnect(true);
    const owners = await waiter.eventually(
      () => other.commandOwners.owners(),
      (list) => list.length === 2,
      'the claims made again',
    );
    expect(owners.map((o) => [o.type, o.queue])).toEqual([
      ['shop.charge-card', 'payment'],
      ['shop.refund', 'refunds'],
    ]);
    const payment = await waiter.eventually(
      () => other.queues(),
      (qs) => qs.some((q) => q.name === 'payment'),
      'the queue declared again',
    );
    expect(payment.find((q) => q.name === 'payment')!.topics).toEqual(['shop.charge-card']);
    await expect(other.commandOwners.claim({ queue: 'elsewhere', service: 'x', types: ['shop.charge-card'] })).rejects.toThrow(
      CommandOwnerConflictError,
    );
  });

  it('deleting a queue releases its claims; a command with no owner bound is unroutable', async (ctx) => {
    const prefix = await fresh(ctx);
    if (prefix === undefined) return;
    const transport = await connected(prefix);
    await transport.commandOwners.claim({ queue: 'payment', service: 'pay', types: ['shop.charge-card'] });
    await transport.declare({ name: 'payment', topics: ['shop.charge-card'] });
    await transport.deleteQueue('payment');
    expect(await transport.commandOwners.owners()).toEqual([]);
    await expect(transport.publish('shop.charge-card', message('1'), { mandatory: true })).rejects.toThrow(UnroutableError);
  });
});

describe('redis consumer counts', () => {
  it('a consumer whose connection is gone stops counting; the queue says since when it has none', async (ctx) => {
    const prefix = await fresh(ctx);
    if (prefix === undefined) return;
    const [killed, admin] = [await connected(prefix), await connected(prefix)];
    await killed.declare({ name: 'work', topics: [] });
    const consumer = killed.consume('work', { prefetch: 1 });
    cleanup.push(() => consumer.close());
    const [live] = await waiter.eventually(
      () => admin.queues(),
      (qs) => qs[0]?.consumers === 1,
      'the consumer in the group',
    );
    expect(live!.idleSince).toBeUndefined();
    // As a process killed: its liveness key expires (here: deleted) and it never leaves the group.
    const before = Date.now();
    await admin.redis.del(`${prefix}:conn:${killed.connectionId}`);
    const [info] = await admin.queues();
    expect(info).toMatchObject({ name: 'work', consumers: 0 });
    // Its last interaction with the group (the start) is what the queue knows of it.
    expect(info!.idleSince).toBeLessThanOrEqual(before);
    expect(info!.idleSince).toBeGreaterThan(before - 20_000);
  });
});
