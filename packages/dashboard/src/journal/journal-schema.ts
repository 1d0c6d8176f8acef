/**
 * The journal's schema version, which every store records with its tables (SQLite: the file's
 * `user_version`; PostgreSQL: the one row of `<table>_schema`) so that processes of different
 * versions sharing one journal do not undo each other's migrations.
 *
 * The versions:
 *
 * - **0**: nothing recorded: a journal written before versions were (its indexes are whatever the
 *   process that last opened it built: the full message-id index, or the partial one).
 * - **1**: the full message-id index (the first schema; never recorded, named for the history).
 * - **2**: the message-id index holds only rows whose id differs from their correlation id.
 *
 * The rule ({@link schemaStep}): a store migrates a journal whose recorded version is **lower** than
 * its own, in one transaction, and records its version; it changes **nothing** in a journal of its
 * own version or of a **newer** one (a newer process migrated it: its indexes are not this process's
 * to drop or rebuild), and writes and reads it as it is. So an older process that rebuilds an index
 * at every start (a process from before versions were recorded) and a newer one no longer flip it
 * between them: once the newer one has recorded its version, it leaves the journal alone. This
 * holds because a later schema may only add: nullable columns, tables and indexes; a row this
 * version writes and the queries it runs stay valid in every later schema.
 *
 * @example
 * ```ts
 * const step = schemaStep(db.pragma('user_version', { simple: true }) as number);
 * if (step === 'migrate') migrate(); // then record JOURNAL_SCHEMA_VERSION
 * ```
 * @module
 */

/** The schema version this package writes. */
export const JOURNAL_SCHEMA_VERSION = 2;

/** What a store does with a journal of the recorded version `found`: migrate it to its own version, or leave it as it is (its own, or newer). */
export function schemaStep(found: number): 'migrate' | 'current' | 'newer' {
  if (found < JOURNAL_SCHEMA_VERSION) return 'migrate';
  return found === JOURNAL_SCHEMA_VERSION ? 'current' : 'newer';
}
