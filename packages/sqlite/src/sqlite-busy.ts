/**
 * Writes against a database other processes write too: a statement waits for the write lock
 * (`busy_timeout`), and a write still refused as busy is tried again with backoff, so a busy
 * database is never reported as a lost message. Other driver errors become Missive errors naming
 * the file (see `sqliteFailure`).
 *
 * @example
 * ```ts
 * await retryWhileBusy(() => insert.run(row), path, 'publish shop.order-placed');
 * ```
 * @module
 */
import { TransportError } from '@missive/core';
import { sqliteFailure } from './sqlite-failure.js';

const BUSY_ATTEMPTS = 12;

/** Whether the driver refused `error` because another connection holds the lock. */
export function isBusy(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code === 'SQLITE_BUSY_SNAPSHOT';
}

/** Options of {@link retryWhileBusy}. */
export interface BusyRetryOptions {
  /**
   * Whether an error other than busy becomes a Missive error naming the file (`sqliteFailure`).
   * Default true; the stores pass false, because a commit runs the application's own work, whose
   * errors (its own driver errors included) must reach it as they were thrown.
   */
  readonly nameErrors?: boolean;
}

/**
 * Runs `write`, trying again with backoff while the database stays busy past the busy timeout;
 * `doing` says what was being done, for the error message. Used by the transport and by the
 * message and event stores.
 */
export async function retryWhileBusy<T>(
  write: () => T,
  path: string,
  doing = 'write to the queue tables',
  options: BusyRetryOptions = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return write();
    } catch (error) {
      if (!isBusy(error)) throw options.nameErrors === false ? error : sqliteFailure(error, path, doing);
      if (attempt >= BUSY_ATTEMPTS)
        throw new TransportError(`cannot ${doing}: SQLite database ${path} stayed locked through ${attempt} attempts`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 10 * 2 ** attempt) * (0.5 + Math.random())));
    }
  }
}
