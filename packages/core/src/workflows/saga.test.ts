import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeSagaConformance } from '@missive/testing/vitest';
import { defineCommand, defineEvent } from '../contracts/contract.js';
import { ConfigurationError } from '../errors.js';
import { MemoryBroker } from '../transport/memory/memory-broker.js';
import { createTestHarness } from '@missive/testing';
import { MemoryMessageStore } from './memory-store.js';
import { defineSaga } from './saga.js';

describeSagaConformance({
  target: {
    name: 'memory',
    virtualClock: true,
    setup(clock) {
      const broker = new MemoryBroker({ clock });
      return { connect: () => broker.transport(), quiet: () => broker.isQuiet(), activity: () => broker.activity };
    },
  },
  createStore: () => new MemoryMessageStore(),
});

describe('saga definitions', () => {
  const Started = defineEvent('t.started', z.object({ id: z.string() }));
  const Next = defineCommand('t.next', z.object({ id: z.string() }));
  it('are checked when defined', () => {
    const saga = defineSaga('t.saga', z.object({ id: z.string() }));
    expect(() => defineSaga('bad name', z.object({}))).toThrow(ConfigurationError);
    saga.startedBy(Started, { correlate: (m) => m.id, initial: (m) => ({ id: m.id }) });
    expect(() => saga.on(Started, { correlate: (m) => m.id, handle: () => undefined })).toThrow(/handled twice/);
    expect(() => saga.on(Next, { correlate: (m) => m.id, handle: undefined as never })).toThrow(/handle function/);
    expect(() => saga.startedBy(Next, { correlate: (m) => m.id, initial: undefined as never })).toThrow(/initial state/);
  });
});

describe('saga timeouts on a transport that cancels', () => {
  const Place = defineCommand('tc.place', z.object({ id: z.string() }));
  const Pay = defineCommand('tc.pay', z.object({ id: z.string() }));
  const saga = defineSaga('tc.order', z.object({ id: z.string() }))
    .startedBy(Place, {
      correlate: (m) => m.id,
      initial: (m) => ({ id: m.id }),
      handle: (_m, s) => void s.scheduleTimeout('payment', { delayMs: 60 * 60_000 }),
    })
    .on(Pay, { correlate: (m) => m.id, handle: (_m, s) => s.complete() })
    .onTimeout('payment', (s) => s.fail('payment timed out'));

  it("a step that drops a timeout does not wait for the transport's cancel, which runs after it", async () => {
    const h = createTestHarness();
    const store = new MemoryMessageStore();
    const bus = h.bus('orders');
    bus.saga(saga, { store, endpoint: 'orders' });
    await bus.start();
    // The transport is slow to cancel (a broker round trip): the cancel waits until the test lets it go.
    const transport = bus.transport;
    const cancel = transport.cancelScheduled.bind(transport);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const cancels: string[] = [];
    const cancelled: boolean[] = [];
    transport.cancelScheduled = async (id) => {
      cancels.push(id);
      await held;
      const found = await cancel(id);
      cancelled.push(found);
      return found;
    };
    await bus.send(Place, { id: 'o-1' });
    const timeout = (await h.waiter.eventually(
      () => store.loadSaga(saga.name, 'o-1'),
      (r) => r?.timeouts.length === 1,
      'the timeout',
    ))!.timeouts[0]!;
    await bus.send(Pay, { id: 'o-1' });
    await h.until(() => bus.stats().endpoints.orders?.handled === 2, 'the payment handled while its cancel waits');
    expect(cancels).toEqual([timeout.id]);
    expect(cancelled).toEqual([]);
    expect((await store.loadSaga(saga.name, 'o-1'))?.status).toBe('completed');
    release();
    await h.until(() => cancelled.length === 1, 'the cancel');
    expect(cancelled).toEqual([true]);
    await h.stop();
  });
});
