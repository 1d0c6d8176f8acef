/**
 * The PostgreSQL journal store, for services that already share a PostgreSQL database: the same
 * tables and indexes as the SQLite store, written by multi-row inserts (one statement per batch).
 * Needs the `pg` package (an optional peer dependency).
 *
 * @example
 * ```ts
 * const store = await PostgresJournalStore.open({ url: 'postgres://postgres@127.0.0.1:5432/app' });
 * ```
 * @module
 */
import { ConfigurationError } from '@missive/core';
import type { JournalEntry } from './journal-entry.js';
import { COLUMNS, CONVERSATION_LIMIT, entryFromRow, MAX_TRANSACTIONS, valuesOf, type Row } from './journal-rows.js';
import { JOURNAL_SCHEMA_VERSION, schemaStep } from './journal-schema.js';
import type { JournalStore, RecentQuery } from './journal-store.js';

/** The part of a `pg` pool the store uses. */
export interface PgPool {
  query(text: string, values?: unknown[]): Promise<{ rows: Row[]; rowCount: number | null }>;
  end(): Promise<void>;
}

/** Options of {@link PostgresJournalStore.open}. */
export interface PostgresJournalStoreOptions {
  /** A `postgres://` URL; or give `pool`. */
  readonly url?: string;
  readonly pool?: PgPool;
  /** The table name prefix (default `missive_journal`), for several journals in one schema. */
  readonly table?: string;
}

const NAME = /^[a-z_][a-z0-9_]{0,40}$/;
/** Rows per insert statement: 20 columns each stays under PostgreSQL's 65535 parameters. */
const ROWS_PER_INSERT = 1000;

/** The journal in PostgreSQL tables. */
export class PostgresJournalStore implements JournalStore {
  private constructor(
    private readonly pool: PgPool,
    private readonly table: string,
    private readonly ownsPool: boolean,
  ) {}

  /** Connects (with `pg` when given a URL) and creates the tables and indexes when missing. */
  static async open(options: PostgresJournalStoreOptions): Promise<PostgresJournalStore> {
    const table = options.table ?? 'missive_journal';
    if (!NAME.test(table))
      throw new ConfigurationError(`journal table name ${JSON.stringify(table)} is not valid: lower-case letters, digits and _`);
    let pool = options.pool;
    if (pool === undefined) {
      if (options.url === undefined) throw new ConfigurationError('PostgresJournalStore needs a url or a pool');
      const pg = (await import('pg')).default;
      const owned = new pg.Pool({ connectionString: options.url, max: 4 });
      // An idle connection lost (a server restart): the pool emits `error`, which with no listener
      // crashes the process; the next write gets a new connection, and a failing write is retried.
      owned.on('error', () => undefined);
      pool = owned;
    }
    const store = new PostgresJournalStore(pool, table, options.pool === undefined);
    await store.migrate();
    return store;
  }

  /**
   * Creates the tables and indexes, or brings a journal of an older schema version to this one,
   * and records the version in `<table>_schema`; leaves a journal of this version or a newer one as
   * it is (`journal-schema.ts`). One transaction, under a lock on the version table, so processes
   * starting together migrate once.
   */
  private async migrate(): Promise<void> {
    const t = this.table;
    await this.pool.query(`create table if not exists ${t}_schema (version integer not null)`);
    const { rows } = await this.pool.query(`select coalesce(max(version), 0)::int as version from ${t}_schema`);
    if (schemaStep(Number(rows[0]?.version ?? 0)) !== 'migrate') return;
    const ddl = `
      create table if not exists ${t} (
        seq bigserial primary key,
        at bigint not null, sent_at bigint, message_id text not null, type text not null, kind text, source text,
        service text not null, endpoint text not null, instance text not null,
        correlation_id text, causation_id text, conversation_id text, trace_id text,
        attempt integer not null, outcome text not null, duration_ms double precision not null,
        reason text, error text, replayed integer not null default 0, payload text
      );
      drop index if exists ${t}_message;
      create index if not exists ${t}_message_id on ${t} (message_id) where message_id <> correlation_id;
      create index if not exists ${t}_correlation on ${t} (correlation_id);
      create index if not exists ${t}_conversation on ${t} (conversation_id) where conversation_id <> correlation_id;
      create index if not exists ${t}_at on ${t} (at);
      create table if not exists ${t}_keys (value text not null, seq bigint not null);
      create index if not exists ${t}_keys_value on ${t}_keys (value);
      create index if not exists ${t}_keys_seq on ${t}_keys (seq);
      delete from ${t}_schema;
      insert into ${t}_schema (version) values (${JOURNAL_SCHEMA_VERSION});`;
    // One simple query: one transaction. The version is read again under the lock.
    await this.pool.query(`
      lock table ${t}_schema in exclusive mode;
      do $migrate$ begin
        if coalesce((select max(version) from ${t}_schema), 0) < ${JOURNAL_SCHEMA_VERSION} then
          execute $ddl$ ${ddl} $ddl$;
        end if;
      end $migrate$;`);
  }

