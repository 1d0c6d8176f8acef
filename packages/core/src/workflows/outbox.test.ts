import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestHarness } from '@missive/testing';
import { defineCommand, defineEvent } from '../contracts/contract.js';
import type { MessageContext } from '../consume/context.js';
import { silentLogger, type LogFields, type Logger, type LogMethod } from '../logger.js';
import { jsonCodec } from '../message/codec.js';
import { MemoryMessageStore } from './memory-store.js';

const OrderPlaced = defineEvent('shop.order-placed', z.object({ orderId: z.string(), n: z.number() }));
const ChargeCard = defineCommand('payment.charge-card', z.object({ orderId: z.string(), amount: z.number() }));
const Charged = defineEvent('payment.charged', z.object({ orderId: z.string() }));

describe('outbox and inbox', () => {
  it('publishes committed messages after the commit, in order; a rolled-back transaction publishes nothing', async () => {
    const h = createTestHarness();
    const store = new MemoryMessageStore();
    const bus = h.bus('shop');
    const outbox = bus.outbox(store);
    const got: number[] = [];
    bus.endpoint('audit', (e) => e.on(OrderPlaced, (m) => void got.push(m.n)), { concurrency: 1, prefetch: 1 });
    await bus.start();
    await outbox.transaction((tx) => {
      tx.db.data.set('order:o-1', 'placed');
      for (let n = 0; n < 5; n++) tx.publish(OrderPlaced, { orderId: 'o-1', n });
    });
    await expect(
      outbox.transaction((tx) => {
        tx.db.data.set('order:o-2', 'placed');
        tx.publish(OrderPlaced, { orderId: 'o-2', n: 99 });
        throw new Error('insert failed');
      }),
    ).rejects.toThrow('insert failed');
    await h.until(() => got.length === 5, 'five events');
    await h.idle();
    expect(got).toEqual([0, 1, 2, 3, 4]);
    expect(store.data.get('order:o-2')).toBeUndefined();
    expect(await store.pendingOutbox(10)).toEqual([]);
    await h.stop();
  });

  it("the relay does not hold one destination's messages behind another's confirm; each destination keeps its order", async () => {
    const h = createTestHarness();
    const store = new MemoryMessageStore();
    let releaseCharges!: () => void;
    const chargesHeld = new Promise<void>((resolve) => (releaseCharges = resolve));
    const sent: string[] = [];
    const bus = h.bus('shop', {
      middleware: {
        publish: [
          async (ctx, next) => {
            // The broker is slow to confirm the charges: they wait until the test lets them go.
            if (ctx.destination.name === ChargeCard.name) await chargesHeld;
            await next();
            sent.push(
              `${ctx.destination.name}#${(ctx.envelope.data as { n?: number; amount?: number }).n ?? (ctx.envelope.data as { amount: number }).amount}`,
            );
          },
        ],
      },
    });
    const outbox = bus.outbox(store);
    bus.endpoint('payment', (e) => e.on(ChargeCard, () => undefined));
    await bus.start();
    await outbox.transaction((tx) => {
      for (let n = 0; n < 3; n++) {
        tx.send(ChargeCard, { orderId: `o-${n}`, amount: n });
        tx.publish(OrderPlaced, { orderId: `o-${n}`, n });
      }
    });
    await h.until(() => sent.length === 3, 'the events, while the charges wait');
    expect(sent).toEqual([`${OrderPlaced.name}#0`, `${OrderPlaced.name}#1`, `${OrderPlaced.name}#2`]);
    releaseCharges();
    await h.until(() => sent.length === 6, 'the charges');
    expect(sent.slice(3)).toEqual([`${ChargeCard.name}#0`, `${ChargeCard.name}#1`, `${ChargeCard.name}#2`]);
    await h.idle();
    expect(await store.pendingOutbox(10)).toEqual([]);
    await h.stop();
  });

  it("one conversation's messages to a destination keep their order; another conversation's do not wait for them", async () => {
    const h = createTestHarness();
    const store = new MemoryMessageStore();
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    const sent: string[] = [];
    const bus = h.bus('shop', {
      middleware: {
        publish: [
          async (ctx, next) => {
            const data = ctx.envelope.data as { orderId?: string; n?: number };
            if (ctx.destination.name === OrderPlaced.name && data.orderId === 'first' && data.n === 0) await firstHeld;
            await next();
            if (ctx.destination.name === OrderPlaced.name) sent.push(`${data.orderId}#${data.n}`);
          },
        ],
      },
    });
    const outbox = bus.outbox(store);
    bus.endpoint('audit', (e) => e.on(OrderPlaced, () => undefined));
    // Two conversations' messages, committed before the relay starts: one batch.
    const codec = jsonCodec();
    const records = ['first', 'second'].flatMap((orderId) => {
      // The parent each conversation's messages were caused by (what a handler's context carries).
      const parent = { envelope: codec.decode(outbox.record(ChargeCard, { orderId, amount: 1 }).message.body) } as MessageContext;
      return [0, 1].map((n) => outbox.record(OrderPlaced, { orderId, n }, undefined, parent));
    });
    await outbox.commit({ work: () => undefined, outbox: () => records });
    await bus.start();
    await h.until(() => sent.length === 2, 'the second conversation, while the first waits');
    expect(sent).toEqual(['second#0', 'second#1']);
    releaseFirst();
    await h.until(() => sent.length === 4, 'the first conversation');
    expect(sent.slice(2)).toEqual(['first#0', 'first#1']);
    await h.stop();
  });

  it("one key's messages to a destination keep their order across conversations; another key's do not wait for them", async () => {
    const Step = defineEvent('drone.step', z.object({ id: z.string(), seq: z.number() }), { partitionKey: (m) => m.id });
    const h = createTestHarness();
    const store = new MemoryMessageStore();
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    const sent: string[] = [];
    const bus = h.bus('fleet', {
      middleware: {
        publish: [
          async (ctx, next) => {
            const data = ctx.envelope.data as { id: string; seq: number };
            if (data.id === 'd-1' && data.seq === 1) await firstHeld;
            await next();
            sent.push(`${data.id}#${data.seq}`);
          },
        ],
      },
    });
    const outbox = bus.outbox(store);
    bus.endpoint('history', (e) => e.on(Step, () => undefined));
    // Each step caused by a message of its own conversation (as a device's reports are), committed
    // before the relay starts: one batch.
    const codec = jsonCodec();
    const records = [
      ['d-1', 1],
      ['d-1', 2],
      ['d-2', 1],
    ].map(([id, seq]) => {
      const parent = {
        envelope: codec.decode(outbox.record(ChargeCard, { orderId: `c-${id}-${seq}`, amount: 1 }).message.body),
      } as MessageContext;
      return outbox.record(Step, { id: id as string, seq: seq as number }, undefined, parent);
    });
    await outbox.commit({ work: () => undefined, outbox: () => records });
    await bus.start();
    await h.until(() => sent.includes('d-2#1'), "the other key's step, while the first waits");
    expect(sent).toEqual(['d-2#1']);
    releaseFirst();
    await h.until(() => sent.length === 3, "the first key's steps");
    expect(sent.slice(1)).toEqual(['d-1#1', 'd-1#2']);
    await h.stop();
  });

  it('a message committed while an earlier one waits for its confirm goes out without waiting for it (the relay is pipelined)', async () => {
    const h = createTestHarness();
    const store = new MemoryMessageStore();
    let releaseCharge!: () => void;
    const chargeHeld = new Promise<void>((resolve) => (releaseCharge = resolve));
    const started: string[] = [];
    const sent: string[] = [];
    const bus = h.bus('shop', {
      middleware: {
        publish: [
          async (ctx, next) => {
            started.push(ctx.destination.name);
            // The broker is slow to confirm the charge: it waits until the test lets it go.
            if (ctx.destination.name === ChargeCard.name) await chargeHeld;
            await next();
            sent.push(ctx.destination.name);
          },
        ],
      },
    });
    const outbox = bus.outbox(store);
    bus.endpoint('payment', (e) => e.on(ChargeCard, () => undefined));
    await bus.start();
    await outbox.transaction((tx) => tx.send(ChargeCard, { orderId: 'o-1', amount: 1 }));
    await h.until(() => started.includes(ChargeCard.name), 'the relay sending the charge');
    // Committed while the charge waits for its confirm (another destination: another chain).
    await outbox.transaction((tx) => tx.publish(OrderPlaced, { orderId: 'o-2', n: 0 }));
    await h.until(() => sent.includes(OrderPlaced.name), 'the event, while the charge waits');
    expect(sent).toEqual([OrderPlaced.name]);
    expect((await store.pendingOutbox(10)).map((r) => r.destination.name)).toEqual([ChargeCard.name]);
    releaseCharge();
    await outbox.flush();
    expect(sent).toEqual([OrderPlaced.name, ChargeCard.name]);
    expect(await store.pendingOutbox(10)).toEqual([]);
    await h.stop();
  });

  it('a message removed while the relay reads the store is not sent again', async () => {
    const h = createTestHarness();
    const store = new MemoryMessageStore();
    // The relay's next read takes its view of the store, then waits: the charge, on its way when the
    // view was taken, is sent and removed meanwhile, and comes back in that view.
    const read = store.pendingOutbox.bind(store);
    const claim = store.claimOutbox.bind(store);
    let holdNextRead: Promise<void> | undefined;
    let viewTaken = false;
    store.claimOutbox = async (owner, limit, now, until) => {
      const view = await claim(owner, limit, now, until);
      const hold = holdNextRead;
      holdNextRead = undefined;
      if (hold !== undefined) {
        viewTaken = true;
        await hold;
      }
      return view;
    };
    let releaseCharge!: () => void;
    const chargeHeld = new Promise<void>((resolve) => (releaseCharge = resolve));
    const started: string[] = [];
    const bus = h.bus('shop', {
      middleware: {
        publish: [
          async (ctx, next) => {
            started.push(ctx.destination.name);
            if (ctx.destination.name === ChargeCard.name) await chargeHeld;
            await next();
          },
        ],
      },
    });
    const outbox = bus.outbox(store);
    bus.endpoint('payment', (e) => e.on(ChargeCard, () => undefined));
    await bus.start();
    await outbox.transaction((tx) => tx.send(ChargeCard, { orderId: 'o-1', amount: 1 }));
    await h.until(() => started.includes(ChargeCard.name), 'the relay sending the charge');
    let releaseRead!: () => void;
    holdNextRead = new Promise<void>((resolve) => (releaseRead = resolve));
    await outbox.transaction((tx) => tx.publish(OrderPlaced, { orderId: 'o-2', n: 0 })); // wakes the relay: the held read
    await h.until(() => viewTaken, 'the read that is held');
    releaseCharge();
    let removed = false;
    while (!removed) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      removed = (await read(10)).every((r) => r.destination.name !== ChargeCard.name);
    }
    await new Promise<void>((resolve) => setImmediate(resolve)); // the relay has taken note of the removal
    releaseRead();
    await outbox.flush();
    expect(started.filter((name) => name === ChargeCard.name)).toEqual([ChargeCard.name]);
    expect(started.filter((name) => name === OrderPlaced.name)).toEqual([OrderPlaced.name]);
    expect(await read(10)).toEqual([]);
    await h.stop();
  });

  it('two relays on one store send each message once while both run', async () => {
    const h = createTestHarness();
    const store = new MemoryMessageStore();
    const sends = new Map<string, number>();
    // Each relay's sends take a turn to confirm: both relays have messages on their way at once.
    const counting = {
      publish: [
        async (ctx: { envelope: { id: string } }, next: () => Promise<void>) => {
          await new Promise<void>((resolve) => setImmediate(resolve));
          await next();
          sends.set(ctx.envelope.id, (sends.get(ctx.envelope.id) ?? 0) + 1);
        },
      ],
    };
    const first = h.bus('payment', { middleware: counting });
    const second = h.bus('payment', { middleware: counting });
    const outboxes = [first.outbox(store), second.outbox(store)];
    first.endpoint('audit', (e) => e.on(OrderPlaced, () => undefined));
    await first.start();
    await second.start();
    const total = 60;
    // Both instances commit, each kicking its own relay, while the other's messages are on their way.
    await Promise.all(
      [0, 1].map(async (instance) => {
        for (let n = instance; n < total; n += 2) {
          await outboxes[instance]!.transaction((tx) => tx.publish(OrderPlaced, { orderId: `o-${n}`, n }));
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }),
    );
    await h.until(() => sends.size === total, `all ${total} sent`);
    await Promise.all(outboxes.map((o) => o.flush()));
    expect([...sends.values()].filter((count) => count > 1)).toEqual([]);
    expect(await store.pendingOutbox(100)).toEqual([]);
    await h.stop();
  });

  it('a relay that dies mid-send keeps its messages until its lease runs out; then another relay sends them, in order', async () => {
    // Two processes on one store: each its own harness (clock). The first one's time stops once it
    // is sending: its process is gone, its sends never confirm, its relay never runs again.
    const h1 = createTestHarness();
    const h2 = createTestHarness();
    const store = new MemoryMessageStore();
    const leaseMs = 10_000;
    let sending = false;
    let crash!: (error: Error) => void;
    const dead = new Promise<never>((_, reject) => (crash = reject));
    dead.catch(() => undefined);
    const first = h1.bus('payment', {
      logger: silentLogger, // its sends fail when the test ends
      middleware: {
        publish: [
          async () => {
            sending = true;
            return dead;
          },
        ],
      },
    });
    const sent: { n: number; at: number }[] = [];
    const second = h2.bus('payment', {
      middleware: {
        publish: [
          async (ctx, next) => {
            await next();
            sent.push({ n: (ctx.envelope.data as { n: number }).n, at: h2.clock.now() });
          },
        ],
      },
    });
    const dying = first.outbox(store, { leaseMs });
    second.outbox(store, { leaseMs });
    second.endpoint('audit', (e) => e.on(OrderPlaced, () => undefined));
    await first.start();
    const committedAt = h1.clock.now();
    await dying.transaction((tx) => {
      for (let n = 0; n < 5; n++) tx.publish(OrderPlaced, { orderId: 'o-1', n });
    });
    await h1.until(() => sending, 'the first relay sending');
    await second.start();
    await h2.until(() => sent.length === 5, 'the messages, sent by the second relay');
    expect(sent.map((s) => s.n)).toEqual([0, 1, 2, 3, 4]);
    expect(Math.min(...sent.map((s) => s.at))).toBeGreaterThanOrEqual(committedAt + leaseMs);
    expect(await store.pendingOutbox(10)).toEqual([]);
    crash(new Error('the process died'));
    await h2.stop();
    await h1.stop();
  });

  it('a relay that takes over messages whose lease ran out logs it once, at warn, with how many and whose leases they were', async () => {
    const h = createTestHarness();
    const store = new MemoryMessageStore();
    const lines: { level: string; fields: LogFields; message: string }[] = [];
    const line =
      (level: string): LogMethod =>
      (first: LogFields | string, message?: string) =>
        void lines.push(
          typeof first === 'string' ? { level, fields: {}, message: first } : { level, fields: first, message: message ?? '' },
        );
    const logger: Logger = { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
    const bus = h.bus('payment', { logger });
    const outbox = bus.outbox(store);
    bus.endpoint('audit', (e) => e.on(OrderPlaced, () => undefined));
    // Three messages of a relay whose process died (its leases ended), one written with no lease.
    const gone = { owner: 'host-a:4242:relay', until: h.clock.now() - 1 };
    const records = [0, 1, 2, 3].map((n) => outbox.record(OrderPlaced, { orderId: 'o-1', n }));
    await store.commit({ outbox: [...records.slice(0, 3).map((r) => ({ ...r, lease: gone })), { ...records[3]!, lease: undefined }] });
    await bus.start();
    expect(await outbox.flush()).toBe(4);
    await outbox.transaction((tx) => tx.publish(OrderPlaced, { orderId: 'o-2', n: 4 })); // its own: no takeover
    await outbox.flush();
    const takeovers = lines.filter((l) => l.message.includes('took over'));
    expect(takeovers).toEqual([
      {
        level: 'warn',
        fields: { relay: expect.any(String), messages: 4, from: { 'host-a:4242:relay': 3 }, unleased: 1 },
        message: expect.stringContaining('whose lease ran out'),
      },
    ]);
    await h.stop();
  });

  it('a relay that takes over messages that never had a lease (written straight into the store) logs it once, at info', async () => {
    const h = createTestHarness();
    const store = new MemoryMessageStore();
    const lines: { level: string; fields: LogFields; message: string }[] = [];
    const line =
      (level: string): LogMethod =>
      (first: LogFields | string, message?: string) =>
        void lines.push(
          typeof first === 'string' ? { level, fields: {}, message: first } : { level, fields: first, message: message ?? '' },
        );
    const logger: Logger = { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
    const bus = h.bus('payment', { logger });
    const outbox = bus.outbox(store);
    bus.endpoint('audit', (e) => e.on(OrderPlaced, () => undefined));
    // Two messages with no lease: written by a version without leases, or by another tool.
    const records = [0, 1].map((n) => outbox.record(OrderPlaced, { orderId: 'o-1', n }));
    await store.commit({ outbox: records.map((r) => ({ ...r, lease: undefined })) });
    await bus.start();
    expect(await outbox.flush()).toBe(2);
    await outbox.transaction((tx) => tx.publish(OrderPlaced, { orderId: 'o-2', n: 2 })); // its own: no takeover
    await outbox.flush();
    expect(lines.filter((l) => l.message.includes('took over'))).toEqual([
      {
        level: 'info',
        fields: { relay: expect.any(String), messages: 2, from: {}, unleased: 2 },
        message: 'outbox relay took over messages that had no lease',
      },
    ]);
    expect(await store.pendingOutbox(10)).toEqual([]);
    await h.stop();
  });

  it('a relay whose sends wait longer than its lease extends it: another relay on the store sends none of its messages', async () => {
    const h = createTestHarness();
    const store = new MemoryMessageStore();
    const leaseMs = 10_000;
    // The first relay's sends wait (a slow broker) until the test lets them go.
    let letGo!: () => void;
    const gate = new Promise<void>((resolve) => (letGo = resolve));
    const sentBy = { first: [] as number[], second: [] as number[] };
    const recording = (who: 'first' | 'second', wait: Promise<void>) => ({
      publish: [
        async (ctx: { envelope: { data: unknown } }, next: () => Promise<void>) => {
          await wait;
          await next();
          sentBy[who].push((ctx.envelope.data as { n: number }).n);
        },
      ],
    });
    const first = h.bus('payment', { middleware: recording('first', gate) });
    const second = h.bus('payment', { middleware: recording('second', Promise.resolve()) });
    const slow = first.outbox(store, { leaseMs });
    second.outbox(store, { leaseMs });
    second.endpoint('audit', (e) => e.on(OrderPlaced, () => undefined));
    await first.start();
    await second.start();
    await slow.transaction((tx) => {
      for (let n = 0; n < 5; n++) tx.publish(OrderPlaced, { orderId: 'o-1', n });
    });
    // Three leases long, both relays running: the first one's leases are extended, never taken over.
    await h.advance(3 * leaseMs);
    expect(sentBy.second).toEqual([]);
    letGo();
    await slow.flush();
    expect(sentBy).toEqual({ first: [0, 1, 2, 3, 4], second: [] });
    expect(await store.pendingOutbox(10)).toEqual([]);
    await h.stop();
  });

  it("a message held back behind another relay's older one to its destination goes out soon after it, not at the next poll", async () => {
    const h = createTestHarness();
    const store = new MemoryMessageStore();
    let letGo!: () => void;
    const gate = new Promise<void>((resolve) => (letGo = resolve));
    const sent: { who: string; at: number }[] = [];
    const recording = (who: string, wait: Promise<void>) => ({
      publish: [
        async (_ctx: unknown, next: () => Promise<void>) => {
          await wait;
          await next();
          sent.push({ who, at: h.clock.now() });
        },
      ],
    });
    const first = h.bus('payment', { middleware: recording('first', gate) });
    const second = h.bus('payment', { middleware: recording('second', Promise.resolve()) });
    const pollIntervalMs = 1000;
    const outboxes = [first.outbox(store, { pollIntervalMs }), second.outbox(store, { pollIntervalMs })];
    second.endpoint('audit', (e) => e.on(OrderPlaced, () => undefined));
    await first.start();
    await second.start();
    // The first instance's message is on its way (its send waits); the second's, to the same
    // destination, is held back behind it.
    await outboxes[0]!.transaction((tx) => tx.publish(OrderPlaced, { orderId: 'o-1', n: 0 }));
    await outboxes[1]!.transaction((tx) => tx.publish(OrderPlaced, { orderId: 'o-2', n: 1 }));
    const releasedAt = h.clock.now();
    letGo();
    await h.until(() => sent.length === 2, 'both sent');
    expect(sent.map((s) => s.who)).toEqual(['first', 'second']);
    expect(sent[1]!.at - releasedAt).toBeLessThan(pollIntervalMs / 2);
    await Promise.all(outboxes.map((o) => o.flush()));
    expect(await store.pendingOutbox(10)).toEqual([]);
    await h.stop();
  });

  it('messages sent in one turn are removed from the store in one removal (each removal is a commit)', async () => {
    const h = createTestHarness();
    const store = new MemoryMessageStore();
    const removals: number[] = [];
    const remove = store.removeOutbox.bind(store);
    store.removeOutbox = (ids) => {
      removals.push(ids.length);
      return remove(ids);
    };
    const bus = h.bus('shop');
    const outbox = bus.outbox(store);
    bus.endpoint('payment', (e) => e.on(ChargeCard, () => undefined));
    await bus.start();
    await outbox.transaction((tx) => {
      for (let n = 0; n < 4; n++) tx.send(ChargeCard, { orderId: `o-${n}`, amount: n }, { to: 'payment' });
      tx.publish(OrderPlaced, { orderId: 'o-9', n: 9 });
    });
    await outbox.flush();
    expect(removals).toEqual([5]);
    expect(await store.pendingOutbox(10)).toEqual([]);
    await h.stop();
  });

  it('a message delivered three times has its side effect once, and its messages go out once', async () => {
    const h = createTestHarness();
    const store = new MemoryMessageStore();
    const bus = h.bus('payment');
    const outbox = bus.outbox(store);
    let handlerRuns = 0;
    bus.endpoint('payment', (e) =>
      e.on(
        ChargeCard,
        outbox.handler((cmd, tx) => {
          handlerRuns++;
          const key = `charged:${cmd.orderId}`;
          tx.db.data.set(key, ((tx.db.data.get(key) as number | undefined) ?? 0) + cmd.amount);
          tx.publish(Charged, { orderId: cmd.orderId });
        }),
      ),
    );
    const charged: string[] = [];
    bus.endpoint('notify', (e) => e.on(Charged, (m) => void charged.push(m.orderId)));
    await bus.start();
    for (let i = 0; i < 3; i++) await bus.send(ChargeCard, { orderId: 'o-1', amount: 30 }, { messageId: 'same-message' });
    await h.until(() => charged.length >= 1, 'the charged event');
    await h.idle();
    expect(handlerRuns).toBe(1);
    expect(store.data.get('charged:o-1')).toBe(30);
    expect(charged).toEqual(['o-1']);
    expect(await store.processed('payment', 'same-message')).toBe(true);
    const placed = h.published.find((m) => m.type === Charged.name)!;
    const command = h.published.find((m) => m.type === ChargeCard.name)!;
    expect(placed.correlationid).toBe(command.correlationid);
    expect(placed.causationid).toBe('same-message');
    await h.stop();
  });

  it('refuses asynchronous work inside a transaction', async () => {
    const h = createTestHarness();
    const bus = h.bus('shop');
    const outbox = bus.outbox(new MemoryMessageStore());
    await bus.start();
    await expect(outbox.transaction(() => Promise.resolve(1))).rejects.toThrow(/synchronous/);
    await h.stop();
  });
});
