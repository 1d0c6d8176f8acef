/**
 * The dead-letter queues of the SQLite transport: one table, rows per queue in dead-lettering
 * order. Replay moves a dead letter back to the end of its queue in one transaction per message.
 *
 * @example
 * ```ts
 * const letters = await transport.deadLetters.list('payment', { limit: 20 });
 * ```
 * @module
 */
import type { DeadLetter, DeadLetterFailure } from '@missive/core';
import type { DeadLetterStore } from '@missive/core/transport';
import { rowToMessage } from '@missive/core/transport'; // never throws: a dead letter may be there because its headers were unreadable
import type { SqliteConnection } from './sqlite-link.js';

interface Row {
  seq: number;
  queue: string;
  id: string;
  type: string;
  body: Buffer;
  headers: string;
  partition_key: string | null;
  failure: string;
}

function toDeadLetter(row: Row): DeadLetter {
  return {
    queue: row.queue,
    message: rowToMessage(row),
    failure: JSON.parse(row.failure) as DeadLetterFailure,
  };
}

/** The store. */
export class SqliteDeadLetters implements DeadLetterStore {
  constructor(private readonly transport: SqliteConnection) {}

  private get db() {
    return this.transport.db;
  }

  async list(queue: string, options?: { readonly limit?: number; readonly offset?: number }): Promise<DeadLetter[]> {
    const rows = this.db
      .prepare('select * from missive_dead_letters where queue = ? order by seq limit ? offset ?')
      .all(queue, options?.limit ?? -1, options?.offset ?? 0) as Row[];
    return rows.map(toDeadLetter);
  }

  async count(queue: string): Promise<number> {
    return (this.db.prepare('select count(*) n from missive_dead_letters where queue = ?').get(queue) as { n: number }).n;
  }

  async get(queue: string, id: string): Promise<DeadLetter | undefined> {
    const row = this.db.prepare('select * from missive_dead_letters where queue = ? and id = ? order by seq limit 1').get(queue, id) as
      Row | undefined;
    return row === undefined ? undefined : toDeadLetter(row);
  }

  async replay(queue: string, ids: readonly string[], headers: Readonly<Record<string, string>>): Promise<number> {
    const insert = this.db.prepare(
      'insert into missive_messages (queue, id, type, body, headers, partition_key) select queue, id, type, body, ?, partition_key from missive_dead_letters where queue = ? and id = ? order by seq',
    );
    const remove = this.db.prepare('delete from missive_dead_letters where queue = ? and id = ?');
    const text = JSON.stringify(headers);
    let moved = 0;
    for (const id of ids) {
      moved += await this.transport.withBusyRetry(() =>
        this.db
          .transaction(() => {
            const n = insert.run(text, queue, id).changes;
            if (n > 0) remove.run(queue, id);
            return n;
          })
          .immediate(),
      );
    }
    this.transport.wake();
    return moved;
  }

  async purge(queue: string, ids: readonly string[]): Promise<number> {
    const remove = this.db.prepare('delete from missive_dead_letters where queue = ? and id = ?');
    return this.transport.withBusyRetry(() =>
      this.db.transaction(() => ids.reduce((n, id) => n + remove.run(queue, id).changes, 0)).immediate(),
    );
  }
}
