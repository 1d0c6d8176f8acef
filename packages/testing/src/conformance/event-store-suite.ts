/**
 * The event store conformance suite: what every `EventStore` must do (memory, SQLite,
 * PostgreSQL). Registered with vitest by {@link describeEventStoreConformance}.
 *
 * @example
 * ```ts
 * describeEventStoreConformance({ name: 'memory', create: () => new MemoryEventStore() });
 * ```
 * @module
 */
import { describe, expect, it } from 'vitest';
import { ConcurrencyError, type EventStore, type NewEvent } from '@missive/eventsourcing';
import { range } from './case.js';

/** An event store under test. */
export interface EventStoreTarget {
  readonly name: string;
  /** A new, empty store. */
  create(): EventStore | Promise<EventStore>;
  /** A second handle on the same data (another connection or process view), when the store has one. */
  reopen?(store: EventStore): EventStore | Promise<EventStore>;
  /** Deletes what `create` made (after `close`). */
  destroy?(store: EventStore): Promise<void>;
}

const ev = (n: number, type = 'happened'): NewEvent => ({
  type,
  data: { n, nested: { list: [n, 'x'] } },
  metadata: { correlation: `c-${n}` },
});

/** Registers the suite for `target`. */
export function describeEventStoreConformance(target: EventStoreTarget): void {
  describe(`event store conformance: ${target.name}`, () => {
    const withStore = (body: (store: EventStore) => Promise<void>) => async () => {
      const store = await target.create();
      try {
        await body(store);
      } finally {
        await store.close();
        await target.destroy?.(store);
      }
    };

    it(
      'appends to a new stream at version 0 and reads it back in order',
      withStore(async (store) => {
        expect(await store.readStream('order-1')).toEqual([]);
        expect(await store.streamVersion('order-1')).toBe(0);
        const first = await store.append('order-1', [ev(1), ev(2, 'other')], { expectedVersion: 0 });
        expect(first.version).toBe(2);
        const second = await store.append('order-1', [ev(3)], { expectedVersion: 2 });
        expect(second.version).toBe(3);
        expect(second.position).toBeGreaterThan(first.position);
        const events = await store.readStream('order-1');
        expect(events.map((e) => [e.stream, e.version, e.type, e.data, e.metadata])).toEqual([
          ['order-1', 1, 'happened', { n: 1, nested: { list: [1, 'x'] } }, { correlation: 'c-1' }],
          ['order-1', 2, 'other', { n: 2, nested: { list: [2, 'x'] } }, { correlation: 'c-2' }],
          ['order-1', 3, 'happened', { n: 3, nested: { list: [3, 'x'] } }, { correlation: 'c-3' }],
        ]);
        expect(new Set(events.map((e) => e.id)).size).toBe(3);
        for (const e of events) expect(typeof e.at).toBe('number');
        expect(await store.streamVersion('order-1')).toBe(3);
        expect((await store.readStream('order-1', { fromVersion: 2, limit: 1 })).map((e) => e.version)).toEqual([2]);
        expect((await store.readStream('order-1', { fromVersion: 3 })).map((e) => e.version)).toEqual([3]);
      }),
    );

    it(
      'keeps a chosen event id',
      withStore(async (store) => {
        await store.append('s', [{ id: 'evt-1', type: 't', data: null }], { expectedVersion: 0 });
        expect((await store.readStream('s'))[0]?.id).toBe('evt-1');
      }),
    );

    it(
      'refuses an append at the wrong version with a ConcurrencyError and writes nothing',
      withStore(async (store) => {
        await store.append('order-2', [ev(1)], { expectedVersion: 0 });
        const stale = store.append('order-2', [ev(2), ev(3)], { expectedVersion: 0 });
        await expect(stale).rejects.toBeInstanceOf(ConcurrencyError);
        const error = (await stale.catch((e: unknown) => e)) as ConcurrencyError;
        expect([error.stream, error.expectedVersion, error.actualVersion, error.code, error.retryable]).toEqual([
          'order-2',
          0,
          1,
          'CONFLICT',
          true,
        ]);
        await expect(store.append('order-2', [ev(2)], { expectedVersion: 5 })).rejects.toBeInstanceOf(ConcurrencyError);
        await expect(store.append('order-new', [ev(2)], { expectedVersion: 1 })).rejects.toBeInstanceOf(ConcurrencyError);
        expect((await store.readStream('order-2')).length).toBe(1);
        expect(await store.readStream('order-new')).toEqual([]);
        expect((await store.readAll()).length).toBe(1);
      }),
    );

    it(
      'of concurrent appends at one expected version exactly one wins',
      withStore(async (store) => {
        await store.append('race', [ev(0)], { expectedVersion: 0 });
        const other = target.reopen === undefined ? store : await target.reopen(store);
        try {
          const racers = await Promise.allSettled(
            range(6).map((i) => (i % 2 === 0 ? store : other).append('race', [ev(i), ev(i + 100)], { expectedVersion: 1 })),
          );
          expect(racers.filter((r) => r.status === 'fulfilled').length).toBe(1);
          for (const r of racers) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConcurrencyError);
          expect((await store.readStream('race')).map((e) => e.version)).toEqual([1, 2, 3]);
        } finally {
          if (other !== store) await other.close();
        }
      }),
    );

    it(
      "appends at 'any' whatever the stream holds",
      withStore(async (store) => {
        expect((await store.append('log', [ev(1)], { expectedVersion: 'any' })).version).toBe(1);
        expect((await store.append('log', [ev(2), ev(3)], { expectedVersion: 'any' })).version).toBe(3);
        expect((await store.append('log', [], { expectedVersion: 3 })).version).toBe(3);
        await expect(store.append('log', [ev(4)], { expectedVersion: -1 })).rejects.toThrow(/expectedVersion/);
        await expect(store.append('', [ev(4)], { expectedVersion: 0 })).rejects.toThrow(/stream/);
      }),
    );

    it(
      'reads all streams in one global order, after a position, in pages',
      withStore(async (store) => {
        for (const n of range(10)) await store.append(`s-${n % 3}`, [ev(n)], { expectedVersion: 'any' });
        const all = await store.readAll();
        expect(all.map((e) => (e.data as { n: number }).n)).toEqual(range(10));
        for (let i = 1; i < all.length; i++) expect(all[i]!.position).toBeGreaterThan(all[i - 1]!.position);
        const page = await store.readAll({ after: all[3]!.position, limit: 4 });
        expect(page.map((e) => (e.data as { n: number }).n)).toEqual([4, 5, 6, 7]);
        expect(await store.readAll({ after: all[9]!.position })).toEqual([]);
        expect(all.filter((e) => e.stream === 's-1').map((e) => e.version)).toEqual([1, 2, 3]);
      }),
    );

    it(
      'saves and loads snapshots per stream (latest wins)',
      withStore(async (store) => {
        expect(await store.loadSnapshot('agg-1')).toBeUndefined();
        await store.saveSnapshot('agg-1', { version: 10, state: { total: 10, items: ['a'] } });
        await store.saveSnapshot('agg-1', { version: 20, state: { total: 20, items: ['a', 'b'] } });
        await store.saveSnapshot('agg-2', { version: 1, state: 'plain' });
        expect(await store.loadSnapshot('agg-1')).toEqual({ version: 20, state: { total: 20, items: ['a', 'b'] } });
        expect(await store.loadSnapshot('agg-2')).toEqual({ version: 1, state: 'plain' });
      }),
    );

    it(
      'saves and loads checkpoints per projection',
      withStore(async (store) => {
        expect(await store.loadCheckpoint('history')).toBe(0);
        await store.saveCheckpoint('history', 7);
        await store.saveCheckpoint('history', 9);
        await store.saveCheckpoint('other', 3);
        expect(await store.loadCheckpoint('history')).toBe(9);
        expect(await store.loadCheckpoint('other')).toBe(3);
      }),
    );

    if (target.reopen !== undefined) {
      it(
        'another handle sees what one appended, and the versions continue',
        withStore(async (store) => {
          await store.append('shared', [ev(1)], { expectedVersion: 0 });
          const other = await target.reopen!(store);
          try {
            expect((await other.readStream('shared')).length).toBe(1);
            await other.append('shared', [ev(2)], { expectedVersion: 1 });
            await expect(store.append('shared', [ev(3)], { expectedVersion: 1 })).rejects.toBeInstanceOf(ConcurrencyError);
            expect((await store.readAll()).map((e) => e.version)).toEqual([1, 2]);
          } finally {
            await other.close();
          }
        }),
      );
    }
  });
}
