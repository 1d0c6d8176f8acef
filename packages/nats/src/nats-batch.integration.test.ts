/**
 * Batch messages (`batch=N`, see `batch.ts`) against the real nats-server: the unkeyed publishes of
 * one turn to one subject share JetStream messages, every member is delivered once, in order; a
 * nack of one member writes it alone (its mates are not delivered again); a batch message
 * redelivered by JetStream (its consumer went away without settling it) is split, so a poison member
 * is retried and dead-lettered alone; fan-out keeps one batch per endpoint's lane; a batch message
 * whose payload cannot be read is dead-lettered with the reason, and the consumer carries on.
 */
import { describe, expect, it } from 'vitest';
import { connect, createInbox, headers, type Msg, type NatsConnection } from 'nats';
import { z } from 'zod';
import { createBus, defineEvent, silentLogger, TransportError, type Bus, type DeadLetterFailure, type Logger } from '@missive/core';
import type { TransportMessage } from '@missive/core/transport';
import { take } from './test-support/take.js';
import { createWaiter, startFaultProxy } from '@missive/testing';
import { NatsTransport } from './nats-transport.js';
import { startDroppingProxy } from './test-support/dropping-proxy.js';
import { natsUrlFor, needNats, removePrefix, uniquePrefix } from './test-support/server.js';

const waiter = createWaiter({ timeoutMs: 25_000 });

const message = (id: string, headers: Record<string, string> = {}): TransportMessage => ({
  id,
  type: 'batch.created',
  body: Buffer.from(`body of ${id}`),
  headers,
  partitionKey: undefined,
});
const failure: DeadLetterFailure = {
  reason: 'MAX_DELIVERIES',
  errorName: 'Error',
  errorMessage: 'kills its consumer',
  attempts: 3,
  endpoint: 'work',
  service: 'test',
  host: 'h',
  time: 1,
};

interface Setup {
  readonly transport: NatsTransport;
  readonly url: string;
  readonly prefix: string;
  close(): Promise<void>;
}

/** A transport under a prefix of its own, with queues bound to `batch.#` (`work` unless named). */
async function setUp(params: Record<string, string> = { batch: '64' }, queues: readonly string[] = ['work']): Promise<Setup> {
  const prefix = uniquePrefix();
  const url = natsUrlFor(prefix, params);
  const transport = new NatsTransport({ url }, { logger: silentLogger });
  await transport.connect();
  for (const name of queues) await transport.declare({ name, topics: ['batch.#'] });
  return {
    transport,
    url,
    prefix,
    close: async () => {
      await transport.close();
      await removePrefix(url);
    },
  };
}

/** Publishes the messages in one turn (one batch) and waits for every confirmation. */
function publishTogether(transport: NatsTransport, messages: readonly TransportMessage[]): Promise<void[]> {
  return Promise.all(messages.map((m) => transport.publish('batch.created', m)));
}

/** How many JetStream messages the messages stream holds. */
async function stored(transport: NatsTransport): Promise<number> {
  return (await transport.jsm().streams.info(transport.names.messages)).state.messages;
}