  async append(entries: readonly JournalEntry[]): Promise<void> {
    for (let i = 0; i < entries.length; i += ROWS_PER_INSERT) await this.appendSome(entries.slice(i, i + ROWS_PER_INSERT));
  }

  private async appendSome(entries: readonly JournalEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const values: unknown[] = [];
    const tuples = entries.map((entry) => {
      const start = values.length;
      values.push(...valuesOf(entry));
      return `(${COLUMNS.map((_, i) => `$${start + i + 1}`).join(',')})`;
    });
    const keyed = entries.map((e, i) => ({ i, keys: e.keys })).filter((e) => e.keys.length > 0);
    const insert = `insert into ${this.table} (${COLUMNS.join(', ')}) values ${tuples.join(',')} returning seq`;
    if (keyed.length === 0) {
      await this.pool.query(insert, values);
      return;
    }
    // One statement: the rows, then their keys joined to the returned seqs by position.
    const keyValues: string[] = [];
    const keyIndexes: number[] = [];
    for (const { i, keys } of keyed) {
      for (const key of keys) {
        keyValues.push(key);
        keyIndexes.push(i + 1);
      }
    }
    const n = values.length;
    await this.pool.query(
      `with inserted as (${insert}), numbered as (select seq, row_number() over (order by seq) as i from inserted)
       insert into ${this.table}_keys (value, seq) select k.value, numbered.seq from unnest($${n + 1}::text[], $${n + 2}::int[]) as k(value, i) join numbered on numbered.i = k.i`,
      [...values, keyValues, keyIndexes],
    );
  }

  async conversation(query: string, options: { readonly limit?: number } = {}): Promise<JournalEntry[]> {
    const t = this.table;
    const { rows } = await this.pool.query(
      `with hits(correlation_id) as (
         select correlation_id from ${t} where message_id = $1 and message_id <> correlation_id
         union select correlation_id from ${t} where correlation_id = $1
         union select correlation_id from ${t} where conversation_id = $1 and conversation_id <> correlation_id
         union select j.correlation_id from ${t}_keys k join ${t} j on j.seq = k.seq where k.value = $1
       )
       select * from ${t} where correlation_id in (select correlation_id from hits where correlation_id is not null limit ${MAX_TRANSACTIONS})
       order by coalesce(sent_at, at), seq limit $2`,
      [query, options.limit ?? CONVERSATION_LIMIT],
    );
    return rows.map(entryFromRow);
  }

  async recent(query: RecentQuery): Promise<JournalEntry[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.afterSeq !== undefined) where.push(`seq > $${params.push(query.afterSeq)}`);
    if (query.outcome !== undefined) where.push(`outcome = $${params.push(query.outcome)}`);
    const sql = `select * from ${this.table} ${where.length === 0 ? '' : `where ${where.join(' and ')}`} order by seq desc limit $${params.push(query.limit)}`;
    return (await this.pool.query(sql, params)).rows.map(entryFromRow);
  }

  async prune(options: { readonly before?: number; readonly keep?: number }): Promise<number> {
    const t = this.table;
    let removed = 0;
    if (options.before !== undefined) removed += (await this.pool.query(`delete from ${t} where at < $1`, [options.before])).rowCount ?? 0;
    if (options.keep !== undefined) {
      const { rows } = await this.pool.query(`select seq from ${t} order by seq desc limit 1 offset $1`, [options.keep]);
      if (rows[0] !== undefined) removed += (await this.pool.query(`delete from ${t} where seq <= $1`, [rows[0].seq])).rowCount ?? 0;
    }
    await this.pool.query(`delete from ${t}_keys where seq < coalesce((select min(seq) from ${t}), 9223372036854775807)`);
    return removed;
  }

  async count(): Promise<number> {
    const { rows } = await this.pool.query(`select count(*)::int as n from ${this.table}`);
    return Number(rows[0]?.n ?? 0);
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }
}
