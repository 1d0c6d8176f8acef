import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { describeStoreConformance } from '@missive/testing/vitest';
import Database from 'better-sqlite3';
import { createBus, defineEvent, silentLogger } from '@missive/core';
import { z } from 'zod';
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

it('adds the lease columns to an outbox made before them, keeping its messages', async () => {
  const path = join(tmpdir(), `missive-store-${randomUUID()}.db`);
  try {
    const old = new Database(path);
    old.exec(`create table missive_outbox (seq integer primary key autoincrement, id text not null unique, kind text not null,
      destination text not null, mandatory integer not null, type text not null, body blob not null, headers text not null,
      partition_key text, not_before integer, schedule_id text, created_at integer not null)`);
    old
      .prepare(
        `insert into missive_outbox (id, kind, destination, mandatory, type, body, headers, created_at)
      values ('m-1', 'topic', 't', 0, 't', x'7b7d', '{}', 1)`,
      )
      .run();
    old.close();
    const store = new SqliteMessageStore({ path });
    expect((await store.claimOutbox('relay', 10, 1000, 2000)).map((r) => r.id)).toEqual(['m-1']);
    expect(await store.claimOutbox('other', 10, 1000, 2000)).toEqual([]);
    await store.close();
  } finally {
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  }
});

it('a relay sends the messages its outbox committed with no lease write: one insert and one removal each', async () => {
  const path = join(tmpdir(), `missive-store-${randomUUID()}.db`);
  const store = new SqliteMessageStore({ path });
  const Noted = defineEvent('lease.noted', z.object({ n: z.number() }));
  const bus = createBus({ service: 'lease-writes', transport: 'memory://', logger: silentLogger });
  const outbox = bus.outbox(store, { pollIntervalMs: 60_000 });
  await bus.start();
  try {
    // Rows changed by this connection: inserts, lease updates and removals.
    const changes = () => (store.db.prepare('select total_changes() as n').get() as { n: number }).n;
    const before = changes();
    for (const n of range(10)) await outbox.transaction((tx) => tx.publish(Noted, { n }));
    await outbox.flush();
    expect(await store.pendingOutbox(100)).toEqual([]);
    expect(changes() - before).toBe(20);
  } finally {
    await bus.stop();
    await store.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  }
});

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
