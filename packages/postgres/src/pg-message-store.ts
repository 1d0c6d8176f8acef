/**
 * A `MessageStore` on PostgreSQL: saga instances, the outbox and the inbox in tables of the
 * application's own database, so business writes commit with them in one transaction.
 *
 * A commit takes a connection from the pool, opens a transaction, records the inbox entry (a
 * duplicate ends it there), runs `work` with a {@link PgTx}, saves the saga with its version check,
 * appends the outbox rows, and commits. `work` may be asynchronous; a synchronous one (as core's
 * `outbox.transaction` requires) may issue `tx.query(...)` without awaiting: the commit waits for
 * every statement issued through `tx`, and any failure rolls everything back.
 *
 * To join a transaction the application opened itself, see `PostgresOutbox`.
 *
 * @example
 * ```ts
 * const store = new PostgresMessageStore({ connectionString: 'postgres://app@db/shop' });
 * const outbox = bus.outbox(store);
 * await outbox.transaction((tx) => {
 *   void tx.db.query('insert into orders (id) values ($1)', ['o-1']);
 *   tx.publish(OrderPlaced, { orderId: 'o-1', total: 30 });
 * });
 * ```
 * @module
 */
import pg from 'pg';
import {
  ConcurrencyConflictError,
  TransportError,
  type Commit,
  type CommitResult,
  type MessageStore,
  type OutboxRecord,
  type SagaListOptions,
  type SagaRecord,
  type SagaStatus,
} from '@missive/core';
import { rowToMessage } from '@missive/core/transport';
import { checkIdentifier } from './pg-options.js';
import { ident, migrate } from './schema.js';
import { STORE_MIGRATIONS } from './store-schema.js';
import { guardClientErrors } from './pg-client-errors.js';

/** What business writes receive inside a commit: the transaction's connection. */
export interface PgTx {
  /** The connection holding the transaction (for statements you await yourself). */
  readonly client: pg.ClientBase;
  /** Runs a statement in the transaction. The commit waits for it, so synchronous work need not await. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** Options of {@link PostgresMessageStore}: one of `pool` and `connectionString`. */
export interface PostgresMessageStoreOptions {
  /** The application's pool; the store does not end it. */
  readonly pool?: pg.Pool;
  /** Or a connection string; the store opens (and ends) its own pool. */
  readonly connectionString?: string;
  /** Schema of the store's tables (created if missing). Default `missive`. */
  readonly schema?: string;
}

interface SagaRow {
  saga: string;
  id: string;
  state: unknown;
  status: SagaStatus;
  version: number;
  timeouts: SagaRecord['timeouts'];
  compensations: SagaRecord['compensations'];
  reason: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

interface OutboxRow {
  id: string;
  kind: 'topic' | 'queue';
  destination: string;
  mandatory: boolean;
  type: string;
  body: Buffer;
  headers: string;
  partition_key: string | null;
  not_before: string | null;
  schedule_id: string | null;
  created_at: string;
}

/** The PostgreSQL store. Its transaction handle (`Tx`) is a {@link PgTx}. */
export class PostgresMessageStore implements MessageStore<PgTx> {
  readonly kind = 'postgres';
  readonly pool: pg.Pool;
  /** The schema of the store's tables. */
  readonly schema: string;
  private readonly owned: boolean;
  private ready: Promise<void> | undefined;
  private readonly t: { sagas: string; outbox: string; inbox: string };

  constructor(options: PostgresMessageStoreOptions) {
    if ((options.pool === undefined) === (options.connectionString === undefined)) {
      throw new TransportError('PostgresMessageStore needs exactly one of { pool } and { connectionString }', { retryable: false });
    }
    this.schema = checkIdentifier(options.schema ?? 'missive', 'schema');
    this.owned = options.pool === undefined;
    this.pool = options.pool ?? new pg.Pool({ connectionString: options.connectionString, max: 5 });
    if (this.owned) guardClientErrors(this.pool).on('error', () => undefined); // a lost idle connection; the next query gets a new one
    const s = ident(this.schema);
    this.t = { sagas: `${s}.sagas`, outbox: `${s}.outbox`, inbox: `${s}.inbox` };
  }