/** One message pulled from a lane by hand and never acked: a consumer that dies holding it. */
async function pullAndDrop(nc: NatsConnection, stream: string, lane: string): Promise<Msg> {
  const inbox = createInbox();
  const sub = nc.subscribe(inbox, { max: 1 });
  nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${stream}.${lane}`, Buffer.from('{"batch":1,"expires":10000000000}'), { reply: inbox });
  for await (const m of sub) return m;
  throw new Error('no message pulled');
}

/** A batch message's payload as another writer might make it: each member a 32-bit length, its header block, a 32-bit length, its payload. */
function rawBatch(members: readonly (readonly [string, string])[]): Buffer {
  return Buffer.concat(
    members.flatMap(([block, data]) => {
      const b = Buffer.from(block);
      const d = Buffer.from(data);
      const lengths = Buffer.alloc(8);
      lengths.writeUInt32BE(b.length, 0);
      lengths.writeUInt32BE(d.length, 4);
      return [lengths.subarray(0, 4), b, lengths.subarray(4), d];
    }),
  );
}

/** The header block of a member (binary content mode: a CloudEvent from elsewhere) with message id `id`, plus `extra` header lines. */
const memberBlock = (id: string, extra = ''): string => `NATS/1.0\r\nNats-Msg-Id: ${id}\r\nce-source: /elsewhere\r\n${extra}\r\n`;

describe('nats batch messages', () => {
  it('are off by default: a turn of publishes stores one JetStream message each', async (ctx) => {
    if (!(await needNats(ctx))) return;
    const s = await setUp({});
    try {
      await publishTogether(
        s.transport,
        Array.from({ length: 10 }, (_, i) => message(`d-${i}`)),
      );
      expect(await stored(s.transport)).toBe(10);
    } finally {
      await s.close();
    }
  });

  it('a turn of publishes to one subject shares JetStream messages (64 each at most); every member is confirmed and delivered once, in order, with its headers', async (ctx) => {
    if (!(await needNats(ctx))) return;
    const s = await setUp();
    try {
      const sent = Array.from({ length: 100 }, (_, i) => message(`m-${i}`, i % 2 === 0 ? { n: String(i) } : {}));
      await publishTogether(s.transport, sent);
      expect(await stored(s.transport)).toBe(2); // 64 + 36
      const alone = message('alone');
      await s.transport.publish('batch.created', alone); // alone in its turn: a single message, as without batching
      expect(await stored(s.transport)).toBe(3);

      const consumer = s.transport.consume('work', { prefetch: 128 }); // all held at once: a batch message counts whole
      const got = await take(consumer[Symbol.asyncIterator](), 101);
      expect(got.map((d) => d.message.id)).toEqual([...sent, alone].map((m) => m.id));
      expect(got.map((d) => d.message.type)).toEqual(got.map(() => 'batch.created'));
      expect(got.map((d) => d.message.headers)).toEqual([...sent, alone].map((m) => m.headers));
      expect(got.map((d) => Buffer.from(d.message.body).toString())).toEqual([...sent, alone].map((m) => Buffer.from(m.body).toString()));
      expect(got.every((d) => d.deliveryCount === 1)).toBe(true);
      for (const d of got) await d.ack();
      await waiter.eventually(
        () => stored(s.transport),
        (n) => n === 0,
        'every JetStream message acked (the stream drops it)',
      );
      expect(await s.transport.queues()).toMatchObject([{ name: 'work', depth: 0, inFlight: 0, deadLetters: 0 }]);
      await consumer.close();
    } finally {
      await s.close();
    }
  });

  it('a batch message without a PubAck rejects every member with the one typed error', async (ctx) => {
    if (!(await needNats(ctx))) return;
    const s = await setUp({ batch: '64', publishTimeout: '500' });
    try {
      await s.transport.jsm().streams.delete(s.transport.names.messages); // nothing stores the subject: "no responders" until the timeout
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, (_, i) => s.transport.publish('batch.created', message(`m-${i}`))),
      );
      const errors = results.map((r) => (r.status === 'rejected' ? (r.reason as Error) : undefined));
      expect(errors.every((e) => e instanceof TransportError)).toBe(true);
      expect(new Set(errors).size).toBe(1); // one JetStream message, one answer for all five
      expect(errors[0]!.message).toContain('no stream answered');
    } finally {
      await s.close();
    }
  });

  it('a member nacked once is retried alone (now, or after its delay), with the nack headers; its batch-mates are not delivered again', async (ctx) => {
    if (!(await needNats(ctx))) return;
    const s = await setUp();
    try {
      await publishTogether(
        s.transport,
        Array.from({ length: 10 }, (_, i) => message(`m-${i}`)),
      );
      expect(await stored(s.transport)).toBe(1);
      // The listing counts JetStream messages: the batch message is one (see the README).
      expect(await s.transport.queues()).toMatchObject([{ name: 'work', depth: 1, inFlight: 0 }]);
      const consumer = s.transport.consume('work', { prefetch: 32 });
      const iterator = consumer[Symbol.asyncIterator]();
      const first = await take(iterator, 10);
      await first[3]!.nack({ headers: { retried: 'yes' } });
      await first[6]!.nack({ delayMs: 300 });
      for (const d of first) if (d !== first[3] && d !== first[6]) await d.ack();

      const again = await take(iterator, 2);
      expect(again.map((d) => [d.message.id, d.message.type, d.deliveryCount, d.message.headers])).toEqual([
        ['m-3', 'batch.created', 2, { retried: 'yes' }],
        ['m-6', 'batch.created', 2, {}],
      ]);
      for (const d of again) await d.ack();
      // Nothing else comes back: the batch message and the copies are acked, nothing is pending.
      await waiter.eventually(
        () => stored(s.transport),
        (n) => n === 0,
        'the batch message and both copies acked',
      );
      expect(await s.transport.queues()).toMatchObject([{ name: 'work', depth: 0, inFlight: 0, deadLetters: 0 }]);
      await consumer.close();
    } finally {
      await s.close();
    }
  });

  it('a batch message redelivered after its consumer died is split: a member that kills its consumer again comes back alone and is dead-lettered alone; its mates are handled once', async (ctx) => {
    if (!(await needNats(ctx))) return;
    const s = await setUp({ batch: '64', ackWait: '1000' });
    const nc = await connect({ servers: new URL(s.url).host });
    const target = new URL(s.url);
    const proxy = await startFaultProxy({ port: Number(target.port || 4222), host: target.hostname });
    const dying = new NatsTransport({ url: natsUrlFor(s.prefix, { batch: '64', ackWait: '1000' }, `nats://127.0.0.1:${proxy.port}`) });
    try {
      await publishTogether(
        s.transport,
        Array.from({ length: 5 }, (_, i) => message(`m-${i}`)),
      );
      expect(await stored(s.transport)).toBe(1);
      // A consumer that took the batch message and died without settling it.
      const lane = s.transport.bindings.lanesOf('work').find((l) => l.filter.endsWith('.t.batch.>'))!; // `batch.#` is two filters: `batch` and `batch.>`
      const dropped = await pullAndDrop(nc, s.transport.names.messages, lane.name);
      expect(dropped.headers?.get('Missive-Batch')).toBe('5');

      // JetStream redelivers it after the ack wait to a second consumer: split, each member alone, its first delivery counted.
      await dying.connect();
      const second = dying.consume('work', { prefetch: 10 });
      const copies = await take(second[Symbol.asyncIterator](), 5);
      expect(copies.map((d) => [d.message.id, d.message.type, d.deliveryCount])).toEqual(
        [0, 1, 2, 3, 4].map((i) => [`m-${i}`, 'batch.created', 2]),
      );
      for (const d of copies) if (d.message.id !== 'm-2') await d.ack();
      await waiter.eventually(
        () => s.transport.queues(),
        ([q]) => q?.inFlight === 1 && q.depth === 0,
        'the four mates acked',
      );
      proxy.freeze(); // the second consumer dies holding m-2

      const third = s.transport.consume('work', { prefetch: 10 });
      const [poison] = await take(third[Symbol.asyncIterator](), 1);
      expect(poison!.message.id).toBe('m-2');
      // 3, or more: nats-server 2.9 also counts a delivery to a pull request the frozen consumer left at the server.
      expect(poison!.deliveryCount).toBeGreaterThanOrEqual(3);
      await poison!.deadLetter(failure); // as the pipeline does past maxDeliveries
      const [info] = await waiter.eventually(
        () => s.transport.queues(),
        ([q]) => q?.deadLetters === 1 && q.inFlight === 0,
        'the poison member dead-lettered',
      );
      // Nothing of the batch is left to deliver: the mates were handled once, the poison went alone.
      expect(info).toMatchObject({ depth: 0, inFlight: 0, deadLetters: 1 });
      expect((await s.transport.deadLetters.list('work')).map((l) => l.message.id)).toEqual(['m-2']);
      await waiter.eventually(
        () => stored(s.transport),
        (n) => n === 0,
        'nothing of the batch left in the stream',
      );
      await third.close();
    } finally {
      proxy.cut();
      await dying.close().catch(() => undefined);
      await proxy.close();
      await nc.close();
      await s.close();
    }
  });

  it('a split writes neither a member the dead consumer dead-lettered nor a second copy of one it nacked', async (ctx) => {
    if (!(await needNats(ctx))) return;
    const s = await setUp({ batch: '64', ackWait: '1000' });
    const target = new URL(s.url);
    const proxy = await startFaultProxy({ port: Number(target.port || 4222), host: target.hostname });
    const dying = new NatsTransport({ url: natsUrlFor(s.prefix, { batch: '64', ackWait: '1000' }, `nats://127.0.0.1:${proxy.port}`) });
    try {
      await publishTogether(
        s.transport,
        Array.from({ length: 5 }, (_, i) => message(`m-${i}`)),
      );
      await dying.connect();
      const first = dying.consume('work', { prefetch: 10 });
      const held = await take(first[Symbol.asyncIterator](), 5);
      await held[1]!.deadLetter(failure);
      await held[2]!.nack(); // its copy is stored now
      await held[0]!.ack(); // only at the server once the whole batch is: never, here
      proxy.freeze(); // dies holding m-3 and m-4

      // The batch comes back after the ack wait and is split: m-0, m-3, m-4 written alone; m-2's copy already there, stored once; m-1 not at all.
      const second = s.transport.consume('work', { prefetch: 10 });
      const again = await take(second[Symbol.asyncIterator](), 4);
      expect(again.map((d) => d.message.id).sort()).toEqual(['m-0', 'm-2', 'm-3', 'm-4']);
      for (const d of again) await d.ack();
      await waiter.eventually(
        () => s.transport.queues(),
        ([q]) => q?.depth === 0 && q.inFlight === 0,
        'nothing more to deliver',
      );
      expect((await s.transport.deadLetters.list('work')).map((l) => l.message.id)).toEqual(['m-1']);
      await second.close();
    } finally {
      proxy.cut();
      await dying.close().catch(() => undefined);
      await proxy.close();
      await s.close();
    }
  });

  it('fan-out: each endpoint expands the shared batch message; a nack writes the member to that endpoint queue only', async (ctx) => {
    if (!(await needNats(ctx))) return;
    const s = await setUp({ batch: '64' }, ['billing', 'shipping']);
    try {
      await publishTogether(
        s.transport,
        Array.from({ length: 10 }, (_, i) => message(`m-${i}`)),
      );
      expect(await stored(s.transport)).toBe(1);
      const billing = s.transport.consume('billing', { prefetch: 32 });
      const shipping = s.transport.consume('shipping', { prefetch: 32 });
      const b = billing[Symbol.asyncIterator]();
      const first = await take(b, 10);
      const shipped = await take(shipping[Symbol.asyncIterator](), 10);
      expect(first.map((d) => d.message.id)).toEqual(shipped.map((d) => d.message.id));
      await first[4]!.nack();
      for (const d of [...first, ...shipped]) if (d !== first[4]) await d.ack();
      const [again] = await take(b, 1);
      expect([again!.message.id, again!.deliveryCount]).toEqual(['m-4', 2]);
      await again!.ack();
      await waiter.eventually(
        () => s.transport.queues(),
        (qs) => qs.length === 2 && qs.every((q) => q.depth === 0 && q.inFlight === 0),
        'both endpoints settled everything',
      );
      expect(await stored(s.transport)).toBe(0);
      await Promise.all([billing.close(), shipping.close()]);
    } finally {
      await s.close();
    }
  });

  it('through the bus: members of one batch retried with a delay and dead-lettered alone; the others handled once', async (ctx) => {
    if (!(await needNats(ctx))) return;
    const prefix = uniquePrefix();
    const url = natsUrlFor(prefix, { batch: '64' });
    const Created = defineEvent('batch.created', z.object({ n: z.number() }));
    const attempts = new Map<number, number>();
    const bus = createBus({ service: 'batch-test', transport: url });
    bus.endpoint(
      'work',
      (e) =>
        e.on(Created, (event) => {
          const seen = (attempts.get(event.n) ?? 0) + 1;
          attempts.set(event.n, seen);
          if (event.n === 3) throw new Error('always fails');
          if (event.n === 5 && seen === 1) throw new Error('fails once');
        }),
      { retry: { immediate: 0, delayed: { attempts: 2, initialMs: 50, factor: 1, jitter: 0 } } },
    );
    try {
      await bus.start();
      const transport = bus.transport as NatsTransport;
      const before = (await transport.jsm().streams.info(transport.names.messages)).state.last_seq;
      await Promise.all(Array.from({ length: 10 }, (_, n) => bus.publish(Created, { n })));
      // One JetStream message for the ten.
      expect((await transport.jsm().streams.info(transport.names.messages)).state.last_seq - before).toBe(1);
      await waiter.until(() => bus.stats().endpoints.work?.deadLettered === 1 && attempts.size === 10, 'the failing member dead-lettered');
      const letters = await transport.deadLetters.list('work');
      expect(letters.map((l) => l.failure.errorMessage)).toEqual(['always fails']);
      expect(attempts.get(3)).toBe(3); // the first delivery and two delayed retries
      expect(attempts.get(5)).toBe(2);
      for (const n of [0, 1, 2, 4, 6, 7, 8, 9]) expect(attempts.get(n), `n=${n}`).toBe(1);
      await waiter.eventually(
        () => transport.queues(),
        (qs) => qs.find((q) => q.name === 'work')?.depth === 0 && qs.find((q) => q.name === 'work')?.inFlight === 0,
        'everything settled',
      );
      for (const n of [0, 1, 2, 4, 6, 7, 8, 9]) expect(attempts.get(n), `n=${n} once`).toBe(1);
    } finally {
      await bus.stop();
      await removePrefix(url);
    }
  });

  /**
   * A bus whose endpoint `work` handles `batch.created`, a batch message written straight into the
   * stream by another writer (`Missive-Batch: count`, `Nats-Msg-Id: id`), then three events through
   * the bus; `check` runs with the bus and what it handled, and everything is removed after.
   */
  async function afterForeignBatch(
    id: string,
    count: string,
    payload: Uint8Array,
    check: (bus: Bus, handled: number[]) => Promise<void>,
  ): Promise<void> {
    const prefix = uniquePrefix();
    const url = natsUrlFor(prefix, { batch: '64' });
    const Created = defineEvent('batch.created', z.object({ n: z.number() }));
    const handled: number[] = [];
    const bus = createBus({ service: 'batch-test', transport: url });
    bus.endpoint('work', (e) => e.on(Created, (event) => void handled.push(event.n)));
    const nc = await connect({ servers: new URL(url).host });
    try {
      await bus.start();
      const h = headers();
      h.set('Missive-Batch', count);
      h.set('Nats-Msg-Id', id);
      await nc.jetstream().publish(`${prefix}._.t.batch.created`, payload, { headers: h });
      await Promise.all([1, 2, 3].map((n) => bus.publish(Created, { n })));
      await check(bus, handled);
    } finally {
      await nc.close();
      await bus.stop();
      await removePrefix(url);
    }
  }

  const deadLetterOf = (bus: Bus, id: string, what: string) =>
    waiter.eventually(
      () => bus.transport.deadLetters.get('work', id),
      (l) => l !== undefined,
      what,
    );

  it('a batch message whose payload cannot be read is dead-lettered with the reason, and the endpoint carries on', async (ctx) => {
    if (!(await needNats(ctx))) return;
    await afterForeignBatch('corrupt-1', '2', Buffer.from([0, 0, 0, 200, 1, 2, 3]), async (bus, handled) => {
      await waiter.until(() => handled.length === 3, 'the events after the corrupt batch handled');
      const letter = await deadLetterOf(bus, 'corrupt-1', 'the corrupt batch message dead-lettered');
      expect(letter!.failure.errorMessage).toContain('batch message');
      expect(letter!.failure.errorMessage).toContain('cut off');
      expect(handled.sort()).toEqual([1, 2, 3]);
    });
  });

  const foreignBatches: [string, string, string[], string][] = [
    ['a count that does not match its members', '3', [memberBlock('u-1'), memberBlock('u-2')], 'says it holds 3'],
    ['a huge count', '4294967296', [memberBlock('u-1'), memberBlock('u-2')], 'says it holds 4294967296'],
    ['a count that is not a number', 'many', [memberBlock('u-1'), memberBlock('u-2')], 'says it holds many'],
    ['more members than a batch holds', '65', Array.from({ length: 65 }, (_, i) => memberBlock(`u-${i}`)), 'says it holds 65, not 2 to 64'],
  ];
  for (const [name, count, blocks, reason] of foreignBatches)
    it(`a batch message written by another writer with ${name} is dead-lettered (DECODE) with the reason; the endpoint carries on`, async (ctx) => {
      if (!(await needNats(ctx))) return;
      const payload = rawBatch(blocks.map((block, i) => [block, JSON.stringify({ n: 100 + i })]));
      await afterForeignBatch('foreign-1', count, payload, async (bus, handled) => {
        const letter = await deadLetterOf(bus, 'foreign-1', 'the batch message dead-lettered whole');
        expect(letter!.failure.reason).toBe('DECODE');
        expect(letter!.failure.errorMessage).toContain(reason);
        await waiter.until(() => handled.length === 3, 'the events after it handled');
        expect(handled.sort()).toEqual([1, 2, 3]); // none of its members
      });
    });

  it('a member whose partition key is not percent-encoded is dead-lettered alone (DECODE); its mate is handled and the endpoint carries on', async (ctx) => {
    if (!(await needNats(ctx))) return;
    const payload = rawBatch([
      [memberBlock('bad-key', 'Missive-Key: %E0%A4%A\r\n'), '{"n":100}'],
      [memberBlock('good'), '{"n":101}'],
    ]);
    await afterForeignBatch('foreign-2', '2', payload, async (bus, handled) => {
      const letter = await deadLetterOf(bus, 'bad-key', 'the member dead-lettered');
      expect(letter!.failure.reason).toBe('DECODE');
      expect(letter!.failure.errorMessage).toContain('Missive-Key');
      await waiter.until(() => handled.length === 4, 'its mate and the events after it handled');
      expect(handled.sort((x, y) => x - y)).toEqual([1, 2, 3, 101]);
    });
  });

  it('a member carrying JetStream publish conditions (Nats-Expected-*) is written alone all the same: its nack and the split of its redelivered batch are not refused', async (ctx) => {
    if (!(await needNats(ctx))) return;
    const s = await setUp({ batch: '64', ackWait: '1000' });
    const nc = await connect({ servers: new URL(s.url).host });
    try {
      const conditions = 'Nats-Expected-Stream: elsewhere\r\nNats-Expected-Last-Sequence: 1\r\n';
      const publish = async (id: string): Promise<void> => {
        const h = headers();
        h.set('Missive-Batch', '2');
        h.set('Nats-Msg-Id', id);
        const payload = rawBatch([
          [memberBlock(`${id}-a`, conditions), '{"n":1}'],
          [memberBlock(`${id}-b`), '{"n":2}'],
        ]);
        await nc.jetstream().publish(`${s.prefix}._.t.batch.created`, payload, { headers: h });
      };
      // A nack of the member writes it alone.
      await publish('f-1');
      const consumer = s.transport.consume('work', { prefetch: 10 });
      const iterator = consumer[Symbol.asyncIterator]();
      const held = await take(iterator, 2);
      await held[0]!.nack();
      await held[1]!.ack();
      const [again] = await take(iterator, 1);
      expect([again!.message.id, again!.deliveryCount]).toEqual(['f-1-a', 2]);
      await again!.ack();
      await consumer.close();

      // A batch message redelivered (its consumer died) is split: both members written alone.
      await publish('f-2');
      const lane = s.transport.bindings.lanesOf('work').find((l) => l.filter.endsWith('.t.batch.>'))!;
      await pullAndDrop(nc, s.transport.names.messages, lane.name);
      const second = s.transport.consume('work', { prefetch: 10 });
      const copies = await take(second[Symbol.asyncIterator](), 2);
      expect(copies.map((d) => [d.message.id, d.deliveryCount]).sort()).toEqual([
        ['f-2-a', 2],
        ['f-2-b', 2],
      ]);
      for (const d of copies) await d.ack();
      await waiter.eventually(
        () => stored(s.transport),
        (n) => n === 0,
        'the batch messages and the copies acked',
      );
      await second.close();
    } finally {
      await nc.close();
      await s.close();
    }
  });

  it('a consumer closed while its batch message is half settled: the members handed back are written alone; an ack of the batch message that then fails is logged, not an unhandled rejection', async (ctx) => {
    if (!(await needNats(ctx))) return;
    const s = await setUp({ batch: '64', ackWait: '1000' });
    const proxy = await startDroppingProxy({ port: Number(new URL(s.url).port || 4222) });
    const warnings: string[] = [];
    const quiet = (): void => undefined;
    const logger: Logger = { debug: quiet, info: quiet, error: quiet, warn: (_f, message?: string) => void warnings.push(String(message)) };
    const closing = new NatsTransport(
      {
        url: natsUrlFor(
          s.prefix,
          { batch: '64', ackWait: '1000', confirmAcks: 'true', publishTimeout: '500' },
          `nats://127.0.0.1:${proxy.port}`,
        ),
      },
      { logger },
    );
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await closing.connect();
      await publishTogether(s.transport, [message('m-0'), message('m-1')]);
      const first = closing.consume('work', { prefetch: 10 });
      const [m0] = await take(first[Symbol.asyncIterator](), 1);
      await m0!.ack(); // at the server only once the whole batch message is
      proxy.drop('$JS.ACK.', Infinity); // the batch message's ack gets no answer
      await first.close(); // m-1, not read, is handed back: written alone, then the batch message acked
      await waiter.until(() => unhandled.length > 0 || warnings.some((w) => w.includes('batch message')), 'the failed ack logged');
      expect(unhandled).toEqual([]);
      // Nothing lost: m-1's copy is there, and the unacked batch message comes back split (m-0 again, as the README admits).
      const second = s.transport.consume('work', { prefetch: 10 });
      const again = await take(second[Symbol.asyncIterator](), 2);
      expect(again.map((d) => d.message.id).sort()).toEqual(['m-0', 'm-1']);
      for (const d of again) await d.ack();
      await second.close();
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await closing.close().catch(() => undefined);
      await proxy.close();
      await s.close();
    }
  });

  it('a member whose nack write gets no PubAck: the nack rejects, the batch message is not acked, and its redelivery (split) brings the member back', async (ctx) => {
    if (!(await needNats(ctx))) return;
    const s = await setUp({ batch: '64', ackWait: '1000' });
    const proxy = await startDroppingProxy({ port: Number(new URL(s.url).port || 4222) });
    const slow = new NatsTransport(
      { url: natsUrlFor(s.prefix, { batch: '64', ackWait: '1000', publishTimeout: '500' }, `nats://127.0.0.1:${proxy.port}`) },
      { logger: silentLogger },
    );
    try {
      await slow.connect();
      await publishTogether(s.transport, [message('m-0'), message('m-1'), message('m-2')]);
      const consumer = slow.consume('work', { prefetch: 10 });
      const held = await take(consumer[Symbol.asyncIterator](), 3);
      proxy.drop(`${s.prefix}._.q.`, Infinity); // the member's copy never reaches the stream
      await expect(held[1]!.nack()).rejects.toBeInstanceOf(TransportError);
      proxy.drop(`${s.prefix}._.q.`, 0);
      await held[0]!.ack();
      await held[2]!.ack(); // the last member: the batch message is nacked, not acked (a member's write failed)
      // The batch message comes back and is split: m-1 is not lost (its mates come again, as the README admits).
      const again = await take(consumer[Symbol.asyncIterator](), 3);
      expect(again.map((d) => [d.message.id, d.deliveryCount]).sort()).toEqual([
        ['m-0', 2],
        ['m-1', 2],
        ['m-2', 2],
      ]);
      for (const d of again) await d.ack();
      await waiter.eventually(
        () => stored(s.transport),
        (n) => n === 0,
        'the batch message and the copies acked',
      );
      await consumer.close();
    } finally {
      await slow.close().catch(() => undefined);
      await proxy.close();
      await s.close();
    }
  });

  it('the documented duplicate: a member nacked with a delay just before its consumer dies comes twice (the split now, the scheduled copy at its due time); its mates once', async (ctx) => {
    if (!(await needNats(ctx))) return;
    const s = await setUp({ batch: '64', ackWait: '1000' }, ['work', 'other']);
    const target = new URL(s.url);
    const proxy = await startFaultProxy({ port: Number(target.port || 4222), host: target.hostname });
    const dying = new NatsTransport({ url: natsUrlFor(s.prefix, { batch: '64', ackWait: '1000' }, `nats://127.0.0.1:${proxy.port}`) });
    try {
      // The surviving process's scheduler asks first: it, not the dying one's, is handed the scheduled copy (a pull
      // request the dead process left would hold it for the scheduler's 30 s ack wait: late, not lost).
      const other = s.transport.consume('other', { prefetch: 1 });
      await (other as unknown as { ready: Promise<void> }).ready;
      await publishTogether(s.transport, [message('m-0'), message('m-1')]);
      await dying.connect();
      const first = dying.consume('work', { prefetch: 10 });
      const held = await take(first[Symbol.asyncIterator](), 2);
      await held[0]!.nack({ delayMs: 4000 }); // its scheduled copy is stored now, due in 4 s
      // Dies holding m-1: its connection closes and cannot come back, which is what the server sees of a SIGKILLed process.
      proxy.cut();
      await proxy.close();

      // After the ack wait the batch message is split: m-0 and m-1 now; then m-0's scheduled copy at its due time.
      const second = s.transport.consume('work', { prefetch: 10 });
      const copies = await take(second[Symbol.asyncIterator](), 3);
      for (const d of copies) await d.ack();
      expect(copies.map((d) => d.message.id).sort()).toEqual(['m-0', 'm-0', 'm-1']);
      // Each counts its first delivery (more on nats-server 2.9 when a request the dead consumer left took a copy first).
      expect(copies.every((d) => d.deliveryCount >= 2)).toBe(true);
      // Exactly twice: nothing of the batch is left for the queue, nor scheduled.
      await waiter.eventually(
        async () =>
          [
            (await s.transport.queues()).find((q) => q.name === 'work'),
            (await s.transport.jsm().streams.info(s.transport.names.scheduled)).state.messages,
          ] as const,
        ([work, scheduled]) => work?.depth === 0 && work.inFlight === 0 && scheduled === 0,
        'nothing left to deliver',
      );
      await Promise.all([second.close(), other.close()]);
    } finally {
      proxy.cut();
      await dying.close().catch(() => undefined);
      await proxy.close();
      await s.close();
    }
  });
});
