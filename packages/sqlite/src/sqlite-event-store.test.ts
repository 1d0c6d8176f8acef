import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeEventStoreConformance } from '@missive/testing/vitest';
import { SqliteEventStore } from './sqlite-event-store.js';

const paths = new Map<object, string>();

describeEventStoreConformance({
  name: 'sqlite',
  create() {
    const path = join(tmpdir(), `missive-events-${randomUUID()}.db`);
    const store = new SqliteEventStore({ path });
    paths.set(store, path);
    return store;
  },
  reopen: (store) => new SqliteEventStore({ path: paths.get(store)! }),
  async destroy(store) {
    const path = paths.get(store)!;
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  },
});
