import { describeEventStoreConformance } from '@missive/testing/vitest';
import { MemoryEventStore } from './memory-event-store.js';

describeEventStoreConformance({ name: 'memory', create: () => new MemoryEventStore() });
