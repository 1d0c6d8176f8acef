/**
 * A `MessageStore` on SQLite (better-sqlite3): saga instances, the outbox and the inbox in tables of
 * the application's own database, so business writes commit with them in one transaction. Commits
 * run as `BEGIN IMMEDIATE` transactions, synchronously, as better-sqlite3 does; a busy database is
 * waited for (busy timeout) and retried, never reported as a lost write.
 *
 * Tables (created if missing): `missive_sagas`, `missive_outbox` (with each message's relay lease, see
 * `claimOutbox`), `missive_inbox`.
 *
 * @example
 * ```ts
 * const db = new Database('shop.db');
 * const store = new SqliteMessageStore({ database: db });
 * const outbox = bus.outbox(store);
 * await outbox.transaction((tx) => {
 *   tx.db.prepare('insert into orders (id) values (?)').run('o-1');
 *   tx.publish(OrderPlaced, { orderId: 'o-1', total: 30 });
 * });
 * ```
 * @module
 */
import Database from 'better-sqlite3';
import {
  ConcurrencyConflictError,
  ConfigurationError,
  type Commit,
  type CommitResult,
  type MessageStore,
  type OutboxLease,
  type OutboxRecord,
  type SagaListOptions,
  type SagaRecord,
  type SagaStatus,
} from '@missive/core';
import { rowToMessage } from '@missive/core/transport';
import { retryWhileBusy } from './sqlite-busy.js';

/** Options of {@link SqliteMessageStore}: one of `path` and `database`. */
export interface SqliteMessageStoreOptions {
  /** A database file to open (created if missing). */
  readonly path?: string;
  /** An open database shared with the application's own tables. The store does not close it. */
  readonly database?: Database.Database;
  /** `FULL` (default) or `NORMAL`; only applied to a database the store opens. */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /** How long a commit waits for another process's write lock, ms. Default 5000. */
  readonly busyTimeoutMs?: number;
}

interface SagaRow {
  saga: string;
  id: string;
  state: string;
  status: SagaStatus;
  version: number;
  timeouts: string;
  compensations: string;
  reason: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

interface OutboxRow {
  id: string;
  kind: 'topic' | 'queue';
  destination: string;
  mandatory: number;
  type: string;
  body: Buffer;
  headers: string;
  partition_key: string | null;
  not_before: number | null;
  schedule_id: string | null;
  created_at: number;
}

const SCHEMA = `
create table if not exists missive_sagas (
  saga text not null,
  id text not null,
  state text not null,
  status text not null,
  version integer not null,
  timeouts text not null,
  compensations text not null,
  reason text,
  created_at integer not null,
  updated_at integer not null,
  finished_at integer,
  primary key (saga, id)
) without rowid;
create index if not exists missive_sagas_status on missive_sagas (saga, status, created_at);
create table if not exists missive_outbox (
  seq integer primary key autoincrement,
  id text not null unique,
  kind text not null,
  destination text not null,
  mandatory integer not null,
  type text not null,
  body blob not null,
  headers text not null,
  partition_key text,
  not_before integer,
  schedule_id text,
  created_at integer not null
);
create table if not exists missive_inbox (
  endpoint text not null,
  message_id text not null,
  at integer not null,
  primary key (endpoint, message_id)
) without rowid;
create index if not exists missive_inbox_at on missive_inbox (at);
`;

/** The SQLite store. Its transaction handle (`Tx`) is the better-sqlite3 database. */
export class SqliteMessageStore implements MessageStore<Database.Database> {
  readonly kind = 'sqlite';
  readonly db: Database.Database;
  private readonly owned: boolean;
  private readonly statements: ReturnType<SqliteMessageStore['prepare']>;

