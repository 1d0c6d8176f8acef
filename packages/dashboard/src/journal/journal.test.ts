import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createBus,
  defineCommand,
  defineEvent,
  MemoryBroker,
  silentLogger,
  systemClock,
  UnrecoverableError,
  type Bus,
} from '@missive/core';
import { causalOrder } from '../conversation/causal-order.js';
import type { JournalEntry } from './journal-entry.js';
import { journal } from './journal.js';
import type { JournalStore } from './journal-store.js';
import { SqliteJournalStore } from './sqlite-journal-store.js';
import { WorkerJournalStore } from './worker-journal-store.js';

const PlaceOrder = defineCommand(
  'shop.place-order',
  z.object({ orderId: z.string(), card: z.object({ number: z.string() }), fail: z.enum(['no', 'once', 'always']) }),
);
const OrderPlaced = defineEvent('shop.order-placed', z.object({ orderId: z.string() }));

function handledCount(bus: Bus, n: number): Promise<void> {
  let seen = 0;
  return new Promise((resolve) => bus.on('handled', () => ++seen === n && resolve()));
}

function shop(broker: MemoryBroker): Bus {
  const bus = createBus({
    service: 'order',
    transport: broker.transport(),
    logger: silentLogger,
    retry: { immediate: 0, delayed: { attempts: 1, initialMs: 1 } },
  });
  const failed = new Set<string>();
  bus.endpoint('order', (e) =>
    e.on(PlaceOrder, async (cmd, ctx) => {
      if (cmd.fail === 'always') throw new UnrecoverableError('card refused');
      if (cmd.fail === 'once' && !failed.has(cmd.orderId)) {
        failed.add(cmd.orderId);
        throw new Error('database busy');
      }
      await ctx.publish(OrderPlaced, { orderId: cmd.orderId });
    }),
  );
  bus.endpoint('analytics', (e) => e.on(OrderPlaced, () => undefined));
  return bus;
}

/** `inner`, whose appends fail while `down()` says so. */
function failing(inner: JournalStore, down: () => boolean): JournalStore {
  return {
    append: (entries) => (down() ? Promise.reject(new Error('disk full')) : inner.append(entries)),
    conversation: (q, o) => inner.conversation(q, o),
    recent: (q) => inner.recent(q),
    prune: (o) => inner.prune(o),
    count: () => inner.count(),
    close: () => inner.close(),
  };
}

