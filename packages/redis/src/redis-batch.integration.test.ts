/**
 * Batch entries (see `entry.ts`, `publish-batch.ts`): the publishes of one turn to one stream
 * share stream entries. Every message of a batch entry is confirmed and delivered, in order; a
 * nack of one writes that one again alone; a batch entry of a dead consumer is split when it is
 * reclaimed, so a message that keeps killing its consumer comes back alone; the listing counts
 * messages, not entries; entries written before (one message each, `m` or `i`/`t`/`b`) still read.
 */
import { describe, expect, it } from 'vitest';
import { consoleLogger, silentLogger, type DeadLetterFailure } from '@missive/core';
import type { Delivery, TransportMessage } from '@missive/core/transport';
import { createWaiter, startFaultProxy } from '@missive/testing';
import { Redis } from 'ioredis';
import { RedisTransport } from './redis-transport.js';
import { cleanupAfterEach, deletePrefix, needRedis, redisUrl, uniquePrefix } from './test-support/redis.js';

const cleanup = cleanupAfterEach();
const waiter = createWaiter({ timeoutMs: 30_000 });

const message = (id: string, headers: Record<string, string> = {}): TransportMessage => ({
  id,
  type: 'batch.test',
  body: Buffer.from(`body of ${id}`),
  headers,
  partitionKey: undefined,
});
const failure: DeadLetterFailure = {
  reason: 'MAX_DELIVERIES',
  errorName: 'Error',
  errorMessage: 'kills its consumer',
  attempts: 3,
  endpoint: 'batch',
  service: 'test',
  host: 'h',
  time: 1,
};

/** A transport on the shared server under a prefix of its own (deleted afterwards), with queue `work` bound to `batch.#`. */
async function setUp(
  url = redisUrl,
  prefix = uniquePrefix(),
  claimIdleMs?: number,
): Promise<{ transport: RedisTransport; prefix: string; stream: string }> {
  const transport = new RedisTransport(
    { url, prefix, batch: 64, ...(claimIdleMs === undefined ? {} : { claimIdleMs }) },
    { logger: silentLogger },
  );
  await transport.connect();
  cleanup.push(() => deletePrefix(redisUrl, prefix));
  cleanup.push(() => transport.close());
  await transport.declare({ name: 'work', topics: ['batch.#'] });
  return { transport, prefix, stream: `${prefix}:q:work` };
}

/** Publishes the messages in one turn (one batch) and waits for every confirmation. */
function publishTogether(transport: RedisTransport, messages: readonly TransportMessage[]): Promise<void[]> {
  return Promise.all(messages.map((m) => transport.publish('batch.created', m)));
}

/** The next `n` deliveries of a consumer. */
async function take(iterator: AsyncIterator<Delivery>, n: number): Promise<Delivery[]> {
  const out: Delivery[] = [];
  for (let i = 0; i < n; i++) out.push((await iterator.next()).value as Delivery);
  return out;
}

