/**
 * Stream entries written straight into a queue (by another tool, a bug, or an attacker) never stop
 * an endpoint: an entry that is not a message as Missive writes them (no message, an `m` or batch
 * value whose lengths do not fit, headers that are not a JSON object of strings) goes to the
 * dead-letter queue once, with `DECODE` and the reason, while the messages around it flow. That
 * holds on the first read and when such an entry is reclaimed from a consumer that died holding it.
 * A delivery count written into an entry (`dc`) that is negative or not a number counts as none: it
 * never keeps a message that crashes its consumers below `maxDeliveries`.
 */
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { createBus, defineCommand, silentLogger, type Bus, type DeadLetter } from '@missive/core';
import { createWaiter } from '@missive/testing';
import { GROUP } from './keys.js';
import { RedisTransport } from './redis-transport.js';
import { cleanupAfterEach, deletePrefix, needRedis, redisUrl, uniquePrefix } from './test-support/redis.js';

const Job = defineCommand('entries.job', z.object({ n: z.number() }));
const cleanup = cleanupAfterEach();
const waiter = createWaiter({ timeoutMs: 30_000 });

/** An `m` value (see `messageValue` in entry.ts) of a message whose body is the job `n`. */
function messageValue(id: string, n: number): Buffer {
  const body = JSON.stringify({ specversion: '1.0', id, type: Job.name, source: '/raw', data: { n } });
  const head = Buffer.alloc(9 + id.length + Job.name.length);
  head[0] = 1;
  head.writeUInt32BE(id.length, 1);
  head.write(id, 5);
  head.writeUInt32BE(Job.name.length, 5 + id.length);
  head.write(Job.name, 9 + id.length);
  return Buffer.concat([head, Buffer.from(body)]);
}

/** Entries Missive never writes, each with the words its dead letter's reason must hold. */
const spoiled: [what: string, fields: (string | Buffer)[], reason: RegExp][] = [
  ['no message', ['x', 'y'], /holds no message/],
  ['an m value whose id length runs past its end', ['m', Buffer.from([1, 0, 0, 0, 255, 0, 0, 0, 0, 65, 65])], /m field/],
  ['a batch value claiming 2^32-1 messages', ['M', Buffer.from([2, 255, 255, 255, 255])], /batch value/],
  ['a batch value cut short', ['M', Buffer.from([2, 0, 0, 0, 2, 0, 0, 0, 9, 1])], /batch value/],
  ['headers with a value that is not a string', ['m', messageValue('bad-headers', 99), 'h', '{"missive-attempts":{"a":1}}'], /header/],
];

async function setUp(): Promise<{ prefix: string; raw: Redis; stream: string; bus: (claimIdleMs?: number) => Bus }> {
  const prefix = uniquePrefix();
  cleanup.push(() => deletePrefix(redisUrl, prefix));
  const raw = new Redis(redisUrl);
  cleanup.push(() => raw.disconnect());
  const make = (claimIdleMs = 30_000): Bus => {
    const bus = createBus({
      service: 'entries',
      transport: new RedisTransport({ url: redisUrl, prefix, claimIdleMs }),
      logger: silentLogger,
      retry: { immediate: 0, delayed: false },
    });
    cleanup.push(() => bus.stop({ timeoutMs: 0 }));
    return bus;
  };
  return { prefix, raw, stream: `${prefix}:q:work`, bus: make };
}

async function deadLetters(bus: Bus, count: number): Promise<DeadLetter[]> {
  return waiter.eventually(
    () => bus.deadLetters.list('work'),
    (d) => d.length >= count,
    `${count} dead letters`,
  );
}