describe('the journal', () => {
  it('records each settled delivery with its ids, outcome and redacted payload, found by message id, correlation id and business key', async () => {
    const store = new SqliteJournalStore({ path: ':memory:' });
    const bus = shop(new MemoryBroker());
    const j = journal(bus, { store, payloads: { redact: ['number'] } });
    const settled = handledCount(bus, 5); // o-1: handled + its event; o-2: retried, handled + its event
    await bus.start();
    await bus.send(PlaceOrder, { orderId: 'o-1', card: { number: '4111' }, fail: 'no' }, { correlationId: 'checkout-1' });
    await bus.send(PlaceOrder, { orderId: 'o-2', card: { number: '4222' }, fail: 'once' });
    await settled;
    await j.flush();
    expect(j.written).toBe(5);

    const first = causalOrder(await store.conversation('checkout-1'));
    expect(first.map((e) => [e.type, e.service, e.endpoint, e.source, e.outcome])).toEqual([
      ['shop.place-order', 'order', 'order', 'order', 'handled'],
      ['shop.order-placed', 'order', 'analytics', 'order', 'handled'],
    ]);
    const [command, event] = first as [JournalEntry, JournalEntry];
    expect(event.causationId).toBe(command.messageId);
    expect(event.correlationId).toBe('checkout-1');
    expect(JSON.parse(command.payload!)).toEqual({ orderId: 'o-1', card: { number: '[redacted]' }, fail: 'no' });
    expect(command.instance).toBe(bus.instanceId);

    const second = causalOrder(await store.conversation('o-2')); // the business key in the payload
    expect(second.map((e) => [e.type, e.outcome, e.attempt])).toEqual([
      ['shop.place-order', 'retried', 1],
      ['shop.place-order', 'handled', 2],
      ['shop.order-placed', 'handled', 1],
    ]);
    expect(second[0]!.error).toBe('Error: database busy');
    expect(await store.conversation(second[2]!.messageId)).toHaveLength(3);
    expect(await store.conversation('nothing')).toEqual([]);
    await bus.stop();
    await store.close();
  });

  it("stamps each row with its settlement time: the system clock's, read once per batch, or the given clock's", async () => {
    for (const clock of [undefined, { ...systemClock, now: () => 42_000 }]) {
      const store = new SqliteJournalStore({ path: ':memory:' });
      const bus = shop(new MemoryBroker());
      const j = journal(bus, { store, ...(clock === undefined ? {} : { clock }) });
      const settled = handledCount(bus, 2);
      await bus.start();
      const before = Date.now();
      await bus.send(PlaceOrder, { orderId: 'o-7', card: { number: '1' }, fail: 'no' });
      await settled;
      const after = Date.now();
      await j.flush();
      const rows = await store.conversation('o-7');
      expect(rows).toHaveLength(2);
      for (const row of rows) {
        expect(Number.isInteger(row.at)).toBe(true);
        if (clock === undefined) {
          // To the millisecond: Date.now() itself is cut to whole milliseconds.
          expect(row.at).toBeGreaterThanOrEqual(before - 1);
          expect(row.at).toBeLessThanOrEqual(after + 1);
        } else expect(row.at).toBe(42_000);
      }
      await bus.stop();
      await store.close();
    }
  });

  it('records dead letters with their reason, and writes what is buffered when the bus stops', async () => {
    const store = new SqliteJournalStore({ path: ':memory:' });
    const bus = shop(new MemoryBroker());
    journal(bus, { store, flushMs: 60_000 });
    const settled = handledCount(bus, 1);
    await bus.start();
    await bus.send(PlaceOrder, { orderId: 'o-3', card: { number: '4333' }, fail: 'always' });
    await settled;
    expect(await store.count()).toBe(0); // not flushed yet
    await bus.stop();
    const [row] = await store.conversation('o-3');
    expect(row).toMatchObject({
      outcome: 'dead-lettered',
      reason: 'UNRECOVERABLE',
      error: 'UnrecoverableError: card refused',
      payload: undefined,
    });
    await store.close();
  });

  it('keeps rows while the store fails and writes them when it recovers; handlers never see the failure', async () => {
    const inner = new SqliteJournalStore({ path: ':memory:' });
    let down = true;
    const bus = shop(new MemoryBroker());
    const j = journal(bus, { store: failing(inner, () => down), logger: silentLogger });
    const settled = handledCount(bus, 2);
    await bus.start();
    await bus.send(PlaceOrder, { orderId: 'o-4', card: { number: '1' }, fail: 'no' });
    await settled;
    await j.flush();
    expect(await inner.count()).toBe(0);
    expect(j.batches).toBe(0); // a failed write is no batch written
    down = false;
    await j.flush();
    expect(await inner.count()).toBe(2);
    expect(j.batches).toBe(1);
    expect(bus.stats().endpoints.order!.handled).toBe(1);
    await bus.stop();
    await inner.close();
  });

  it('past maxBuffered rows while the store fails, drops the oldest and counts them', async () => {
    const inner = new SqliteJournalStore({ path: ':memory:' });
    let down = true;
    const bus = shop(new MemoryBroker());
    const j = journal(bus, { store: failing(inner, () => down), maxBuffered: 1, logger: silentLogger });
    const settled = handledCount(bus, 2);
    await bus.start();
    await bus.send(PlaceOrder, { orderId: 'o-6', card: { number: '1' }, fail: 'no' });
    await settled;
    await j.flush();
    expect(j.dropped).toBe(1);
    down = false;
    await j.flush();
    expect(await inner.count()).toBe(1);
    expect(j.written).toBe(1);
    await bus.stop();
    await inner.close();
  });

  it('past maxBuffered rows waiting for a store that is behind (a write not finished), drops the oldest and counts them', async () => {
    const inner = new SqliteJournalStore({ path: ':memory:' });
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let writing: () => void = () => undefined;
    const firstWrite = new Promise<void>((resolve) => (writing = resolve));
    // A store whose writes wait until the gate opens: the worker of a journal that falls behind.
    const slow: JournalStore = { ...failing(inner, () => false), append: (entries) => (writing(), gate.then(() => inner.append(entries))) };
    const bus = createBus({ service: 'audit', transport: new MemoryBroker().transport(), logger: silentLogger });
    bus.endpoint('analytics', (e) => e.on(OrderPlaced, () => undefined));
    const j = journal(bus, { store: slow, batchSize: 1, maxBuffered: 2, logger: silentLogger });
    await bus.start();
    const first = handledCount(bus, 1);
    await bus.publish(OrderPlaced, { orderId: 'o-1' });
    await first;
    await firstWrite; // o-1 is being written
    const rest = handledCount(bus, 4);
    for (const orderId of ['o-2', 'o-3', 'o-4', 'o-5']) await bus.publish(OrderPlaced, { orderId });
    await rest;
    // Four rows wait behind the write; two are kept.
    expect(j.dropped).toBe(2);
    open();
    await j.flush();
    expect(j.written).toBe(3);
    const found = async (orderId: string) => (await inner.conversation(orderId)).length;
    expect([await found('o-1'), await found('o-2'), await found('o-3'), await found('o-4'), await found('o-5')]).toEqual([1, 0, 0, 1, 1]);
    await bus.stop();
    await inner.close();
  });

  it('hands the store whole batches: rows packed while a write is out wait for the next flush, not for the write to end', async () => {
    const inner = new SqliteJournalStore({ path: ':memory:' });
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const sizes: number[] = [];
    // The first write waits for the gate (a worker busy with it); later ones go through.
    const held: JournalStore = {
      ...failing(inner, () => false),
      append: (entries) => (sizes.push(entries.length), (sizes.length === 1 ? gate : Promise.resolve()).then(() => inner.append(entries))),
    };
    const bus = createBus({ service: 'audit', transport: new MemoryBroker().transport(), logger: silentLogger });
    bus.endpoint('analytics', (e) => e.on(OrderPlaced, () => undefined));
    const j = journal(bus, { store: held, flushMs: 3_600_000, logger: silentLogger });
    await bus.start();
    const first = handledCount(bus, 1);
    await bus.publish(OrderPlaced, { orderId: 'o-1' });
    await first;
    const firstFlush = j.flush(); // o-1 is being written
    const rest = handledCount(bus, 5);
    for (const orderId of ['o-2', 'o-3', 'o-4', 'o-5', 'o-6']) await bus.publish(OrderPlaced, { orderId });
    await rest;
    open();
    await firstFlush;
    // The five rows packed during the write were not sent the moment it ended (a batch of a few
    // rows per round trip to the worker is what cost a busy bus its hand-overs).
    expect(sizes).toEqual([1]);
    await j.flush();
    expect(sizes).toEqual([1, 5]);
    expect(j.written).toBe(6);
    expect(j.batches).toBe(2);
    await bus.stop();
    await inner.close();
  });

  it('writes a batch that is not full at the next flushMs tick, without flush()', async () => {
    const inner = new SqliteJournalStore({ path: ':memory:' });
    let arrived: (rows: number) => void = () => undefined;
    const written = new Promise<number>((resolve) => (arrived = resolve));
    const watched: JournalStore = { ...failing(inner, () => false), append: (entries) => (arrived(entries.length), inner.append(entries)) };
    const bus = createBus({ service: 'audit', transport: new MemoryBroker().transport(), logger: silentLogger });
    bus.endpoint('analytics', (e) => e.on(OrderPlaced, () => undefined));
    journal(bus, { store: watched, flushMs: 20, logger: silentLogger });
    await bus.start();
    const settled = handledCount(bus, 3);
    for (const orderId of ['o-1', 'o-2', 'o-3']) await bus.publish(OrderPlaced, { orderId });
    await settled;
    // Three rows of a batch of 1,000: only the timer sends them.
    expect(await written).toBe(3);
    await bus.stop();
    await inner.close();
  });

  it('given a sqlite:// URL, writes from a worker thread to a file that other processes read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'missive-journal-'));
    const bus = shop(new MemoryBroker());
    const j = journal(bus, { store: `sqlite://${join(dir, 'journal.db')}` });
    const settled = handledCount(bus, 2);
    await bus.start();
    await bus.send(PlaceOrder, { orderId: 'o-5', card: { number: '1' }, fail: 'no' });
    await settled;
    await j.flush();
    expect(j.store).toBeInstanceOf(WorkerJournalStore);
    const reader = new SqliteJournalStore({ path: join(dir, 'journal.db') });
    expect((await reader.conversation('o-5')).map((e) => e.type).sort()).toEqual(['shop.order-placed', 'shop.place-order']);
    await bus.stop();
    await reader.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prunes by age and by size', async () => {
    const store = new SqliteJournalStore({ path: ':memory:' });
    const row = (at: number, key: string): JournalEntry => ({
      seq: 0,
      at,
      sentAt: at,
      messageId: `m-${at}`,
      type: 't',
      kind: 'event',
      source: 's',
      service: 's',
      endpoint: 'e',
      instance: 'i',
      correlationId: `c-${at}`,
      causationId: undefined,
      conversationId: `c-${at}`,
      traceId: undefined,
      attempt: 1,
      outcome: 'handled',
      durationMs: 1,
      reason: undefined,
      error: undefined,
      replayed: false,
      payload: undefined,
      keys: [key],
    });
    await store.append([1, 2, 3, 4, 5].map((at) => row(at, `k-${at}`)));
    expect(await store.prune({ before: 2 })).toBe(1);
    expect(await store.prune({ keep: 2 })).toBe(2);
    expect((await store.recent({ limit: 10 })).map((e) => e.at)).toEqual([5, 4]);
    expect(await store.conversation('k-3')).toEqual([]);
    expect(await store.conversation('k-5')).toHaveLength(1);
    expect((store.db.prepare('select count(*) as n from missive_journal_keys').get() as { n: number }).n).toBe(2);
    await store.close();
  });
});
