/**
 * A SQLite journal store whose writes run on a worker thread ({@link openJournalStore} uses it for
 * `sqlite://` URLs): the service's event loop only hands each batch over — packed in a few flat
 * values: two typed arrays, one string and a small dictionary ({@link appendPacked}, what the journal uses) or as rows — and building the rows, the
 * inserts and the index updates run beside it. Every method is the SQLite store's, asked of the
 * worker.
 *
 * @example
 * ```ts
 * const store = new WorkerJournalStore({ path: '.missive/journal.db' });
 * await store.append(entries);
 * await store.close(); // ends the worker
 * ```
 * @module
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { PackedBatch } from './journal-batch.js';
import type { JournalEntry } from './journal-entry.js';
import type { JournalStore, RecentQuery } from './journal-store.js';

/** An error the worker reported. */
export class JournalWorkerError extends Error {
  override readonly name = 'JournalWorkerError';
}

/** The compiled worker: beside this module in dist/, or dist/ when this module runs from its source (tests). */
function workerFile(): URL {
  const beside = new URL('./journal-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  return new URL('../../dist/journal/journal-worker.js', import.meta.url);
}

/** A SQLite journal written from a worker thread. */
export class WorkerJournalStore implements JournalStore {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private next = 0;
  private closed: Promise<void> | undefined;

  constructor(options: { readonly path: string }) {
    this.worker = new Worker(workerFile(), { workerData: { path: options.path } });
    this.worker.on('message', (reply: { id: number; value?: unknown; error?: { name: string; message: string } }) => {
      const waiter = this.pending.get(reply.id);
      if (waiter === undefined) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) this.worker.unref();
      if (reply.error === undefined) waiter.resolve(reply.value);
      else waiter.reject(new JournalWorkerError(`${reply.error.name}: ${reply.error.message}`));
    });
    const fail = (error: Error) => {
      for (const waiter of this.pending.values())
        waiter.reject(new JournalWorkerError(`the journal worker stopped: ${error.message}`, { cause: error }));
      this.pending.clear();
      this.worker.unref();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
    // The worker keeps the process alive only while it has work to answer.
    this.worker.unref();
  }

  private ask<T>(op: string, ...args: unknown[]): Promise<T> {
    if (this.closed !== undefined) return Promise.reject(new JournalWorkerError('the journal store is closed'));
    return new Promise<T>((resolve, reject) => {
      const id = this.next++;
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.ref();
      this.worker.postMessage({ id, op, args });
    });
  }

  append(entries: readonly JournalEntry[]): Promise<void> {
    return entries.length === 0 ? Promise.resolve() : this.ask('append', entries);
  }

  /** Hands the packed batch over (a structured clone of two typed arrays, one string and a few words: memory copies); the worker builds the rows and inserts them. */
  appendPacked(batch: PackedBatch): Promise<void> {
    return batch.count === 0 ? Promise.resolve() : this.ask('appendPacked', batch);
  }

  conversation(query: string, options?: { readonly limit?: number }): Promise<JournalEntry[]> {
    return this.ask('conversation', query, options);
  }

  recent(query: RecentQuery): Promise<JournalEntry[]> {
    return this.ask('recent', query);
  }

  prune(options: { readonly before?: number; readonly keep?: number }): Promise<number> {
    return this.ask('prune', options);
  }

  count(): Promise<number> {
    return this.ask('count');
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      const id = this.next++;
      await new Promise<void>((resolve) => {
        this.pending.set(id, { resolve: () => resolve(), reject: () => resolve() });
        this.worker.ref();
        this.worker.postMessage({ id, op: 'close', args: [] });
      });
      await this.worker.terminate();
    })();
    return this.closed;
  }
}
