import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeSagaConformance } from '@missive/testing/vitest';
import { SqliteMessageStore } from './sqlite-message-store.js';
import { SqliteTransport } from './sqlite-transport.js';

const remove = (path: string) => {
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
};
const stores = new Map<object, string>();

describeSagaConformance({
  target: {
    name: 'sqlite',
    setup(clock) {
      const path = join(tmpdir(), `missive-saga-bus-${randomUUID()}.db`);
      return { connect: () => new SqliteTransport({ path, pollMs: 50 }, { clock }), teardown: async () => remove(path) };
    },
  },
  createStore() {
    const path = join(tmpdir(), `missive-saga-store-${randomUUID()}.db`);
    const store = new SqliteMessageStore({ path });
    stores.set(store, path);
    return store;
  },
  async destroyStore(store) {
    remove(stores.get(store)!);
  },
});