describe('redis batch entries', () => {
  it('are off by default: a turn of publishes makes one entry a message', async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const prefix = uniquePrefix();
    const transport = new RedisTransport({ url: redisUrl, prefix }, { logger: silentLogger });
    await transport.connect();
    cleanup.push(() => deletePrefix(redisUrl, prefix));
    cleanup.push(() => transport.close());
    await transport.declare({ name: 'work', topics: ['batch.#'] });
    await publishTogether(
      transport,
      Array.from({ length: 10 }, (_, i) => message(`d-${i}`)),
    );
    expect(await transport.redis.xlen(`${prefix}:q:work`)).toBe(10);
  });

  it('a turn of publishes to one stream shares entries (at most 64 messages each); every one is confirmed and delivered, in order, with its headers', async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const { transport, stream } = await setUp();
    const sent = Array.from({ length: 100 }, (_, i) => message(`m-${i}`, i % 2 === 0 ? { n: String(i) } : {}));
    await publishTogether(transport, sent);
    expect(await transport.redis.xlen(stream)).toBe(2); // 64 + 36

    const consumer = transport.consume('work', { prefetch: 128 });
    cleanup.push(() => consumer.close());
    const got = await take(consumer[Symbol.asyncIterator](), 100);
    expect(got.map((d) => d.message.id)).toEqual(sent.map((m) => m.id));
    expect(got.map((d) => d.message.headers)).toEqual(sent.map((m) => m.headers));
    expect(got.map((d) => d.message.body.toString())).toEqual(sent.map((m) => m.body.toString()));
    expect(got.every((d) => d.deliveryCount === 1)).toBe(true);
    for (const d of got) await d.ack();
    await waiter.eventually(
      () => transport.redis.xlen(stream),
      (n) => n === 0,
      'both batch entries acked and deleted',
    );
  });

  it('a nack of one message of a batch entry redelivers that one alone; the entry goes once all are settled', async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const { transport, stream } = await setUp();
    await publishTogether(
      transport,
      Array.from({ length: 10 }, (_, i) => message(`m-${i}`)),
    );
    expect(await transport.redis.xlen(stream)).toBe(1);

    const consumer = transport.consume('work', { prefetch: 32 });
    cleanup.push(() => consumer.close());
    const iterator = consumer[Symbol.asyncIterator]();
    const first = await take(iterator, 10);
    await first[3]!.nack({ headers: { retried: 'yes' } });
    for (const d of first) if (d !== first[3]) await d.ack();

    const [again] = await take(iterator, 1);
    expect(again!.message.id).toBe('m-3');
    expect(again!.deliveryCount).toBe(2);
    expect(again!.message.headers).toEqual({ retried: 'yes' });
    await again!.ack();
    // Nothing else comes back: the batch entry and the re-written message are gone, nothing is pending.
    const [info] = await waiter.eventually(
      () => transport.queues(),
      ([q]) => q?.depth === 0 && q.inFlight === 0,
      'every message settled',
    );
    expect(info).toMatchObject({ depth: 0, inFlight: 0, deadLetters: 0 });
    expect(await transport.redis.xlen(stream)).toBe(0);
  });

  it("a dead consumer's batch entry is split when reclaimed: a message that kills its consumer again comes back alone, its batch-mates are handled once", async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const prefix = uniquePrefix();
    const { transport: healthy, stream } = await setUp(redisUrl, prefix, 300);
    await publishTogether(
      healthy,
      Array.from({ length: 5 }, (_, i) => message(`m-${i}`)),
    );
    expect(await healthy.redis.xlen(stream)).toBe(1);
    // A consumer that read the batch entry and died (a raw read in the group, never acked).
    const read = (await healthy.redis.xreadgroup('GROUP', 'missive', 'crashed', 'COUNT', 10, 'STREAMS', stream, '>')) as [
      string,
      [string, string[]][],
    ][];
    const batchId = read[0]![1][0]![0];

    // The second consumer, through a proxy: it reclaims the batch, handles the mates, and dies holding m-2.
    const target = new URL(redisUrl);
    const proxy = await startFaultProxy({ port: Number(target.port || 6379), host: target.hostname });
    cleanup.push(() => proxy.close());
    const viaProxy = new URL(redisUrl);
    viaProxy.port = String(proxy.port);
    const second = new RedisTransport({ url: viaProxy.href, prefix, claimIdleMs: 300 }, { logger: silentLogger });
    await second.connect();
    cleanup.push(() => second.close());
    const dying = second.consume('work', { prefetch: 10 });
    const reclaimed = await take(dying[Symbol.asyncIterator](), 5);
    expect(reclaimed.map((d) => [d.message.id, d.deliveryCount])).toEqual([0, 1, 2, 3, 4].map((i) => [`m-${i}`, 2]));
    // Split: each message is an entry of its own; the batch entry is gone.
    expect(await healthy.redis.xrange(stream, batchId, batchId)).toEqual([]);
    for (const d of reclaimed) if (d.message.id !== 'm-2') await d.ack();
    await waiter.eventually(
      () => healthy.queues(),
      ([q]) => q?.inFlight === 1,
      'the four mates acked',
    );
    proxy.freeze(); // the second consumer dies holding m-2

    const third = healthy.consume('work', { prefetch: 10 });
    cleanup.push(() => third.close());
    const [poison] = await take(third[Symbol.asyncIterator](), 1);
    expect([poison!.message.id, poison!.deliveryCount]).toEqual(['m-2', 3]);
    await poison!.deadLetter(failure); // as the pipeline does past maxDeliveries
    const [info] = await waiter.eventually(
      () => healthy.queues(),
      ([q]) => q?.deadLetters === 1,
      'the poison message dead-lettered',
    );
    // Nothing of the batch is left to deliver: the mates were handled once, the poison went alone.
    expect(info).toMatchObject({ depth: 0, inFlight: 0, deadLetters: 1 });
    proxy.cut();
  });

  it('a late ack of a batch entry taken for dead settles nothing: the split copies another consumer holds stay in flight', async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const prefix = uniquePrefix();
    const { transport: healthy, stream } = await setUp(redisUrl, prefix, 300);
    const target = new URL(redisUrl);
    const proxy = await startFaultProxy({ port: Number(target.port || 6379), host: target.hostname });
    cleanup.push(() => proxy.close());
    const viaProxy = new URL(redisUrl);
    viaProxy.port = String(proxy.port);
    const warnings: string[] = [];
    const cutOff = new RedisTransport(
      { url: viaProxy.href, prefix, claimIdleMs: 300 },
      { logger: consoleLogger('warn', { write: (line) => void warnings.push(line) }) },
    );
    await cutOff.connect();
    cleanup.push(() => cutOff.close());
    await publishTogether(
      healthy,
      Array.from({ length: 3 }, (_, i) => message(`m-${i}`)),
    );
    expect(await healthy.redis.xlen(stream)).toBe(1);

    const first = cutOff.consume('work', { prefetch: 10 });
    const taken = await take(first[Symbol.asyncIterator](), 3);
    expect(taken.map((d) => d.deliveryCount)).toEqual([1, 1, 1]);
    proxy.freeze(); // its link is dead: it can no longer touch the batch entry

    const second = healthy.consume('work', { prefetch: 10 });
    cleanup.push(() => second.close());
    const copies = await take(second[Symbol.asyncIterator](), 3);
    expect(copies.map((d) => [d.message.id, d.deliveryCount])).toEqual([0, 1, 2].map((i) => [`m-${i}`, 2]));

    for (const d of taken) await d.ack(); // the whole batch entry's ack, into the frozen link
    proxy.cut(); // the link comes back: the ack goes out after the reconnect
    await waiter.until(
      () => warnings.some((line) => line.includes('found the delivery reclaimed by another consumer')),
      'the late ack to be refused',
    );
    expect(await healthy.queues()).toMatchObject([{ name: 'work', depth: 0, inFlight: 3 }]);
    for (const d of copies) await d.ack();
    await waiter.eventually(
      () => healthy.queues(),
      ([q]) => q?.depth === 0 && q.inFlight === 0,
      'the copies acked',
    );
  });

  it('the queue listing counts the messages of batch entries (depth, in flight); a batch entry is acked once its last message is, and then forgotten', async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const { transport, prefix, stream } = await setUp();
    await publishTogether(
      transport,
      Array.from({ length: 10 }, (_, i) => message(`m-${i}`)),
    );
    await transport.publish('batch.created', message('alone'));
    expect(await transport.redis.xlen(stream)).toBe(2);
    expect(await transport.queues()).toMatchObject([{ name: 'work', depth: 11, inFlight: 0 }]);

    const consumer = transport.consume('work', { prefetch: 32 });
    cleanup.push(() => consumer.close());
    const held = await take(consumer[Symbol.asyncIterator](), 11);
    expect(await transport.queues()).toMatchObject([{ name: 'work', depth: 0, inFlight: 11 }]);
    // All but one of the batch acked (and the lone one): the batch entry stays pending, whole, until its last message is settled.
    const last = held.find((d) => d.message.id === 'm-9')!;
    for (const d of held) if (d !== last) await d.ack();
    await waiter.eventually(
      () => transport.queues(),
      ([q]) => q?.inFlight === 10,
      'the lone message acked',
    );
    expect(await transport.redis.xlen(stream)).toBe(1);
    await last.ack();
    await waiter.eventually(
      () => transport.queues(),
      ([q]) => q?.depth === 0 && q.inFlight === 0,
      'every message acked',
    );
    expect(await transport.redis.exists(`${prefix}:batched`)).toBe(0);
  });

  it('a message nacked or dead-lettered out of a batch entry still pending counts once: in the queue (or dead letters), no longer in flight', async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const { transport } = await setUp();
    await publishTogether(
      transport,
      Array.from({ length: 5 }, (_, i) => message(`m-${i}`)),
    );
    const consumer = transport.consume('work', { prefetch: 32 });
    cleanup.push(() => consumer.close());
    const held = await take(consumer[Symbol.asyncIterator](), 5);
    await held[1]!.nack({ delayMs: 600_000 }); // waits, delayed, until the test ends
    await held[2]!.deadLetter(failure);
    // 5 messages: m-1 delayed (depth), m-2 a dead letter, the other three in flight.
    expect(await transport.queues()).toMatchObject([{ name: 'work', depth: 1, inFlight: 3, deadLetters: 1 }]);
    for (const i of [0, 3, 4]) await held[i]!.ack();
    await waiter.eventually(
      () => transport.queues(),
      ([q]) => q?.inFlight === 0,
      'the batch entry acked',
    );
    expect(await transport.queues()).toMatchObject([{ name: 'work', depth: 1, inFlight: 0, deadLetters: 1 }]);
  });

  it("a dead consumer's batch entry is split without the messages it had nacked or dead-lettered: none is delivered or dead-lettered twice", async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const prefix = uniquePrefix();
    const { transport: healthy, stream } = await setUp(redisUrl, prefix, 300);
    await publishTogether(
      healthy,
      Array.from({ length: 4 }, (_, i) => message(`m-${i}`)),
    );
    expect(await healthy.redis.xlen(stream)).toBe(1);
    // The first consumer, through a proxy: it nacks m-1 (delayed), dead-letters m-2, acks m-3, and dies holding m-0.
    const target = new URL(redisUrl);
    const proxy = await startFaultProxy({ port: Number(target.port || 6379), host: target.hostname });
    cleanup.push(() => proxy.close());
    const viaProxy = new URL(redisUrl);
    viaProxy.port = String(proxy.port);
    const dying = new RedisTransport({ url: viaProxy.href, prefix, claimIdleMs: 300 }, { logger: silentLogger });
    await dying.connect();
    cleanup.push(() => dying.close());
    const first = dying.consume('work', { prefetch: 10 });
    const held = await take(first[Symbol.asyncIterator](), 4);
    await held[1]!.nack({ delayMs: 600_000 });
    await held[2]!.deadLetter(failure);
    await held[3]!.ack(); // in the batch entry's ack, which never goes: the entry is not all settled
    expect(await healthy.queues()).toMatchObject([{ name: 'work', depth: 1, inFlight: 2, deadLetters: 1 }]);
    proxy.freeze();

    // The reclaim splits the entry and reads the copies in one script call: what it delivers is in flight at once.
    const second = healthy.consume('work', { prefetch: 10 });
    cleanup.push(() => second.close());
    const [copy] = await take(second[Symbol.asyncIterator](), 1);
    expect([copy!.message.id, copy!.deliveryCount]).toEqual(['m-0', 2]);
    // m-3 comes back (its ack never reached Redis: at least once); m-1 (delayed) and m-2 (a dead letter) do not.
    const [info] = await healthy.queues();
    expect(info).toMatchObject({ depth: 1, inFlight: 2, deadLetters: 1 });
    const [mate] = await take(second[Symbol.asyncIterator](), 1);
    expect(mate!.message.id).toBe('m-3');
    for (const d of [copy!, mate!]) await d.ack();
    await waiter.eventually(
      () => healthy.queues(),
      ([q]) => q?.inFlight === 0,
      'the copies acked',
    );
    expect(await healthy.queues()).toMatchObject([{ name: 'work', depth: 1, inFlight: 0, deadLetters: 1 }]);
    // The first consumer's frozen link is cut: it closes at once, whatever state its connections are in.
    proxy.cut();
    await first.close();
    await dying.close();
  });

  it('entries written before batching (one message each: `m`, or `i`, `t`, `b`) are still read', async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const { transport, stream } = await setUp();
    const raw = new Redis(redisUrl);
    cleanup.push(() => void raw.disconnect());
    await raw.xadd(stream, '*', 'i', 'old-1', 't', 'batch.old', 'b', 'old body', 'h', JSON.stringify({ a: '1' }));
    await raw.xadd(stream, '*', 'i', 'old-2', 't', 'batch.old', 'dc', '2');
    await transport.publish('batch.created', message('new-1')); // alone in its turn: one message, field `m`
    expect((await raw.xrange(stream, '-', '+'))[2]![1][0]).toBe('m');

    const consumer = transport.consume('work', { prefetch: 10 });
    cleanup.push(() => consumer.close());
    const got = await take(consumer[Symbol.asyncIterator](), 3);
    expect(got.map((d) => [d.message.id, d.message.type, d.message.body.toString(), d.message.headers, d.deliveryCount])).toEqual([
      ['old-1', 'batch.old', 'old body', { a: '1' }, 1],
      ['old-2', 'batch.old', '', {}, 3],
      ['new-1', 'batch.test', 'body of new-1', {}, 1],
    ]);
    for (const d of got) await d.ack();
    await waiter.eventually(
      () => transport.queues(),
      ([q]) => q?.depth === 0 && q.inFlight === 0,
      'every message acked',
    );
  });
});
