/**
 * Delivery cases: what every transport must do for messages that succeed. In the spirit of
 * Watermill's universal pub/sub tests.
 *
 * @example
 * ```ts
 * deliveryCases(test);
 * ```
 * @module
 */
import { expect } from 'vitest';
import { z } from 'zod';
import { Header, type Envelope, type MessageContext } from '@missive/core';
import type { Delivery } from '@missive/core/transport';
import { gate, range, type CaseRegistrar } from './case.js';

const Num = z.object({ n: z.number().int() });

/** Registers the delivery cases. */
export function deliveryCases(test: CaseRegistrar): void {
  test('payload and envelope attributes arrive intact', async (env) => {
    const Placed = env.event(
      'order-placed',
      z.object({ orderId: z.string(), lines: z.array(z.object({ sku: z.string(), qty: z.number() })), note: z.string().nullable() }),
    );
    const bus = env.bus('shop');
    const seen: { payload: unknown; ctx: MessageContext }[] = [];
    bus.endpoint(env.name('billing'), (e) => e.on(Placed, (payload, ctx) => void seen.push({ payload, ctx })));
    await bus.start();
    const payload = { orderId: 'o-ü-1', lines: [{ sku: 'a"b', qty: 2 }], note: null };
    await bus.publish(Placed, payload, { correlationId: 'corr-1', partitionKey: 'k-1', subject: 'orders/o-1', messageId: 'm-1' });
    await env.until(() => seen.length === 1, 'the event');
    const { ctx } = seen[0]!;
    expect(seen[0]!.payload).toEqual(payload);
    expect(ctx.messageId).toBe('m-1');
    expect(ctx.correlationId).toBe('corr-1');
    expect(ctx.partitionKey).toBe('k-1');
    expect(ctx.type).toBe(Placed.name);
    expect(ctx.attempt).toBe(1);
    expect(ctx.envelope.source).toBe('/missive/shop');
    expect(ctx.envelope.subject).toBe('orders/o-1');
    expect(ctx.envelope.specversion).toBe('1.0');
    expect(ctx.envelope.dataversion).toBe(1);
  });

  test('many concurrent consumers lose nothing', async (env) => {
    const Work = env.command('work', Num);
    const endpoint = env.name('workers');
    const got: number[] = [];
    const buses = range(4).map((i) => {
      const bus = env.bus(`worker-${i}`);
      bus.endpoint(endpoint, (e) => e.on(Work, (m) => void got.push(m.n)), { concurrency: 8 });
      return bus;
    });
    await Promise.all(buses.map((b) => b.start()));
    const total = 400;
    await Promise.all(range(total).map((n) => buses[n % 4]!.send(Work, { n })));
    await env.until(() => got.length >= total, `${total} messages`);
    await env.settle();
    expect(got.length).toBe(total);
    expect(new Set(got).size).toBe(total);
  });

  test('many topics at once, each to its own subscriber', async (env) => {
    const topics = range(12).map((i) => env.event(`topic-${i}`, Num));
    const got = new Map<string, number[]>();
    const bus = env.bus('multi');
    topics.forEach((topic, i) =>
      bus.endpoint(env.name(`sub-${i}`), (e) =>
        e.on(topic, (m) => {
          const list = got.get(topic.name) ?? [];
          list.push(m.n);
          got.set(topic.name, list);
        }),
      ),
    );
    await bus.start();
    await Promise.all(topics.flatMap((topic) => range(20).map((n) => bus.publish(topic, { n }))));
    await env.until(() => topics.every((t) => (got.get(t.name)?.length ?? 0) >= 20), 'every topic');
    for (const topic of topics) expect([...got.get(topic.name)!].sort((a, b) => a - b)).toEqual(range(20));
  });

  test('topics are isolated', async (env) => {
    const A = env.event('a', Num);
    const B = env.event('b', Num);
    const bus = env.bus('iso');
    const gotA: number[] = [];
    const gotB: number[] = [];
    bus.endpoint(env.name('only-a'), (e) => e.on(A, (m) => void gotA.push(m.n)));
    bus.endpoint(env.name('only-b'), (e) => e.on(B, (m) => void gotB.push(m.n)));
    await bus.start();
    await bus.publish(A, { n: 1 });
    await bus.publish(B, { n: 2 });
    await bus.publish(A, { n: 3 });
    await env.until(() => gotA.length === 2 && gotB.length === 1, 'both subscribers');
    await env.settle();
    expect(gotA).toEqual([1, 3]);
    expect(gotB).toEqual([2]);
  });

  test('a nacked delivery is delivered again, with new headers', async (env) => {
    const transport = await env.transport();
    const queue = env.name('nack');
    env.track(queue);
    await transport.declare({ name: queue, topics: [env.topic('nack')] });
    await transport.publish(env.topic('nack'), { id: 'm-1', type: 'x', body: new Uint8Array([1, 2, 3]), headers: {} });
    const consumer = transport.consume(queue, { prefetch: 1 });
    const iterator = consumer[Symbol.asyncIterator]();
    const first = (await iterator.next()).value as Delivery;
    expect(first.deliveryCount).toBe(1);
    await first.nack({ headers: { [Header.Attempts]: '1' } });
    const second = (await iterator.next()).value as Delivery;
    expect(second.message.id).toBe('m-1');
    expect([...second.message.body]).toEqual([1, 2, 3]);
    expect(second.deliveryCount).toBe(2);
    expect(second.message.headers[Header.Attempts]).toBe('1');
    await second.ack();
    await consumer.close();
  });

  test('with prefetch 1 the next message waits for the ack', async (env) => {
    const Job = env.command('job', Num);
    const endpoint = env.name('serial');
    const bus = env.bus('serial');
    const started: number[] = [];
    const release = gate();
    bus.endpoint(
      endpoint,
      (e) =>
        e.on(Job, async (m) => {
          started.push(m.n);
          if (m.n === 0) await release.promise;
        }),
      { concurrency: 1, prefetch: 1 },
    );
    await bus.start();
    for (const n of range(3)) await bus.send(Job, { n });
    await env.until(() => started.length === 1, 'the first job to start');
    // The broker holds the other two back while the first is unacked: measured there, not by waiting.
    const info = await env.eventually(
      async () => (await bus.transport.queues()).find((q) => q.name === endpoint),
      (q) => q?.depth === 2,
      'two jobs waiting in the queue',
    );
    expect(info?.depth).toBe(2);
    expect(started).toEqual([0]);
    release.open();
    await env.until(() => started.length === 3, 'all jobs');
    expect(started).toEqual([0, 1, 2]);
  });

  test('repeated start/stop cycles lose nothing', async (env) => {
    const Tick = env.command('tick', Num);
    const endpoint = env.name('cycles');
    const got = new Set<number>();
    const publisher = env.bus('cycle-publisher');
    publisher.endpoint(endpoint, (e) => e.on(Tick, () => undefined));
    await publisher.start(); // declares the queue; its own consumer competes too, so record there as well
    await publisher.stop();
    const sender = env.bus('cycle-sender');
    await sender.start();
    let next = 0;
    for (let cycle = 0; cycle < 5; cycle++) {
      for (let i = 0; i < 10; i++) await sender.send(Tick, { n: next++ });
      const consumer = env.bus(`cycle-consumer-${cycle}`);
      consumer.endpoint(endpoint, (e) => e.on(Tick, (m) => void got.add(m.n)), { concurrency: 2 });
      await consumer.start();
      await env.until(() => got.size >= (cycle + 1) * 10 - 5 || got.size === next, `some ticks in cycle ${cycle}`);
      await consumer.stop();
    }
    const last = env.bus('cycle-final');
    last.endpoint(endpoint, (e) => e.on(Tick, (m) => void got.add(m.n)));
    await last.start();
    await env.until(() => got.size === next, `all ${next} ticks`);
    expect([...got].sort((a, b) => a - b)).toEqual(range(next));
  });

  test('concurrent stops and closes are safe', async (env) => {
    const Ping = env.event('ping', Num);
    const bus = env.bus('closer');
    let handled = 0;
    bus.endpoint(env.name('closer'), (e) => e.on(Ping, () => void handled++));
    await bus.start();
    await Promise.all(range(10).map((n) => bus.publish(Ping, { n })));
    await Promise.all([bus.stop(), bus.stop(), bus.stop()]);
    const transport = await env.transport();
    const consumer = transport.consume(env.name('closer'), { prefetch: 2 });
    await Promise.all([consumer.close(), consumer.close(), transport.close(), transport.close()]);
    expect(bus.started).toBe(false);
  });

  test('everything is consumed after many handler errors', async (env) => {
    const Flaky = env.command('flaky', Num);
    const bus = env.bus('flaky', { retry: { immediate: 3, delayed: { attempts: 3, initialMs: 20, factor: 1, jitter: 0 } } });
    const failedOnce = new Set<number>();
    const done = new Set<number>();
    bus.endpoint(
      env.name('flaky'),
      (e) =>
        e.on(Flaky, (m) => {
          if (m.n % 2 === 0 && !failedOnce.has(m.n)) {
            failedOnce.add(m.n);
            throw new Error(`transient failure of ${m.n}`);
          }
          done.add(m.n);
        }),
      { concurrency: 4 },
    );
    await bus.start();
    await Promise.all(range(100).map((n) => bus.send(Flaky, { n })));
    await env.until(() => done.size === 100, 'all 100 handled');
    expect(failedOnce.size).toBe(50);
    expect(bus.stats().endpoints[env.name('flaky')]?.deadLettered).toBe(0);
  });

  test('stopping a publisher flushes everything it published', async (env) => {
    const Item = env.event('item', Num);
    const endpoint = env.name('flush');
    const consumerBus = env.bus('flush-consumer');
    const got = new Set<number>();
    consumerBus.endpoint(endpoint, (e) => e.on(Item, (m) => void got.add(m.n)));
    await consumerBus.start();
    const publisher = env.bus('flush-publisher');
    await publisher.start();
    const publishes = range(200).map((n) => publisher.publish(Item, { n }));
    await publisher.stop();
    await Promise.all(publishes);
    await env.until(() => got.size === 200, 'all 200 published before stop');
  });

  test('competing consumers get disjoint sets that together cover everything', async (env) => {
    const Task = env.command('task', Num);
    const endpoint = env.name('compete');
    const byInstance: number[][] = [[], [], []];
    const instances = byInstance.map((list, i) => {
      const bus = env.bus(`instance-${i}`);
      bus.endpoint(
        endpoint,
        (e) =>
          e.on(Task, async (m) => {
            list.push(m.n);
          }),
        { concurrency: 2, prefetch: 2 },
      );
      return bus;
    });
    await Promise.all(instances.map((b) => b.start()));
    await Promise.all(range(300).map((n) => instances[0]!.send(Task, { n })));
    await env.until(() => byInstance.flat().length >= 300, 'all tasks');
    await env.settle();
    const all = byInstance.flat();
    expect(all.length).toBe(300);
    expect(new Set(all).size).toBe(300);
    expect(byInstance.filter((l) => l.length > 0).length).toBeGreaterThanOrEqual(2);
  });

  test('independent consumers each get everything', async (env) => {
    const News = env.event('news', Num);
    const lists: number[][] = [[], [], []];
    const buses = lists.map((list, i) => {
      const bus = env.bus(`reader-${i}`);
      bus.endpoint(env.name(`reader-${i}`), (e) => e.on(News, (m) => void list.push(m.n)));
      return bus;
    });
    await Promise.all(buses.map((b) => b.start()));
    await Promise.all(range(50).map((n) => buses[0]!.publish(News, { n })));
    await env.until(() => lists.every((l) => l.length >= 50), 'every reader');
    await env.settle();
    for (const list of lists) expect([...list].sort((a, b) => a - b)).toEqual(range(50));
  });

  test('a wire tap gets a copy of every message of its topics', async (env) => {
    const Placed = env.event('tap.placed', Num);
    const Charge = env.command('tap.charge', Num);
    const Other = env.event('elsewhere', Num);
    const bus = env.bus('tapped');
    const handled: string[] = [];
    const tapped: Envelope[] = [];
    bus.endpoint(env.name('orders'), (e) => e.on(Placed, () => void handled.push('placed')));
    bus.endpoint(env.name('payments'), (e) => e.on(Charge, () => void handled.push('charge')));
    bus.endpoint(env.name('audit'), (e) => e.tap(`${env.prefix}.tap.#`, (envelope) => void tapped.push(envelope)));
    await bus.start();
    await bus.publish(Placed, { n: 1 });
    await bus.send(Charge, { n: 2 });
    await bus.publish(Other, { n: 3 });
    await env.until(() => handled.length === 2 && tapped.length === 2, 'handlers and tap');
    await env.settle();
    expect(tapped.map((t) => t.type).sort()).toEqual([Charge.name, Placed.name].sort());
  });

  test('a durable queue keeps messages sent before its consumer started', async (env) => {
    const Order = env.command('durable', Num);
    const endpoint = env.name('durable');
    const first = env.bus('durable-first');
    first.endpoint(endpoint, (e) => e.on(Order, () => undefined));
    await first.start();
    await first.stop();
    const sender = env.bus('durable-sender');
    await sender.start();
    for (const n of range(20)) await sender.send(Order, { n });
    const got: number[] = [];
    const later = env.bus('durable-later');
    later.endpoint(endpoint, (e) => e.on(Order, (m) => void got.push(m.n)), { concurrency: 1, prefetch: 1 });
    await later.start();
    await env.until(() => got.length === 20, 'the messages sent while no consumer ran');
    expect(got).toEqual(range(20));
  });

  test('a consumer that goes away without acking has its messages redelivered to another', async (env) => {
    const queue = env.name('abandon');
    env.track(queue);
    const first = await env.transport();
    await first.declare({ name: queue, topics: [] });
    for (const n of range(5)) await first.send(queue, { id: `m-${n}`, type: 'x', body: new Uint8Array([n]), headers: {} });
    const taken: Delivery[] = [];
    const consumer = first.consume(queue, { prefetch: 3 });
    const iterator = consumer[Symbol.asyncIterator]();
    for (let i = 0; i < 3; i++) taken.push((await iterator.next()).value as Delivery);
    await first.close();
    const second = await env.transport();
    const got: Delivery[] = [];
    const consumer2 = second.consume(queue, { prefetch: 10 });
    const loop = (async () => {
      for await (const d of consumer2) {
        got.push(d);
        await d.ack();
        env.waiter.notify();
      }
    })();
    await env.until(() => got.length === 5, 'all five on the second consumer');
    await consumer2.close();
    await loop;
    expect(got.map((d) => d.message.id).sort()).toEqual(range(5).map((n) => `m-${n}`));
    for (const d of got) if (taken.some((t) => t.message.id === d.message.id)) expect(d.deliveryCount).toBe(2);
  });
}
