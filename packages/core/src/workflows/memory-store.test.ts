import { describeStoreConformance } from '@missive/testing/vitest';
import { MemoryMessageStore, type MemoryTx } from './memory-store.js';

describeStoreConformance<MemoryTx>({
  name: 'memory',
  create: () => new MemoryMessageStore(),
  write: (tx, key, value) => void tx.data.set(key, value),
  read: (store, key) => (store as MemoryMessageStore).data.get(key) as string | undefined,
});
