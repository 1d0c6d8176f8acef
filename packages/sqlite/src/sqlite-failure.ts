/**
 * Turns what the SQLite driver throws into Missive errors: each names the database file, says what
 * to do, and says whether trying again can help (`retryable`). A full disk is retryable (free space
 * and it works again); a file that is not a database, a read-only file or a damaged one is not.
 *
 * @example
 * ```ts
 * try { db.exec(sql); } catch (error) { throw sqliteFailure(error, path, 'publish'); }
 * ```
 * @module
 */
import { MissiveError, TransportError } from '@missive/core';

/** The Missive error for `error`, thrown while the transport tried `doing` on the database at `path`. */
export function sqliteFailure(error: unknown, path: string, doing: string): MissiveError {
  if (error instanceof MissiveError) return error;
  const raw = (error as { code?: unknown }).code;
  const code = typeof raw === 'string' ? raw : '';
  const detail = (error as Error).message ?? String(error);
  const options = (retryable: boolean) => ({ cause: error, retryable });
  if (code === 'SQLITE_FULL') {
    return new TransportError(
      `cannot ${doing}: the disk holding SQLite database ${path} is full (${detail}); free space there and Missive goes on`,
      options(true),
    );
  }
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new TransportError(
      `cannot ${doing}: ${path} is not a SQLite database or is damaged (${detail}); restore it from a backup, or point the transport at a new file`,
      options(false),
    );
  }
  if (code.startsWith('SQLITE_READONLY') || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH') {
    return new TransportError(
      `cannot ${doing}: SQLite database ${path} cannot be written (${detail}); check the permissions of the file and its directory, and that the file system is not read-only`,
      options(false),
    );
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    return new TransportError(
      `cannot ${doing}: SQLite database ${path} cannot be opened (${detail}); check that its directory exists and can be written`,
      options(false),
    );
  }
  if (code.startsWith('SQLITE_IOERR')) {
    return new TransportError(`cannot ${doing}: I/O error on SQLite database ${path} (${detail}); check the disk`, options(true));
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new TransportError(`cannot ${doing}: SQLite database ${path} stayed locked by another process (${detail})`, options(true));
  }
  return new TransportError(`cannot ${doing} on SQLite database ${path}: ${detail}`, options(false));
}
