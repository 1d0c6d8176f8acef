/**
 * Opening the transport's database file: the directory is created when `create` is set (otherwise
 * the file and its tables must already be there), the busy timeout set, WAL mode turned on and the
 * schema applied (retried while another process holds the write lock), then the `synchronous`
 * level set. Every failure is a typed error naming the path.
 *
 * @example
 * ```ts
 * const db = await openDatabase(resolveSqliteOptions({ path: '.missive/bus.db' }));
 * ```
 * @module
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { ConfigurationError, TransportError } from '@missive/core';
import { applySchema } from './schema.js';
import { retryWhileBusy } from './sqlite-busy.js';
import { sqliteFailure } from './sqlite-failure.js';
import type { ResolvedSqliteOptions } from './sqlite-options.js';

/** Opens (or creates) the database at `options.path` with the transport's tables and settings. */
export async function openDatabase(options: ResolvedSqliteOptions): Promise<Database.Database> {
  if (!options.create && !existsSync(options.path)) {
    throw new ConfigurationError(
      `no Missive bus at ${options.path}: the file does not exist (it is not created here; check the path, or start a service on it first)`,
    );
  }
  try {
    if (options.create) mkdirSync(dirname(options.path), { recursive: true });
  } catch (error) {
    throw new TransportError(`cannot create the directory of ${options.path}: ${(error as Error).message}`, {
      cause: error,
      retryable: false,
    });
  }
  let db: Database.Database;
  try {
    db = new Database(options.path, { fileMustExist: !options.create });
  } catch (error) {
    throw sqliteFailure(error, options.path, 'open the database');
  }
  try {
    db.pragma(`busy_timeout = ${options.busyTimeoutMs}`);
    if (
      !options.create &&
      db.prepare("select 1 from sqlite_master where type = 'table' and name = 'missive_messages'").get() === undefined
    ) {
      throw new ConfigurationError(`${options.path} is not a Missive bus: it has no transport tables (they are not created here)`);
    }
    await retryWhileBusy(
      () => {
        db.pragma('journal_mode = WAL');
        applySchema(db);
      },
      options.path,
      'create the transport tables',
    );
    db.pragma(`synchronous = ${options.synchronous}`);
  } catch (error) {
    db.close();
    throw sqliteFailure(error, options.path, 'open the database');
  }
  return db;
}
