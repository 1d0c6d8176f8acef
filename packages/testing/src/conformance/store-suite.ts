/**
 * The store conformance suite: what every `MessageStore` (saga instances, outbox, inbox) must do,
 * run against memory, SQLite and any later store. Business writes are exercised through the
 * target's own `write` and `read` helpers, since each store's transaction handle differs.
 *
 * @example
 * ```ts
 * describeStoreConformance({
 *   name: 'memory',
 *   create: () => new MemoryMessageStore(),
 *   write: (tx, key, value) => tx.data.set(key, value),
 *   read: (store, key) => store.data.get(key),
 * });
 * ```
 * @module
 */
import { describe, expect, it } from 'vitest';
import { ConcurrencyConflictError, type MessageStore, type OutboxRecord, type SagaRecord } from '@missive/core';
import { range } from './case.js';

/** A store under test. */
export interface StoreTarget<Tx> {
  readonly name: string;
  /** A new, empty store. */
  create(): MessageStore<Tx> | Promise<MessageStore<Tx>>;
  /** A business write inside a commit. */
  write(tx: Tx, key: string, value: string): void;
  /** Reads a business value outside any commit. */
  read(store: MessageStore<Tx>, key: string): string | undefined | Promise<string | undefined>;
  /** Deletes what `create` made. */
  destroy?(store: MessageStore<Tx>): Promise<void>;
}

function outboxRecord(n: number): OutboxRecord {
  return {
    id: `out-${n}`,
    destination: { kind: 'topic', name: 'test.thing-happened', mandatory: false },
    message: {
      id: `out-${n}`,
      type: 'test.thing-happened',
      body: Buffer.from(`{"n":${n}}`),
      headers: { h: String(n) },
      partitionKey: n % 2 === 0 ? 'even' : undefined,
    },
    notBefore: n === 3 ? 1_900_000_000_000 : undefined,
    scheduleId: n === 3 ? 'sched-3' : undefined,
    createdAt: 1_800_000_000_000 + n,
  };
}

function sagaRecord(id: string, version: number, patch: Partial<SagaRecord> = {}): SagaRecord {
  return {
    saga: 'order',
    id,
    state: { step: version, nested: { list: [1, 2, 3] } },
    status: 'active',
    version,
    timeouts: [{ id: 't-1', name: 'payment', due: 1_800_000_000_000, data: { x: 1 } }],
    compensations: [{ name: 'release-stock', data: { sku: 'a' } }],
    createdAt: 1_800_000_000_000,
    updatedAt: 1_800_000_000_000 + version,
    ...patch,
  };
}