  constructor(options: SqliteMessageStoreOptions) {
    if ((options.path === undefined) === (options.database === undefined)) {
      throw new ConfigurationError('SqliteMessageStore needs exactly one of { path } and { database }');
    }
    const synchronous = options.synchronous ?? 'FULL';
    if (synchronous !== 'FULL' && synchronous !== 'NORMAL')
      throw new ConfigurationError(`synchronous must be FULL or NORMAL, got ${String(synchronous)}`);
    this.owned = options.database === undefined;
    this.db = options.database ?? new Database(options.path);
    this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    if (this.owned) {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${synchronous}`);
    }
    this.db.exec(SCHEMA);
    this.migrateLeases();
    this.statements = this.prepare();
  }

  /**
   * Adds the outbox's lease columns to a table made before they existed (in an immediate
   * transaction: two processes opening one file at once add them once).
   */
  private migrateLeases(): void {
    const add = this.db.transaction(() => {
      const columns = (this.db.pragma('table_info(missive_outbox)') as { name: string }[]).map((c) => c.name);
      if (!columns.includes('lease_owner')) this.db.exec('alter table missive_outbox add column lease_owner text');
      if (!columns.includes('lease_until')) this.db.exec('alter table missive_outbox add column lease_until integer');
      this.db.exec('create index if not exists missive_outbox_destination on missive_outbox (kind, destination, seq)');
    });
    add.immediate(); // within the busy timeout, as the schema above
  }

  private prepare() {
    const db = this.db;
    return {
      inboxInsert: db.prepare('insert into missive_inbox (endpoint, message_id, at) values (?, ?, ?) on conflict do nothing'),
      inboxHas: db.prepare('select 1 from missive_inbox where endpoint = ? and message_id = ?'),
      inboxPurge: db.prepare('delete from missive_inbox where at < ?'),
      sagaInsert: db.prepare(
        `insert into missive_sagas (saga, id, state, status, version, timeouts, compensations, reason, created_at, updated_at, finished_at)
         values (@saga, @id, @state, @status, @version, @timeouts, @compensations, @reason, @created_at, @updated_at, @finished_at)
         on conflict do nothing`,
      ),
      sagaUpdate: db.prepare(
        `update missive_sagas set state = @state, status = @status, version = @version, timeouts = @timeouts, compensations = @compensations,
           reason = @reason, updated_at = @updated_at, finished_at = @finished_at
         where saga = @saga and id = @id and version = @expected`,
      ),
      sagaGet: db.prepare('select * from missive_sagas where saga = ? and id = ?'),
      sagaVersion: db.prepare('select version from missive_sagas where saga = ? and id = ?'),
      sagaList: db.prepare(
        'select * from missive_sagas where saga = @saga and (@status is null or status = @status) order by created_at, id limit @limit offset @offset',
      ),
      sagaDelete: db.prepare(
        "delete from missive_sagas where saga = ? and status != 'active' and finished_at is not null and finished_at < ?",
      ),
      outboxInsert: db.prepare(
        `insert into missive_outbox (id, kind, destination, mandatory, type, body, headers, partition_key, not_before, schedule_id, created_at, lease_owner, lease_until)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (id) do nothing`,
      ),
      outboxPending: db.prepare('select * from missive_outbox order by seq limit ?'),
      outboxDelete: db.prepare('delete from missive_outbox where id = ?'),
      outboxRenew: db.prepare('update missive_outbox set lease_until = @until where lease_owner = @owner'),
      // Its own, free or a lease run out (`take`: to lease), and no older message to its destination leased to another owner.
      outboxClaimable: db.prepare(
        `select o.*, (o.lease_owner is null or o.lease_until <= @now) as take from missive_outbox o
         where (o.lease_owner is null or o.lease_owner = @owner or o.lease_until <= @now)
           and not exists (select 1 from missive_outbox p where p.kind = o.kind and p.destination = o.destination and p.seq < o.seq
             and p.lease_owner is not null and p.lease_owner <> @owner and p.lease_until > @now)
         order by o.seq limit @limit`,
      ),
      outboxLease: db.prepare('update missive_outbox set lease_owner = ?, lease_until = ? where seq = ?'),
      outboxRelease: db.prepare('update missive_outbox set lease_owner = null, lease_until = null where lease_owner = ?'),
    };
  }

  async commit<T>(commit: Commit<Database.Database, T>): Promise<CommitResult<T>> {
    const s = this.statements;
    const run = this.db.transaction((): CommitResult<T> => {
      if (commit.inbox !== undefined) {
        const inserted = s.inboxInsert.run(commit.inbox.endpoint, commit.inbox.messageId, commit.inbox.at);
        if (inserted.changes === 0) return { duplicate: true };
      }
      const value = commit.work === undefined ? (undefined as T) : commit.work(this.db);
      if (value instanceof Promise) throw new TypeError('commit work must be synchronous: do async work before the commit');
      if (commit.saga !== undefined) this.saveSaga(commit.saga.record, commit.saga.expectedVersion);
      const records = typeof commit.outbox === 'function' ? commit.outbox() : (commit.outbox ?? []);
      for (const r of records) {
        s.outboxInsert.run(
          r.id,
          r.destination.kind,
          r.destination.name,
          r.destination.mandatory ? 1 : 0,
          r.message.type,
          Buffer.from(r.message.body.buffer, r.message.body.byteOffset, r.message.body.byteLength),
          JSON.stringify(r.message.headers),
          r.message.partitionKey ?? null,
          r.notBefore ?? null,
          r.scheduleId ?? null,
          r.createdAt,
          r.lease?.owner ?? null,
          r.lease?.until ?? null,
        );
      }
      return { duplicate: false, value };
    });
    return this.withBusyRetry(() => run.immediate());
  }

  private saveSaga(record: SagaRecord, expectedVersion: number): void {
    const s = this.statements;
    const row = {
      saga: record.saga,
      id: record.id,
      state: JSON.stringify(record.state),
      status: record.status,
      version: record.version,
      timeouts: JSON.stringify(record.timeouts),
      compensations: JSON.stringify(record.compensations),
      reason: record.reason ?? null,
      created_at: record.createdAt,
      updated_at: record.updatedAt,
      finished_at: record.finishedAt ?? null,
    };
    const changes = expectedVersion === 0 ? s.sagaInsert.run(row).changes : s.sagaUpdate.run({ ...row, expected: expectedVersion }).changes;
    if (changes === 0) {
      const current = s.sagaVersion.get(record.saga, record.id) as { version: number } | undefined;
      throw new ConcurrencyConflictError(
        `saga ${record.saga} instance ${record.id} is at version ${current?.version ?? 0}, expected ${expectedVersion}`,
      );
    }
  }

  async loadSaga(saga: string, id: string): Promise<SagaRecord | undefined> {
    const row = this.statements.sagaGet.get(saga, id) as SagaRow | undefined;
    return row === undefined ? undefined : toSaga(row);
  }

  async listSagas(saga: string, options: SagaListOptions = {}): Promise<SagaRecord[]> {
    const rows = this.statements.sagaList.all({
      saga,
      status: options.status ?? null,
      limit: options.limit ?? -1,
      offset: options.offset ?? 0,
    }) as SagaRow[];
    return rows.map(toSaga);
  }

  async deleteFinishedSagas(saga: string, finishedBefore: number): Promise<number> {
    return this.withBusyRetry(() => this.statements.sagaDelete.run(saga, finishedBefore).changes);
  }

  async pendingOutbox(limit: number): Promise<OutboxRecord[]> {
    return (this.statements.outboxPending.all(limit) as OutboxRow[]).map(toOutbox);
  }

  async claimOutbox(owner: string, limit: number, now: number, until: number): Promise<OutboxRecord[]> {
    if (limit <= 0) return [];
    const s = this.statements;
    type Row = LeasedRow & { seq: number; take: number };
    // Read first, the oldest rows as the relay read them before leases (the cheapest read): the
    // relay's own messages, leased at insert, need no write.
    const oldest = s.outboxPending.all(limit) as LeasedRow[];
    const view = ownView(oldest, owner, now);
    if (view !== undefined && (view.length === limit || oldest.length < limit)) return view.map(toOutbox);
    // Something to take over, or the oldest rows are others' and ours may lie past them: by query.
    const read = s.outboxClaimable.all({ owner, now, limit }) as Row[];
    if (!read.some((row) => row.take)) return read.map(toOutbox);
    // Something to take over: again in one immediate transaction, against other claims.
    const claim = this.db.transaction(() => {
      const rows = s.outboxClaimable.all({ owner, now, limit }) as Row[];
      for (const row of rows) if (row.take) s.outboxLease.run(owner, until, row.seq);
      return rows;
    });
    // The rows as read before the update: a taken row's lease is the one it had.
    return (await this.withBusyRetry(() => claim.immediate())).map((row) =>
      row.take ? { ...toOutbox(row), takenFrom: leaseOf(row) } : toOutbox(row),
    );
  }

  async renewOutbox(owner: string, until: number): Promise<void> {
    await this.withBusyRetry(() => this.statements.outboxRenew.run({ owner, until }));
  }

  async releaseOutbox(owner: string): Promise<void> {
    await this.withBusyRetry(() => this.statements.outboxRelease.run(owner));
  }

  async removeOutbox(ids: readonly string[]): Promise<void> {
    const remove = this.db.transaction((list: readonly string[]) => {
      for (const id of list) this.statements.outboxDelete.run(id);
    });
    await this.withBusyRetry(() => remove.immediate(ids));
  }

  async purgeInbox(before: number): Promise<number> {
    return this.withBusyRetry(() => this.statements.inboxPurge.run(before).changes);
  }

  async processed(endpoint: string, messageId: string): Promise<boolean> {
    return this.statements.inboxHas.get(endpoint, messageId) !== undefined;
  }

  async close(): Promise<void> {
    if (this.owned && this.db.open) this.db.close();
  }

  /** Runs a write, retrying with backoff while another process holds the lock past the busy timeout (see `retryWhileBusy`). */
  private withBusyRetry<T>(write: () => T): Promise<T> {
    return retryWhileBusy(write, this.db.name, 'write to the message store', { nameErrors: false });
  }
}

function toSaga(row: SagaRow): SagaRecord {
  return {
    saga: row.saga,
    id: row.id,
    state: JSON.parse(row.state) as unknown,
    status: row.status,
    version: row.version,
    timeouts: JSON.parse(row.timeouts) as SagaRecord['timeouts'],
    compensations: JSON.parse(row.compensations) as SagaRecord['compensations'],
    reason: row.reason ?? undefined,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at ?? undefined,
  };
}

/** An outbox row with its lease. */
type LeasedRow = OutboxRow & { lease_owner: string | null; lease_until: number | null };

/**
 * What `owner` may send of `rows` (the oldest outbox rows, in order) with no write: its own rows
 * with a running lease, past those to a destination with an older row leased (running) to another
 * owner. Undefined when some row is to be taken over (not leased, or its lease ended, and not held
 * back by another owner's older row): that needs a claim.
 */
function ownView(rows: readonly LeasedRow[], owner: string, now: number): LeasedRow[] | undefined {
  const own: LeasedRow[] = [];
  /** Destinations with an older row leased to another owner. */
  const blocked = new Set<string>();
  for (const row of rows) {
    const destination = `${row.kind}:${row.destination}`;
    const live = row.lease_owner !== null && row.lease_until !== null && row.lease_until > now;
    if (live && row.lease_owner !== owner) blocked.add(destination);
    else if (!blocked.has(destination)) {
      if (!live) return undefined;
      own.push(row);
    }
  }
  return own;
}

/** A row's lease, `null` if it has none. */
function leaseOf(row: LeasedRow): OutboxLease | null {
  return row.lease_owner === null || row.lease_until === null ? null : { owner: row.lease_owner, until: row.lease_until };
}

function toOutbox(row: OutboxRow): OutboxRecord {
  return {
    id: row.id,
    destination: { kind: row.kind, name: row.destination, mandatory: row.mandatory === 1 },
    message: rowToMessage(row),
    notBefore: row.not_before ?? undefined,
    scheduleId: row.schedule_id ?? undefined,
    createdAt: row.created_at,
  };
}
