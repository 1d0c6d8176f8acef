/**
 * Opens a journal store from a URL: `sqlite://path` (or a plain path) for the SQLite store, its
 * writes on a worker thread ({@link WorkerJournalStore}); `postgres://…` / `postgresql://…` for
 * PostgreSQL (its writes are I/O, already off the event loop). A PostgreSQL store that cannot be
 * opened fails with a `TransportError` naming the journal store and its URL without the password.
 *
 * @example
 * ```ts
 * const store = await openJournalStore('sqlite://.missive/journal.db');
 * ```
 * @module
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigurationError, TransportError, redactUrl } from '@missive/core';
import type { JournalStore } from './journal-store.js';
import { PostgresJournalStore } from './postgres-journal-store.js';
import { SqliteJournalStore } from './sqlite-journal-store.js';
import { WorkerJournalStore } from './worker-journal-store.js';

/** The store a URL names. */
export async function openJournalStore(url: string): Promise<JournalStore> {
  if (/^postgres(ql)?:\/\//.test(url)) {
    const shown = redactUrl(url);
    if (shown === '<unparseable URL>')
      throw new ConfigurationError('the journal store URL is not a URL: use postgres://user@host:5432/database (or sqlite://path)');
    try {
      return await PostgresJournalStore.open({ url });
    } catch (error) {
      if (error instanceof ConfigurationError) throw error;
      // Named, so an operator knows it is the journal (the bus may use PostgreSQL too); pg's message
      // never holds the password, and its error is not the cause (it may hold the connection string).
      throw new TransportError(`cannot open the journal store at ${shown}: ${(error as Error).message}`);
    }
  }
  const path = url.startsWith('sqlite://') ? url.slice('sqlite://'.length) : url;
  if (path === '' || /^[a-z][a-z0-9+.-]*:\/\//i.test(path))
    throw new ConfigurationError('a journal store URL is sqlite://path or postgres://…');
  if (path === ':memory:') return new SqliteJournalStore({ path }); // one connection: a worker would see another database
  mkdirSync(dirname(path), { recursive: true });
  return new WorkerJournalStore({ path });
}
