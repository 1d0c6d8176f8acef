import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { TransportError } from '@missive/core';
import { SCHEMA, SCHEMA_VERSION, applySchema } from './schema.js';

const dbs: { db: Database.Database; path: string }[] = [];
function open(): Database.Database {
  const path = join(tmpdir(), `missive-schema-${randomUUID()}.db`);
  const db = new Database(path);
  dbs.push({ db, path });
  return db;
}
afterEach(() => {
  for (const { db, path } of dbs.splice(0)) {
    db.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  }
});

/** The seqs a fetch may hand out, per queue and key: exactly the earliest message of each key. */
function unblocked(db: Database.Database): { queue: string; key: string | null; seq: number }[] {
  return db.prepare('select queue, partition_key key, seq from missive_messages where blocked = 0 order by seq').all() as {
    queue: string;
    key: string | null;
    seq: number;
  }[];
}

describe('sqlite schema', () => {
  it('keeps one un-blocked message per queue and key, whoever inserts or deletes', () => {
    const db = open();
    applySchema(db);
    applySchema(db); // a second process opening the file
    const insert = db.prepare(
      "insert into missive_messages (queue, id, type, body, headers, partition_key) values (?, ?, 't', x'', '{}', ?)",
    );
    insert.run('a', '1', 'k'); // seq 1
    insert.run('a', '2', 'k'); // seq 2, behind 1
    insert.run('a', '3', null); // seq 3, no key: never blocked
    insert.run('b', '4', 'k'); // seq 4, same key in another queue: not blocked
    insert.run('a', '5', 'j'); // seq 5
    db.exec(
      "insert into missive_messages (queue, id, type, body, headers, partition_key) select 'a', '6', 't', x'', '{}', 'j' union all select 'a', '7', 't', x'', '{}', 'j'",
    );
    expect(unblocked(db).map((r) => r.seq)).toEqual([1, 3, 4, 5]);

    db.prepare('delete from missive_messages where seq = ?').run(6); // a waiting message leaves: nothing moves
    db.prepare('delete from missive_messages where seq = ?').run(1); // the head is acked: the next takes its place
    db.prepare('delete from missive_messages where seq = ?').run(5);
    expect(unblocked(db).map((r) => r.seq)).toEqual([2, 3, 4, 7]);

    db.prepare("delete from missive_messages where queue = 'a'").run();
    insert.run('a', '8', 'k');
    expect(unblocked(db).map((r) => r.seq)).toEqual([4, 8]);
  });

  it('refuses a file holding tables of an older version, without retrying', () => {
    const db = open();
    db.exec(
      'create table missive_meta (key text primary key, value integer not null) without rowid; create table missive_messages (seq integer primary key, queue text)',
    );
    let thrown: unknown;
    try {
      applySchema(db);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TransportError);
    expect(thrown).toMatchObject({ retryable: false, message: expect.stringContaining('schema version 1') as unknown });
  });

  it('upgrades a file of version 2 in place: its messages and leases kept, the fetch reading the ready index', () => {
    const db = open();
    // A version 2 file: the same tables, the ready index over every row and the owner index.
    db.exec(SCHEMA);
    db.exec(`drop index missive_messages_ready; drop index missive_messages_held;
      create index missive_messages_ready on missive_messages (queue, blocked, seq);
      create index missive_messages_owner on missive_messages (lease_owner) where lease_owner is not null;
      update missive_meta set value = 2 where key = 'schema_version';`);
    const insert = db.prepare("insert into missive_messages (queue, id, type, body, headers) values ('a', ?, 't', x'', '{}')");
    for (const id of ['1', '2', '3']) insert.run(id);
    db.prepare("update missive_messages set lease_owner = 'c', lease_token = 'k', lease_until = 5 where seq = 1").run();

    applySchema(db);

    expect(db.prepare("select value from missive_meta where key = 'schema_version'").get()).toEqual({ value: SCHEMA_VERSION });
    const indexes = db
      .prepare("select name, sql from sqlite_master where type = 'index' and tbl_name = 'missive_messages' and sql is not null")
      .all() as {
      name: string;
      sql: string;
    }[];
    expect(indexes.map((i) => i.name).sort()).toEqual([
      'missive_messages_delayed',
      'missive_messages_held',
      'missive_messages_key',
      'missive_messages_ready',
    ]);
    expect(indexes.find((i) => i.name === 'missive_messages_ready')!.sql).toContain('lease_token is null');
    // The free rows are in the ready index, the held one in the held index.
    expect(
      db
        .prepare(
          "select seq from missive_messages indexed by missive_messages_ready where queue = 'a' and blocked = 0 and lease_token is null order by seq",
        )
        .all(),
    ).toEqual([{ seq: 2 }, { seq: 3 }]);
    expect(
      db
        .prepare('select seq from missive_messages indexed by missive_messages_held where lease_token is not null and lease_until <= 5')
        .all(),
    ).toEqual([{ seq: 1 }]);
    applySchema(db); // opened again: nothing more to do
    expect(db.prepare("select value from missive_meta where key = 'schema_version'").get()).toEqual({ value: SCHEMA_VERSION });
  });

  it('refuses a file of a newer version, saying to upgrade, without retrying or changing it', () => {
    const db = open();
    applySchema(db);
    db.prepare("update missive_meta set value = ? where key = 'schema_version'").run(SCHEMA_VERSION + 1);
    expect(() => applySchema(db)).toThrow(TransportError);
    expect(() => applySchema(db)).toThrow(
      new RegExp(`schema version ${SCHEMA_VERSION + 1}; this version of Missive knows up to ${SCHEMA_VERSION}: upgrade`),
    );
    expect(db.prepare("select value from missive_meta where key = 'schema_version'").get()).toEqual({ value: SCHEMA_VERSION + 1 });
  });

  it('opening a file that already holds this version writes nothing and waits for no write lock', () => {
    const first = open();
    first.pragma('journal_mode = WAL');
    applySchema(first);
    first.exec('begin immediate'); // another process holds the write lock
    const second = new Database(first.name);
    dbs.push({ db: second, path: first.name });
    second.pragma('busy_timeout = 0');
    expect(() => applySchema(second)).not.toThrow();
    first.exec('rollback');
  });
});
