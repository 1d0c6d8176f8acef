import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { TransportError } from '@missive/core';
import { applySchema } from './schema.js';

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
});
