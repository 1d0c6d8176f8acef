import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { describeStoreConformance } from '@missive/testing/vitest';
import type Database from 'better-sqlite3';
import { SqliteMessageStore } from './sqlite-message-store.js';

const files = new Map<SqliteMessageStore, string>();

describeStoreConformance<Database.Database>({
  name: 'sqlite',
  create() {
    const path = join(tmpdir(), `missive-store-${randomUUID()}.db`);
    const store = new SqliteMessageStore({ path });
    store.db.exec('create table if not exists kv (key text primary key, value text not null)');
    files.set(store, path);
    return store;
  },
  write: (tx, key, value) =>
    void tx.prepare('insert into kv (key, value) values (?, ?) on conflict (key) do update set value = excluded.value').run(key, value),
  read: (store, key) =>
    ((store as SqliteMessageStore).db.prepare('select value from kv where key = ?').get(key) as { value: string } | undefined)?.value,
  async destroy(store) {
    const path = files.get(store as SqliteMessageStore)!;
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  },
});