/** Registers the suite for `target` with vitest. */
export function describeStoreConformance<Tx>(target: StoreTarget<Tx>): void {
  describe(`store conformance: ${target.name}`, () => {
    const withStore = (body: (store: MessageStore<Tx>) => Promise<void>) => async () => {
      const store = await target.create();
      try {
        await body(store);
      } finally {
        await store.close();
        await target.destroy?.(store);
      }
    };

    it(
      'commits business writes, the inbox entry, the saga and the outbox together',
      withStore(async (store) => {
        const result = await store.commit({
          inbox: { endpoint: 'payment', messageId: 'm-1', at: 1000 },
          work: (tx) => {
            target.write(tx, 'balance', '90');
            return 'done';
          },
          saga: { record: sagaRecord('o-1', 1), expectedVersion: 0 },
          outbox: [outboxRecord(1), outboxRecord(2)],
        });
        expect(result).toEqual({ duplicate: false, value: 'done' });
        expect(await target.read(store, 'balance')).toBe('90');
        expect(await store.processed('payment', 'm-1')).toBe(true);
        expect(await store.processed('billing', 'm-1')).toBe(false);
        expect(await store.loadSaga('order', 'o-1')).toEqual(sagaRecord('o-1', 1));
        const pending = await store.pendingOutbox(10);
        expect(pending.map((r) => r.id)).toEqual(['out-1', 'out-2']);
        const bytes = (r: OutboxRecord) => ({ ...r, message: { ...r.message, body: [...r.message.body] } });
        expect(bytes(pending[1]!)).toEqual(bytes(outboxRecord(2)));
        expect(Buffer.from(pending[0]!.message.body).toString()).toBe('{"n":1}');
      }),
    );

    it(
      'writes nothing when any part fails',
      withStore(async (store) => {
        await expect(
          store.commit({
            inbox: { endpoint: 'payment', messageId: 'm-2', at: 1000 },
            work: (tx) => {
              target.write(tx, 'balance', 'lost');
              throw new Error('business rule broken');
            },
            outbox: [outboxRecord(1)],
          }),
        ).rejects.toThrow('business rule broken');
        await expect(
          store.commit({
            inbox: { endpoint: 'payment', messageId: 'm-3', at: 1000 },
            work: (tx) => target.write(tx, 'balance', 'lost too'),
            saga: { record: sagaRecord('o-9', 5), expectedVersion: 4 },
            outbox: [outboxRecord(2)],
          }),
        ).rejects.toBeInstanceOf(ConcurrencyConflictError);
        expect(await target.read(store, 'balance')).toBeUndefined();
        expect(await store.processed('payment', 'm-2')).toBe(false);
        expect(await store.processed('payment', 'm-3')).toBe(false);
        expect(await store.loadSaga('order', 'o-9')).toBeUndefined();
        expect(await store.pendingOutbox(10)).toEqual([]);
      }),
    );

    it(
      'a message already in the inbox changes nothing',
      withStore(async (store) => {
        let runs = 0;
        const commit = () =>
          store.commit({
            inbox: { endpoint: 'payment', messageId: 'dup', at: 1000 },
            work: (tx) => {
              runs++;
              target.write(tx, 'charges', String(runs));
            },
            outbox: [outboxRecord(runs + 10)],
          });
        expect((await commit()).duplicate).toBe(false);
        expect((await commit()).duplicate).toBe(true);
        expect((await commit()).duplicate).toBe(true);
        expect(runs).toBe(1);
        expect(await target.read(store, 'charges')).toBe('1');
        expect((await store.pendingOutbox(10)).length).toBe(1);
      }),
    );

    it(
      'saves sagas with optimistic concurrency: a stale version loses, nothing is lost',
      withStore(async (store) => {
        await store.commit({ saga: { record: sagaRecord('o-1', 1), expectedVersion: 0 } });
        await expect(store.commit({ saga: { record: sagaRecord('o-1', 1), expectedVersion: 0 } })).rejects.toBeInstanceOf(
          ConcurrencyConflictError,
        );
        await store.commit({ saga: { record: sagaRecord('o-1', 2), expectedVersion: 1 } });
        const racers = await Promise.allSettled(
          range(5).map(() => store.commit({ saga: { record: sagaRecord('o-1', 3), expectedVersion: 2 } })),
        );
        expect(racers.filter((r) => r.status === 'fulfilled').length).toBe(1);
        for (const r of racers) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConcurrencyConflictError);
        expect((await store.loadSaga('order', 'o-1'))?.version).toBe(3);
      }),
    );

    it(
      'keeps outbox order across commits and removes dispatched messages',
      withStore(async (store) => {
        for (const n of range(25)) await store.commit({ outbox: [outboxRecord(n)] });
        expect((await store.pendingOutbox(10)).map((r) => r.id)).toEqual(range(10).map((n) => `out-${n}`));
        await store.removeOutbox(range(10).map((n) => `out-${n}`));
        expect((await store.pendingOutbox(100)).map((r) => r.id)).toEqual(range(15).map((n) => `out-${n + 10}`));
        await store.removeOutbox(['out-12', 'unknown']);
        expect((await store.pendingOutbox(3)).map((r) => r.id)).toEqual(['out-10', 'out-11', 'out-13']);
      }),
    );

    it(
      'leases outbox messages to one relay at a time; a lease that ran out or was released is taken over',
      withStore(async (store) => {
        for (const n of range(6)) await store.commit({ outbox: [outboxRecord(n)] });
        const ids = (records: readonly OutboxRecord[]) => records.map((r) => r.id);
        // Relay a claims three; relay b, at the same time, gets none of them nor (same destination) the later ones.
        expect(ids(await store.claimOutbox('a', 3, 1000, 2000))).toEqual(['out-0', 'out-1', 'out-2']);
        expect(ids(await store.claimOutbox('b', 10, 1000, 2000))).toEqual([]);
        // Relay a gets its own again, and more.
        expect(ids(await store.claimOutbox('a', 4, 1500, 2500))).toEqual(['out-0', 'out-1', 'out-2', 'out-3']);
        // Another destination is not held back by a's leases.
        const other = { ...outboxRecord(9), destination: { kind: 'queue' as const, name: 'billing', mandatory: false } };
        await store.commit({ outbox: [other] });
        expect(ids(await store.claimOutbox('b', 10, 1600, 2600))).toEqual(['out-9']);
        // a extends its leases (to 3000): at 2600 they are still a's.
        await store.renewOutbox('a', 3000);
        expect(ids(await store.claimOutbox('b', 10, 2600, 3600))).toEqual(['out-9']);
        // Removed ones are gone; at 3000 a's lease ran out: b takes over, in order.
        await store.removeOutbox(['out-0']);
        expect(ids(await store.claimOutbox('b', 10, 3000, 4000))).toEqual(['out-1', 'out-2', 'out-3', 'out-4', 'out-5', 'out-9']);
        expect(ids(await store.claimOutbox('a', 10, 3000, 4000))).toEqual([]);
        // Released: a takes them at once.
        await store.releaseOutbox('b');
        expect(ids(await store.claimOutbox('a', 2, 3100, 4100))).toEqual(['out-1', 'out-2']);
        expect(ids(await store.pendingOutbox(10))).toEqual(['out-1', 'out-2', 'out-3', 'out-4', 'out-5', 'out-9']);
      }),
    );

    it(
      "a message committed with a lease is its owner's until the lease ends, then taken over",
      withStore(async (store) => {
        const ids = (records: readonly OutboxRecord[]) => records.map((r) => r.id);
        await store.commit({ outbox: [0, 1].map((n) => ({ ...outboxRecord(n), lease: { owner: 'a', until: 2000 } })) });
        await store.commit({ outbox: [outboxRecord(2)] }); // not leased (an older version wrote it)
        // b gets none (the older ones to the destination are a's); a gets its own and takes the free one.
        expect(ids(await store.claimOutbox('b', 10, 1000, 3000))).toEqual([]);
        // What a claim took over says whose lease it was (`takenFrom`, null: none); its own, nothing.
        const takenFrom = (records: readonly OutboxRecord[]) => records.map((r) => [r.id, r.takenFrom]);
        expect(takenFrom(await store.claimOutbox('a', 10, 1000, 3000))).toEqual([
          ['out-0', undefined],
          ['out-1', undefined],
          ['out-2', null],
        ]);
        // a's insert leases end at 2000 (out-2, taken, at 3000): b takes out-0 and out-1 only, in order.
        expect(takenFrom(await store.claimOutbox('b', 10, 2000, 4000))).toEqual([
          ['out-0', { owner: 'a', until: 2000 }],
          ['out-1', { owner: 'a', until: 2000 }],
        ]);
        expect(takenFrom(await store.claimOutbox('b', 10, 2000, 4000))).toEqual([
          ['out-0', undefined],
          ['out-1', undefined],
        ]);
        expect(ids(await store.claimOutbox('a', 10, 2000, 4000))).toEqual([]);
        await store.removeOutbox(['out-0', 'out-1']);
        expect(ids(await store.claimOutbox('a', 10, 2000, 4000))).toEqual(['out-2']);
        // b's own message past as many older ones of another relay (other destinations) as it asks for.
        const elsewhere = (n: number, owner: string) => ({
          ...outboxRecord(n),
          destination: { kind: 'queue' as const, name: `q-${n}`, mandatory: false },
          lease: { owner, until: 9000 },
        });
        await store.commit({ outbox: [elsewhere(10, 'a'), elsewhere(11, 'a'), elsewhere(12, 'b')] });
        expect(ids(await store.claimOutbox('b', 2, 2000, 4000))).toEqual(['out-12']);
      }),
    );

    it(
      'two relays claiming at once never get the same message',
      withStore(async (store) => {
        // Each message its own destination: nothing holds another back.
        for (const n of range(40))
          await store.commit({ outbox: [{ ...outboxRecord(n), destination: { kind: 'queue', name: `q-${n}`, mandatory: false } }] });
        const claims = await Promise.all(range(8).map((i) => store.claimOutbox(`relay-${i % 2}`, 5, 1000, 2000)));
        const byRelay = [0, 1].map((r) => new Set(claims.filter((_, i) => i % 2 === r).flatMap((c) => c.map((x) => x.id))));
        expect([...byRelay[0]!].filter((id) => byRelay[1]!.has(id))).toEqual([]);
        expect(byRelay[0]!.size + byRelay[1]!.size).toBeGreaterThan(0);
      }),
    );

    it(
      'lists saga instances by status and deletes finished ones',
      withStore(async (store) => {
        await store.commit({ saga: { record: sagaRecord('a', 1), expectedVersion: 0 } });
        await store.commit({
          saga: { record: sagaRecord('b', 1, { status: 'completed', finishedAt: 5000, createdAt: 1_800_000_000_001 }), expectedVersion: 0 },
        });
        await store.commit({
          saga: {
            record: sagaRecord('c', 1, { status: 'compensated', reason: 'declined', finishedAt: 9000, createdAt: 1_800_000_000_002 }),
            expectedVersion: 0,
          },
        });
        await store.commit({ saga: { record: { ...sagaRecord('x', 1), saga: 'other' }, expectedVersion: 0 } });
        expect((await store.listSagas('order')).map((r) => r.id)).toEqual(['a', 'b', 'c']);
        expect((await store.listSagas('order', { status: 'active' })).map((r) => r.id)).toEqual(['a']);
        expect((await store.listSagas('order', { limit: 1, offset: 1 })).map((r) => r.id)).toEqual(['b']);
        expect((await store.listSagas('order', { status: 'compensated' }))[0]?.reason).toBe('declined');
        expect(await store.deleteFinishedSagas('order', 6000)).toBe(1);
        expect((await store.listSagas('order')).map((r) => r.id)).toEqual(['a', 'c']);
        expect(await store.deleteFinishedSagas('order', 10_000)).toBe(1);
        expect((await store.listSagas('other')).length).toBe(1);
      }),
    );

    it(
      'purges inbox entries older than the retention',
      withStore(async (store) => {
        for (const n of range(4)) await store.commit({ inbox: { endpoint: 'e', messageId: `m-${n}`, at: n * 1000 } });
        expect(await store.purgeInbox(2000)).toBe(2);
        expect(await store.processed('e', 'm-1')).toBe(false);
        expect(await store.processed('e', 'm-2')).toBe(true);
      }),
    );
  });
}