  /** Creates or migrates the tables (once; every method calls it). */
  init(): Promise<void> {
    this.ready ??= (async () => {
      const client = await this.pool.connect();
      try {
        await migrate(client, this.schema, STORE_MIGRATIONS);
      } finally {
        client.release();
      }
    })().catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  /** The inbox insert: `$1` endpoint, `$2` message id, `$3` time. One row when it was new. */
  get inboxInsertSql(): string {
    return `insert into ${this.t.inbox} (endpoint, message_id, at) values ($1, $2, $3::bigint) on conflict do nothing`;
  }

  /**
   * The outbox insert for one record, with every value as text (so any driver can run it).
   * `$1` id … `$11` created at, `$12` lease owner, `$13` lease until; see {@link outboxValues}.
   */
  get outboxInsertSql(): string {
    return `insert into ${this.t.outbox} (id, kind, destination, mandatory, type, body, headers, partition_key, not_before, schedule_id, created_at, lease_owner, lease_until)
      values ($1, $2, $3, $4::boolean, $5, decode($6, 'base64'), $7, $8, $9::bigint, $10, $11::bigint, $12, $13::bigint) on conflict (id) do nothing`;
  }

  async commit<T>(commit: Commit<PgTx, T>): Promise<CommitResult<T>> {
    await this.init();
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('begin');
      if (commit.inbox !== undefined) {
        const inserted = await client.query(this.inboxInsertSql, [commit.inbox.endpoint, commit.inbox.messageId, commit.inbox.at]);
        if (inserted.rowCount === 0) {
          await client.query('rollback');
          return { duplicate: true };
        }
      }
      const issued: Promise<unknown>[] = [];
      const tx: PgTx = {
        client,
        query: (text, values) => {
          const result = client.query(text, values);
          result.catch(() => undefined); // seen below, after the work
          issued.push(result);
          return result;
        },
      };
      const value = commit.work === undefined ? (undefined as T) : await commit.work(tx);
      const failed = (await Promise.allSettled(issued)).find((r) => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      if (commit.saga !== undefined) await this.saveSaga(client, commit.saga.record, commit.saga.expectedVersion);
      const records = typeof commit.outbox === 'function' ? commit.outbox() : (commit.outbox ?? []);
      for (const r of records) await client.query(this.outboxInsertSql, outboxValues(r));
      await client.query('commit');
      return { duplicate: false, value };
    } catch (error) {
      await client.query('rollback').catch((e: unknown) => (broken = e as Error));
      throw error;
    } finally {
      client.release(broken);
    }
  }

  private async saveSaga(client: pg.ClientBase, record: SagaRecord, expectedVersion: number): Promise<void> {
    const values = [
      record.saga,
      record.id,
      JSON.stringify(record.state),
      record.status,
      record.version,
      JSON.stringify(record.timeouts),
      JSON.stringify(record.compensations),
      record.reason ?? null,
      record.createdAt,
      record.updatedAt,
      record.finishedAt ?? null,
    ];
    const result =
      expectedVersion === 0
        ? await client.query(
            `insert into ${this.t.sagas} (saga, id, state, status, version, timeouts, compensations, reason, created_at, updated_at, finished_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) on conflict do nothing`,
            values,
          )
        : await client.query(
            `update ${this.t.sagas} set state = $3, status = $4, version = $5, timeouts = $6, compensations = $7, reason = $8, updated_at = $9, finished_at = $10
             where saga = $1 and id = $2 and version = $11`,
            [...values.slice(0, 8), ...values.slice(9), expectedVersion],
          );
    if (result.rowCount === 0) {
      const current = await client.query<{ version: number }>(`select version from ${this.t.sagas} where saga = $1 and id = $2`, [
        record.saga,
        record.id,
      ]);
      throw new ConcurrencyConflictError(
        `saga ${record.saga} instance ${record.id} is at version ${current.rows[0]?.version ?? 0}, expected ${expectedVersion}`,
      );
    }
  }

  async loadSaga(saga: string, id: string): Promise<SagaRecord | undefined> {
    await this.init();
    const { rows } = await this.pool.query<SagaRow>(`select * from ${this.t.sagas} where saga = $1 and id = $2`, [saga, id]);
    return rows[0] === undefined ? undefined : toSaga(rows[0]);
  }

  async listSagas(saga: string, options: SagaListOptions = {}): Promise<SagaRecord[]> {
    await this.init();
    const { rows } = await this.pool.query<SagaRow>(
      `select * from ${this.t.sagas} where saga = $1 and ($2::text is null or status = $2) order by created_at, id limit $3 offset $4`,
      [saga, options.status ?? null, options.limit ?? null, options.offset ?? 0],
    );
    return rows.map(toSaga);
  }

  async deleteFinishedSagas(saga: string, finishedBefore: number): Promise<number> {
    await this.init();
    const { rowCount } = await this.pool.query(
      `delete from ${this.t.sagas} where saga = $1 and status <> 'active' and finished_at is not null and finished_at < $2`,
      [saga, finishedBefore],
    );
    return rowCount ?? 0;
  }

  /** The oldest outbox rows, leased or not (relays claim, see {@link claimOutbox}). */
  async pendingOutbox(limit: number): Promise<OutboxRecord[]> {
    await this.init();
    const { rows } = await this.pool.query<OutboxRow>(`select * from ${this.t.outbox} order by seq limit $1`, [limit]);
    return rows.map(toOutbox);
  }

  /**
   * The rows a relay may send (see `MessageStore.claimOutbox`): read first; only when there are rows
   * to take over, claimed again in a transaction. Such claims on one store take turns (a
   * transaction-scoped advisory lock per schema), so the "no older row to the destination leased to
   * another relay" check cannot race another claim.
   */
  async claimOutbox(owner: string, limit: number, now: number, until: number): Promise<OutboxRecord[]> {
    if (limit <= 0) return [];
    await this.init();
    type Row = OutboxRow & { seq: string; take: boolean; lease_owner: string | null; lease_until: string | null };
    const claimable = `select o.*, (o.lease_owner is null or o.lease_until <= $2) as take from ${this.t.outbox} o
      where (o.lease_owner is null or o.lease_owner = $1 or o.lease_until <= $2)
        and not exists (select 1 from ${this.t.outbox} p where p.kind = o.kind and p.destination = o.destination and p.seq < o.seq
          and p.lease_owner <> $1 and p.lease_until > $2)
      order by o.seq limit $3`;
    const read = await this.pool.query<Row>(claimable, [owner, now, limit]);
    if (!read.rows.some((row) => row.take)) return read.rows.map(toOutbox);
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('begin');
      await client.query('select pg_advisory_xact_lock(hashtext($1))', [`missive-outbox-claim:${this.schema}`]);
      const { rows } = await client.query<Row>(claimable, [owner, now, limit]);
      const taken = rows.filter((row) => row.take).map((row) => row.seq);
      await client.query(`update ${this.t.outbox} set lease_owner = $1, lease_until = $2 where seq = any($3::bigint[])`, [
        owner,
        until,
        taken,
      ]);
      await client.query('commit');
      // The rows as read before the update: a taken row's lease is the one it had.
      return rows.map((row) => {
        if (!row.take) return toOutbox(row);
        const had =
          row.lease_owner === null || row.lease_until === null ? null : { owner: row.lease_owner, until: Number(row.lease_until) };
        return { ...toOutbox(row), takenFrom: had };
      });
    } catch (error) {
      await client.query('rollback').catch((e: unknown) => (broken = e as Error));
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async renewOutbox(owner: string, until: number): Promise<void> {
    await this.init();
    await this.pool.query(`update ${this.t.outbox} set lease_until = $2 where lease_owner = $1`, [owner, until]);
  }

  async releaseOutbox(owner: string): Promise<void> {
    await this.init();
    await this.pool.query(`update ${this.t.outbox} set lease_owner = null, lease_until = null where lease_owner = $1`, [owner]);
  }

  async removeOutbox(ids: readonly string[]): Promise<void> {
    await this.init();
    await this.pool.query(`delete from ${this.t.outbox} where id = any($1::text[])`, [[...ids]]);
  }

  async purgeInbox(before: number): Promise<number> {
    await this.init();
    const { rowCount } = await this.pool.query(`delete from ${this.t.inbox} where at < $1`, [before]);
    return rowCount ?? 0;
  }

  async processed(endpoint: string, messageId: string): Promise<boolean> {
    await this.init();
    const { rowCount } = await this.pool.query(`select 1 from ${this.t.inbox} where endpoint = $1 and message_id = $2`, [
      endpoint,
      messageId,
    ]);
    return (rowCount ?? 0) > 0;
  }

  async close(): Promise<void> {
    if (this.owned) await this.pool.end().catch(() => undefined);
  }
}

/** The values of {@link PostgresMessageStore.outboxInsertSql} for a record: strings or null only. */
export function outboxValues(r: OutboxRecord): (string | null)[] {
  return [
    r.id,
    r.destination.kind,
    r.destination.name,
    String(r.destination.mandatory),
    r.message.type,
    Buffer.from(r.message.body.buffer, r.message.body.byteOffset, r.message.body.byteLength).toString('base64'),
    JSON.stringify(r.message.headers),
    r.message.partitionKey ?? null,
    r.notBefore === undefined ? null : String(r.notBefore),
    r.scheduleId ?? null,
    String(r.createdAt),
    r.lease?.owner ?? null,
    r.lease === undefined ? null : String(r.lease.until),
  ];
}

function toSaga(row: SagaRow): SagaRecord {
  return {
    saga: row.saga,
    id: row.id,
    state: row.state,
    status: row.status,
    version: row.version,
    timeouts: row.timeouts,
    compensations: row.compensations,
    reason: row.reason ?? undefined,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    finishedAt: row.finished_at === null ? undefined : Number(row.finished_at),
  };
}

function toOutbox(row: OutboxRow): OutboxRecord {
  return {
    id: row.id,
    destination: { kind: row.kind, name: row.destination, mandatory: row.mandatory },
    message: rowToMessage(row),
    notBefore: row.not_before === null ? undefined : Number(row.not_before),
    scheduleId: row.schedule_id ?? undefined,
    createdAt: Number(row.created_at),
  };
}
