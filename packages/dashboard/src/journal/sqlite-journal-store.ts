/**
 * The SQLite journal store, the default: one file in WAL mode that every service of a machine
 * appends to and the dashboard reads. Rows are found by message id, correlation id, conversation
 * id and business key through indexes (see `bench/src/journal-lookup.ts` for the figures at a
 * million rows).
 *
 * @example
 * ```ts
 * const store = new SqliteJournalStore({ path: '.missive/journal.db' });
 * await store.append(entries);
 * ```
 * @module
 */
import Database from 'better-sqlite3';
import type { JournalEntry } from './journal-entry.js';
import { COLUMNS, CONVERSATION_LIMIT, entryFromRow, MAX_TRANSACTIONS, valuesOf, type Row } from './journal-rows.js';
import { JOURNAL_SCHEMA_VERSION, schemaStep } from './journal-schema.js';
import type { JournalStore, RecentQuery } from './journal-store.js';

/** Options of {@link SqliteJournalStore}. */
export interface SqliteJournalStoreOptions {
  /** The database file (created with its folder's permission when missing). */
  readonly path: string;
  /** How long a writer waits for another process's lock, ms. Default 5000. */
  readonly busyTimeoutMs?: number;
}

/** WAL pages between automatic checkpoints (SQLite's default is 1,000). */
export const CHECKPOINT_PAGES = 10_000;

const SCHEMA = `
create table if not exists missive_journal (
  seq integer primary key autoincrement,
  at integer not null, sent_at integer, message_id text not null, type text not null, kind text, source text,
  service text not null, endpoint text not null, instance text not null,
  correlation_id text, causation_id text, conversation_id text, trace_id text,
  attempt integer not null, outcome text not null, duration_ms real not null,
  reason text, error text, replayed integer not null default 0, payload text
);
-- Only where it differs from the correlation id: a message that begins a business transaction (its
-- id is the correlation id) is found by the correlation index. One random-keyed b-tree fewer per
-- such row; each random key dirties a page that the commit writes to the WAL. (Schema version 2;
-- version 1's full index, missive_journal_message, is dropped by the migration.)
create index if not exists missive_journal_message_id on missive_journal (message_id) where message_id <> correlation_id;
create index if not exists missive_journal_correlation on missive_journal (correlation_id);
-- Only where it differs from the correlation id (requests, sagas): elsewhere the correlation index finds it.
create index if not exists missive_journal_conversation on missive_journal (conversation_id) where conversation_id <> correlation_id;
create index if not exists missive_journal_at on missive_journal (at);
create table if not exists missive_journal_keys (value text not null, seq integer not null, primary key (value, seq)) without rowid;
`;

/** The journal in a SQLite file. */
export class SqliteJournalStore implements JournalStore {
  readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly insertKey: Database.Statement;
  private readonly appendAll: (entries: readonly JournalEntry[]) => void;
  private readonly byQuery: Database.Statement;

