import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeSagaConformance } from '@missive/testing/vitest';
import { defineCommand, defineEvent } from '../contracts/contract.js';
import { ConfigurationError } from '../errors.js';
import { MemoryBroker } from '../transport/memory/memory-broker.js';
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
