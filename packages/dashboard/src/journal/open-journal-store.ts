/**
 * Opens a journal store from a URL: `sqlite://path` (or a plain path) for the SQLite store, its
 * writes on a worker thread ({@link WorkerJournalStore}); `postgres://…` / `postgresql://…` for
 * PostgreSQL (its writes are I/O, already off the event loop).
 *
 * @example
 * ```ts
 * const store = await openJournalStore('sqlite://.missive/journal.db');
 * ```
 * @module
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigurationError } from '@missive/core';
import type { JournalStore } from './journal-store.js';
import { PostgresJournalStore } from './postgres-journal-store.js';
import { SqliteJournalStore } from './sqlite-journal-store.js';
import { WorkerJournalStore } from './worker-journal-store.js';

/** The store a URL names. */
export async function openJournalStore(url: string): Promise<JournalStore> {
  if (/^postgres(ql)?:\/\//.test(url)) return PostgresJournalStore.open({ url });
  const path = url.startsWith('sqlite://') ? url.slice('sqlite://'.length) : url;
  if (path === '' || /^[a-z][a-z0-9+.-]*:\/\//i.test(path))
    throw new ConfigurationError('a journal store URL is sqlite://path or postgres://…');
  if (path === ':memory:') return new SqliteJournalStore({ path }); // one connection: a worker would see another database
  mkdirSync(dirname(path), { recursive: true });
  return new WorkerJournalStore({ path });
}