describe('redis entries the transport cannot trust', () => {
  it('an entry that is not a message as Missive writes it is dead-lettered once with DECODE; the endpoint goes on', async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const { raw, stream, bus: make } = await setUp();
    const handled: number[] = [];
    const bus = make();
    bus.endpoint('work', (e) => e.on(Job, ({ n }) => void (handled.push(n), waiter.notify())));
    await bus.start();
    await bus.send(Job, { n: 1 }, { to: 'work' });
    for (const [, fields] of spoiled) await raw.xadd(stream, '*', ...fields);
    await bus.send(Job, { n: 2 }, { to: 'work' });
    await waiter.until(() => handled.length === 2, 'the jobs around the spoiled entries');

    const dead = await deadLetters(bus, spoiled.length);
    expect(dead).toHaveLength(spoiled.length);
    for (const [i, [what, , reason]] of spoiled.entries()) {
      expect(dead[i]!.failure.reason, what).toBe('DECODE');
      expect(dead[i]!.failure.errorMessage, what).toMatch(reason);
      // Each can be found by the id the bus reported (the entry's id when it holds none).
      expect(await bus.deadLetters.get('work', dead[i]!.message.id), what).toBeDefined();
    }
    expect(await raw.xpending(stream, GROUP)).toEqual([0, null, null, null]);
    await bus.send(Job, { n: 3 }, { to: 'work' });
    await waiter.until(() => handled.length === 3, 'a job sent after the dead letters');
    expect(handled.sort()).toEqual([1, 2, 3]);
  });

  it('a spoiled batch entry reclaimed from a dead consumer is dead-lettered whole; the reclaim goes on', async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const { raw, stream, bus: make } = await setUp();
    const setup = make();
    setup.endpoint('work', (e) => e.on(Job, () => undefined));
    await setup.start();
    await setup.stop();
    // A consumer that read the spoiled entry and a good one, then died holding both.
    await raw.xadd(stream, '*', 'M', Buffer.from([2, 0, 0, 0, 2, 0, 0, 0, 9, 1]));
    await raw.xadd(stream, '*', 'm', messageValue('held', 5));
    expect(await raw.xreadgroup('GROUP', GROUP, 'dead-consumer', 'COUNT', 10, 'STREAMS', stream, '>')).toHaveLength(1);

    const handled: number[] = [];
    const bus = make(200);
    bus.endpoint('work', (e) => e.on(Job, ({ n }) => void (handled.push(n), waiter.notify())));
    await bus.start();
    await waiter.until(() => handled.length === 1, 'the good entry the dead consumer held');
    expect(handled).toEqual([5]);
    const [letter] = await deadLetters(bus, 1);
    expect(letter!.failure.reason).toBe('DECODE');
    expect(letter!.failure.errorMessage).toMatch(/batch value/);
  });

  it('a negative delivery count in an entry never keeps a message that crashed its consumers below maxDeliveries', async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const { prefix, raw, stream, bus: make } = await setUp();
    const setup = make();
    setup.endpoint('work', (e) => e.on(Job, () => undefined));
    await setup.start();
    await setup.stop();
    // Written with a count of -1000, then delivered three times to consumers that died holding it.
    const id = await raw.xadd(stream, '*', 'm', messageValue('crasher', 1), 'dc', '-1000');
    await raw.xreadgroup('GROUP', GROUP, 'dead-consumer', 'COUNT', 1, 'STREAMS', stream, '>');
    await raw.xclaim(stream, GROUP, 'dead-consumer', 0, id!, 'RETRYCOUNT', 3);

    const handled: number[] = [];
    const bus = createBus({
      service: 'entries',
      transport: new RedisTransport({ url: redisUrl, prefix, claimIdleMs: 200 }),
      logger: silentLogger,
    });
    cleanup.push(() => bus.stop({ timeoutMs: 0 }));
    bus.endpoint('work', (e) => e.on(Job, ({ n }) => void handled.push(n)), { maxDeliveries: 3 });
    await bus.start();
    const [letter] = await deadLetters(bus, 1);
    expect(letter!.message.id).toBe('crasher');
    expect(letter!.failure.reason).toBe('MAX_DELIVERIES');
    expect(handled).toEqual([]);
  });
});
