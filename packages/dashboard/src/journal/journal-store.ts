/**
 * Where the journal keeps its rows: SQLite by default ({@link SqliteJournalStore}), PostgreSQL
 * when configured ({@link PostgresJournalStore}). A store is written by many services' journals and
 * read by the dashboard; every method is safe to call from several processes at once.
 *
 * @example
 * ```ts
 * const store = openJournalStore('sqlite://.missive/journal.db');
 * const rows = await store.conversation('o-42'); // by message id, correlation id or business key
 * ```
 * @module
 */
import type { PackedBatch } from './journal-batch.js';
import type { JournalEntry } from './journal-entry.js';

/** Which recent rows to read. */
export interface RecentQuery {
  readonly limit: number;
  /** Only rows with `seq` above this (for live views). */
  readonly afterSeq?: number;
  readonly outcome?: string;
}

/** A journal store. */
export interface JournalStore {
  /** Stores the rows in one transaction (all or none). */
  append(entries: readonly JournalEntry[]): Promise<void>;
  /**
   * Optional: stores a packed batch, as `append(unpackBatch(batch))` would. A store whose writes run
   * on another thread implements it, so the bus thread hands over a few flat values and the rows
   * are built on that thread; the journal uses it when present. The batch's arrays are the
   * journal's again once the returned promise settles (it reuses them): a store that keeps them
   * longer keeps a copy.
   */
  appendPacked?(batch: PackedBatch): Promise<void>;
  /**
   * Every row of the business transactions that `query` names — a message id, a correlation id, a
   * conversation id, or a business key in a payload — oldest first, at most `limit` rows
   * (default 2000) from at most 20 transactions. Answered from indexes, never a scan.
   */
  conversation(query: string, options?: { readonly limit?: number }): Promise<JournalEntry[]>;
  /** The newest rows first. */
  recent(query: RecentQuery): Promise<JournalEntry[]>;
  /** Deletes rows older than `before` (epoch ms) and all but the newest `keep` rows; returns how many went. */
  prune(options: { readonly before?: number; readonly keep?: number }): Promise<number>;
  count(): Promise<number>;
  close(): Promise<void>;
}
