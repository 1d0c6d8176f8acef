/**
 * The dead-letter queues of the PostgreSQL transport: one table, rows per queue in dead-lettering
 * order, each with its failure as JSON. Replay moves a dead letter back to the end of its queue in
 * one statement per message (it is never in both places, nor in neither).
 *
 * @example
 * ```ts
 * const letters = await transport.deadLetters.list('payment', { limit: 20 });
 * ```
 * @module
 */
import type { DeadLetter, DeadLetterFailure } from '@missive/core';
import { rowToMessage, type DeadLetterStore } from '@missive/core/transport';
import type pg from 'pg';
import { ident } from './schema.js';

interface Row {
  queue: string;
  id: string;
  type: string;
  body: Buffer;
  headers: string;
  partition_key: string | null;
  failure: string;
}

function toDeadLetter(row: Row): DeadLetter {
  return { queue: row.queue, message: rowToMessage(row), failure: JSON.parse(row.failure) as DeadLetterFailure };
}

/** What the store needs from its transport (`PostgresTransport` is one). */
export interface DeadLetterConnection {
  readonly options: { readonly schema: string };
  /** Runs one statement on the transport's pool. */
  run<R extends pg.QueryResultRow>(statement: string, values: unknown[]): Promise<pg.QueryResult<R>>;
  /** Wakes the consumers of `queue` (a replayed message is there). */
  notify(queue: string): void;
}

/** The store. */
export class PostgresDeadLetters implements DeadLetterStore {
  private readonly table: string;
  private readonly messages: string;

  constructor(private readonly transport: DeadLetterConnection) {
    this.table = `${ident(transport.options.schema)}.dead_letters`;
    this.messages = `${ident(transport.options.schema)}.messages`;
  }

  async list(queue: string, options?: { readonly limit?: number; readonly offset?: number }): Promise<DeadLetter[]> {
    const { rows } = await this.transport.run<Row>(
      `select * from ${this.table} where queue = $1 order by message_seq, seq limit $2 offset $3`,
      [queue, options?.limit ?? null, options?.offset ?? 0],
    );
    return rows.map(toDeadLetter);
  }

  async count(queue: string): Promise<number> {
    const { rows } = await this.transport.run<{ n: string }>(`select count(*) n from ${this.table} where queue = $1`, [queue]);
    return Number(rows[0]?.n ?? 0);
  }

  async get(queue: string, id: string): Promise<DeadLetter | undefined> {
    const { rows } = await this.transport.run<Row>(
      `select * from ${this.table} where queue = $1 and id = $2 order by message_seq, seq limit 1`,
      [queue, id],
    );
    return rows[0] === undefined ? undefined : toDeadLetter(rows[0]);
  }

  async replay(queue: string, ids: readonly string[], headers: Readonly<Record<string, string>>): Promise<number> {
    const text = JSON.stringify(headers);
    let moved = 0;
    for (const id of ids) {
      const { rows } = await this.transport.run<{ queue: string }>(
        `with d as (delete from ${this.table} where queue = $1 and id = $2 returning message_seq, seq, queue, id, type, body, partition_key),
         ins as (insert into ${this.messages} (queue, id, type, body, headers, partition_key) select queue, id, type, body, $3, partition_key from d order by message_seq, seq returning queue)
         select queue from ins`,
        [queue, id, text],
      );
      moved += rows.length;
    }
    if (moved > 0) this.transport.notify(queue);
    return moved;
  }

  async purge(queue: string, ids: readonly string[]): Promise<number> {
    const { rowCount } = await this.transport.run(`delete from ${this.table} where queue = $1 and id = any($2::text[])`, [queue, [...ids]]);
    return rowCount ?? 0;
  }
}