  constructor(options: SqliteJournalStoreOptions) {
    this.db = new Database(options.path);
    this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    this.db.pragma('journal_mode = WAL');
    // In WAL mode: an application crash loses nothing committed; the WAL is synced at checkpoints,
    // so a power loss or OS crash may lose the commits since the last one (never corrupts the file).
    this.db.pragma('synchronous = NORMAL');
    // A checkpoint every 10,000 pages of WAL (about 40 MiB) instead of SQLite's 1,000: the appends
    // dirty about one random index page per row per index, so at the default a checkpoint (two
    // fsyncs, every page copied to the file) ran at nearly every 1,000-row commit; a page dirtied
    // by several commits between checkpoints is now copied once. The worker's CPU per row falls by
    // a fifth (issue 19, fourth cut). The price: what a power loss may lose is up to 10,000 pages'
    // worth of commits (a few thousand rows) instead of about 1,000 pages' worth.
    this.db.pragma(`wal_autocheckpoint = ${CHECKPOINT_PAGES}`);
    this.migrate();
    this.insert = this.db.prepare(`insert into missive_journal (${COLUMNS.join(', ')}) values (${COLUMNS.map(() => '?').join(', ')})`);
    this.insertKey = this.db.prepare('insert into missive_journal_keys (value, seq) values (?, ?)');
    this.appendAll = this.db.transaction((entries: readonly JournalEntry[]) => {
      for (const entry of entries) {
        const { lastInsertRowid } = this.insert.run(valuesOf(entry));
        for (const key of entry.keys) this.insertKey.run(key, lastInsertRowid);
      }
    });
    this.byQuery = this.db.prepare(`
      with hits(correlation_id) as (
        select correlation_id from missive_journal where message_id = @q and message_id <> correlation_id
        union select correlation_id from missive_journal where correlation_id = @q
        union select correlation_id from missive_journal where conversation_id = @q and conversation_id <> correlation_id
        union select j.correlation_id from missive_journal_keys k join missive_journal j on j.seq = k.seq where k.value = @q
      )
      select * from missive_journal where correlation_id in (select correlation_id from hits where correlation_id is not null limit ${MAX_TRANSACTIONS})
      order by coalesce(sent_at, at), seq limit @limit`);
  }

  /**
   * Brings a journal of an older schema version (or a new file) to this one and records it in the
   * file's `user_version`, under the write lock (two processes opening one file migrate it once);
   * leaves a journal of this version or a newer one as it is (`journal-schema.ts`).
   */
  private migrate(): void {
    const version = (): number => this.db.pragma('user_version', { simple: true }) as number;
    if (schemaStep(version()) !== 'migrate') return;
    this.db
      .transaction(() => {
        if (schemaStep(version()) !== 'migrate') return;
        this.db.exec(SCHEMA);
        this.db.exec('drop index if exists missive_journal_message');
        this.db.pragma(`user_version = ${JOURNAL_SCHEMA_VERSION}`);
      })
      .immediate();
  }

  async append(entries: readonly JournalEntry[]): Promise<void> {
    if (entries.length > 0) this.appendAll(entries);
  }

  async conversation(query: string, options: { readonly limit?: number } = {}): Promise<JournalEntry[]> {
    return (this.byQuery.all({ q: query, limit: options.limit ?? CONVERSATION_LIMIT }) as Row[]).map(entryFromRow);
  }

  async recent(query: RecentQuery): Promise<JournalEntry[]> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (query.afterSeq !== undefined) {
      where.push('seq > ?');
      params.push(query.afterSeq);
    }
    if (query.outcome !== undefined) {
      where.push('outcome = ?');
      params.push(query.outcome);
    }
    const sql = `select * from missive_journal ${where.length === 0 ? '' : `where ${where.join(' and ')}`} order by seq desc limit ?`;
    return (this.db.prepare(sql).all(...params, query.limit) as Row[]).map(entryFromRow);
  }

  async prune(options: { readonly before?: number; readonly keep?: number }): Promise<number> {
    let removed = 0;
    const prune = this.db.transaction(() => {
      if (options.before !== undefined) removed += this.db.prepare('delete from missive_journal where at < ?').run(options.before).changes;
      if (options.keep !== undefined) {
        const cut = this.db.prepare('select seq from missive_journal order by seq desc limit 1 offset ?').get(options.keep) as
          { seq: number } | undefined;
        if (cut !== undefined) removed += this.db.prepare('delete from missive_journal where seq <= ?').run(cut.seq).changes;
      }
      // The keys table is one b-tree on (value, seq), the cheapest to insert into; this delete scans it, once per retention run.
      const oldest = this.db.prepare('select min(seq) as seq from missive_journal').get() as { seq: number | null };
      if (removed > 0) this.db.prepare('delete from missive_journal_keys where seq < ?').run(oldest.seq ?? Number.MAX_SAFE_INTEGER);
    });
    prune();
    return removed;
  }

  async count(): Promise<number> {
    return (this.db.prepare('select count(*) as n from missive_journal').get() as { n: number }).n;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
