/**
 * The SQLite journal store's indexes: what a row costs to insert, and that every lookup is answered
 * from them (the cases every store passes are in `journal-stores.integration.test.ts`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { JournalEntry } from './journal-entry.js';
import { JOURNAL_SCHEMA_VERSION } from './journal-schema.js';
import { CHECKPOINT_PAGES, SqliteJournalStore } from './sqlite-journal-store.js';

const dir = mkdtempSync(join(tmpdir(), 'missive-sqlite-journal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function row(messageId: string, correlationId: string, keys: string[] = []): JournalEntry {
  return {
    seq: 0,
    at: 1,
    sentAt: 1,
    messageId,
    type: 't',
    kind: 'event',
    source: 'a',
    service: 'b',
    endpoint: 'b',
    instance: 'i',
    correlationId,
    causationId: undefined,
    conversationId: correlationId,
    traceId: undefined,
    attempt: 1,
    outcome: 'handled',
    durationMs: 1,
    reason: undefined,
    error: undefined,
    replayed: false,
    payload: undefined,
    keys,
  };
}

/** Entries in an index's leaf pages. */
function indexEntries(store: SqliteJournalStore, index: string): number {
  return (
    store.db.prepare("select coalesce(sum(ncell), 0) as n from dbstat where name = ? and pagetype = 'leaf'").get(index) as { n: number }
  ).n;
}

describe('SqliteJournalStore', () => {
  it('indexes a message id only where it differs from the correlation id (the first message of a transaction is found by the correlation index)', async () => {
    const store = new SqliteJournalStore({ path: join(dir, 'partial.db') });
    await store.append([row('c-1', 'c-1', ['order-1']), row('c-2', 'c-2'), row('m-3', 'c-1')]);
    expect(indexEntries(store, 'missive_journal_message_id')).toBe(1);
    expect(indexEntries(store, 'missive_journal_correlation')).toBe(3);
    expect((await store.conversation('c-1')).map((e) => e.messageId)).toEqual(['c-1', 'm-3']);
    await store.close();
  });

  it('checkpoints its WAL every CHECKPOINT_PAGES pages, not at nearly every commit, and keeps synchronous = NORMAL', async () => {
    const store = new SqliteJournalStore({ path: join(dir, 'checkpoint.db') });
    expect(CHECKPOINT_PAGES).toBeGreaterThan(1000);
    expect(store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(CHECKPOINT_PAGES);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('synchronous', { simple: true })).toBe(1);
    await store.close();
  });

  it('answers a conversation from indexes, never a scan of the journal', async () => {
    const store = new SqliteJournalStore({ path: join(dir, 'plan.db') });
    await store.append([row('c-1', 'c-1', ['order-1']), row('m-2', 'c-1')]);
    const plan = store.db
      .prepare(`explain query plan ${(store as unknown as { byQuery: Database.Statement }).byQuery.source}`)
      .all({ q: 'order-1', limit: 10 }) as { detail: string }[];
    const details = plan.map((step) => step.detail);
    expect(details.some((d) => /^SCAN (missive_journal|j)\b/.test(d) && !/USING/.test(d))).toBe(false);
    expect(details.filter((d) => /missive_journal_message_id/.test(d))).toHaveLength(1);
    await store.close();
  });

  it('moves a journal file of the earlier schema to the partial message index', async () => {
    const path = join(dir, 'old.db');
    const old = new Database(path);
    old.exec(`create table missive_journal (seq integer primary key autoincrement, at integer not null, sent_at integer, message_id text not null, type text not null, kind text, source text,
      service text not null, endpoint text not null, instance text not null, correlation_id text, causation_id text, conversation_id text, trace_id text,
      attempt integer not null, outcome text not null, duration_ms real not null, reason text, error text, replayed integer not null default 0, payload text);
      create index missive_journal_message on missive_journal (message_id);`);
    old.close();
    const store = new SqliteJournalStore({ path });
    const indexes = (
      store.db.prepare("select name from sqlite_master where type = 'index' and tbl_name = 'missive_journal'").all() as { name: string }[]
    ).map((i) => i.name);
    expect(indexes).not.toContain('missive_journal_message');
    expect(indexes).toContain('missive_journal_message_id');
    expect(store.db.pragma('user_version', { simple: true })).toBe(JOURNAL_SCHEMA_VERSION);
    await store.close();
  });

  it('leaves a journal of its schema version alone: an older process that rebuilt its full index and this one do not flip it', async () => {
    const path = join(dir, 'mixed.db');
    await new SqliteJournalStore({ path }).close();
    // An older process (before versions were recorded) opens the file and builds its index, as it does at every start.
    const old = new Database(path);
    old.exec('create index if not exists missive_journal_message on missive_journal (message_id)');
    old.close();
    const store = new SqliteJournalStore({ path });
    expect(indexNames(store)).toContain('missive_journal_message');
    await store.append([row('c-1', 'c-1')]);
    expect((await store.conversation('c-1')).map((e) => e.messageId)).toEqual(['c-1']);
    await store.close();
  });

  it('leaves a journal of a newer schema version as it is, and writes and reads it', async () => {
    const path = join(dir, 'newer.db');
    await new SqliteJournalStore({ path }).close();
    // A newer process's schema: another message-id index in place of this version's.
    const newer = new Database(path);
    newer.exec('drop index missive_journal_message_id; create index missive_journal_message_v9 on missive_journal (message_id, at)');
    newer.pragma(`user_version = ${JOURNAL_SCHEMA_VERSION + 1}`);
    newer.close();
    const store = new SqliteJournalStore({ path });
    expect(indexNames(store)).toContain('missive_journal_message_v9');
    expect(indexNames(store)).not.toContain('missive_journal_message_id');
    expect(store.db.pragma('user_version', { simple: true })).toBe(JOURNAL_SCHEMA_VERSION + 1);
    await store.append([row('c-1', 'c-1'), row('m-2', 'c-1')]);
    expect((await store.conversation('m-2')).map((e) => e.messageId)).toEqual(['c-1', 'm-2']);
    await store.close();
  });
});

function indexNames(store: SqliteJournalStore): string[] {
  return (
    store.db.prepare("select name from sqlite_master where type = 'index' and tbl_name = 'missive_journal'").all() as { name: string }[]
  ).map((i) => i.name);
}
