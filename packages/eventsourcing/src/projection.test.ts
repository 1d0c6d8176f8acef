import { createBus, defineEvent } from '@missive/core';
import { createWaiter } from '@missive/testing';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { RecordedEvent } from './event-store.js';
import { MemoryEventStore } from './memory-event-store.js';
import { createProjection, publishEvents } from './projection.js';

const ev = (n: number) => ({ type: 'step', data: { n } });

describe('projection', () => {
  it('catches up from its checkpoint, and a new projection of the same name resumes there', async () => {
    const store = new MemoryEventStore();
    for (const n of [1, 2, 3]) await store.append(`s-${n}`, [ev(n)], { expectedVersion: 0 });
    const seen: number[] = [];
    const first = createProjection({ name: 'p', store, handle: (e) => void seen.push((e.data as { n: number }).n) });
    expect(await first.catchUp()).toBe(3);
    await store.append('s-4', [ev(4), ev(5)], { expectedVersion: 0 });
    const second = createProjection({ name: 'p', store, handle: (e) => void seen.push((e.data as { n: number }).n) });
    await second.catchUp();
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(await store.loadCheckpoint('p')).toBe(5);
  });

  it('not started, catchUp rejects with the handler failure and keeps the checkpoint before the event', async () => {
    const store = new MemoryEventStore();
    await store.append('s', [ev(1), ev(2), ev(3)], { expectedVersion: 0 });
    let fail = true;
    const seen: number[] = [];
    const projection = createProjection({
      name: 'r',
      store,
      handle: (e) => {
        const n = (e.data as { n: number }).n;
        if (n === 2 && fail) throw new Error('broken');
        seen.push(n);
      },
    });
    await expect(projection.catchUp()).rejects.toThrow('broken');
    expect(await store.loadCheckpoint('r')).toBe(1);
    fail = false;
    expect(await projection.catchUp()).toBe(3);
    expect(seen).toEqual([1, 2, 3]);
  });

  it('retries a failing event without skipping it, and filters by stream prefix', async () => {
    const store = new MemoryEventStore();
    await store.append('keep-1', [ev(1)], { expectedVersion: 0 });
    await store.append('skip-1', [ev(2)], { expectedVersion: 0 });
    await store.append('keep-2', [ev(3)], { expectedVersion: 0 });
    const seen: number[] = [];
    const errors: string[] = [];
    let failures = 2;
    const waiter = createWaiter();
    const projection = createProjection({
      name: 'q',
      store,
      streamPrefix: 'keep-',
      pollMs: 10,
      retryMs: 5,
      handle: (e: RecordedEvent) => {
        const n = (e.data as { n: number }).n;
        if (n === 3 && failures-- > 0) throw new Error(`not yet ${failures}`);
        seen.push(n);
      },
      onError: (error) => errors.push((error as Error).message),
    });
    await projection.start();
    await waiter.until(() => seen.includes(3), 'event 3 handled after its failures');
    await projection.stop();
    expect(seen).toEqual([1, 3]);
    expect(errors).toEqual(['not yet 1', 'not yet 0']);
  });

  it('publishes events to the bus with the event id as message id', async () => {
    const Stepped = defineEvent('test.stepped', z.object({ n: z.number() }));
    const store = new MemoryEventStore();
    const bus = createBus({ service: 'es-test', transport: 'memory://' });
    const got: { n: number; id: string }[] = [];
    const waiter = createWaiter();
    bus.endpoint('listener', (e) => e.on(Stepped, (m, ctx) => void got.push({ n: m.n, id: ctx.envelope.id })));
    const projection = publishEvents(bus, {
      name: 'to-bus',
      store,
      pollMs: 10,
      map: (e) => (e.type === 'step' ? { contract: Stepped, payload: e.data } : undefined),
    });
    bus.attach(projection);
    await bus.start();
    await store.append('x', [ev(1), { type: 'ignored', data: {} }, { id: 'fixed-id', ...ev(2) }], { expectedVersion: 0 });
    await waiter.until(() => got.length === 2, 'two events published');
    await bus.stop();
    expect(got.map((g) => g.n)).toEqual([1, 2]);
    expect(got[1]?.id).toBe('fixed-id');
  });
});
