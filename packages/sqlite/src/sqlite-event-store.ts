/**
 * An `EventStore` (`@missive/eventsourcing`) on SQLite: events, snapshots and projection
 * checkpoints in tables of one database file, shared by several processes (WAL). An append is one
 * `BEGIN IMMEDIATE` transaction that checks the stream's version and inserts the events, so
 * positions (the table's rowid) follow commit order and a `readAll` reader never skips an event.
 * Opened like {@link SqliteMessageStore}: a `path`, or an application's open `database`.
 *
 * Tables (created if missing): `missive_events`, `missive_snapshots`, `missive_checkpoints`.
 *
 * @example
 * ```ts
 * const store = new SqliteEventStore({ path: 'history.db' });
 * await Delivery.execute(store, 'd-1', { kind: 'request', to: 'A' });
 * ```
 * @module
 */
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { ConfigurationError } from '@missive/core';
import {
  ConcurrencyError,
  checkAppend,
  type AppendResult,
  type EventStore,
  type ExpectedVersion,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type Snapshot,
} from '@missive/eventsourcing';
import { retryWhileBusy } from './sqlite-busy.js';
import type { SqliteMessageStoreOptions } from './sqlite-message-store.js';

/** Options of {@link SqliteEventStore}: the same as the message store's (one of `path` and `database`). */
export type SqliteEventStoreOptions = SqliteMessageStoreOptions;

interface EventRow {
  position: number;
  id: string;
  stream: string;
  version: number;
  type: string;
  data: string;
  metadata: string;
  at: number;
}

const SCHEMA = `
create table if not exists missive_events (
  position integer primary key autoincrement,
  id text not null unique,
  stream text not null,
  version integer not null,
  type text not null,
  data text not null,
  metadata text not null,
  at integer not null,
  unique (stream, version)
);
create table if not exists missive_snapshots (
  stream text primary key,
  version integer not null,
  state text not null
) without rowid;
create table if not exists missive_checkpoints (
  name text primary key,
  position integer not null
) without rowid;
`;

/** The SQLite event store. */
export class SqliteEventStore implements EventStore {
  readonly db: Database.Database;
  private readonly owned: boolean;
  private readonly statements: ReturnType<SqliteEventStore['prepare']>;
  private readonly now: () => number;

  constructor(options: SqliteEventStoreOptions & { readonly now?: () => number }) {
    if ((options.path === undefined) === (options.database === undefined)) {
      throw new ConfigurationError('SqliteEventStore needs exactly one of { path } and { database }');
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
    this.statements = this.prepare();
    this.now = options.now ?? Date.now;
  }

  private prepare() {
    const db = this.db;
    return {
      version: db.prepare('select coalesce(max(version), 0) as v, coalesce(max(position), 0) as p from missive_events where stream = ?'),
      insert: db.prepare('insert into missive_events (id, stream, version, type, data, metadata, at) values (?, ?, ?, ?, ?, ?, ?)'),
      readStream: db.prepare('select * from missive_events where stream = ? and version >= ? order by version limit ?'),
      readAll: db.prepare('select * from missive_events where position > ? order by position limit ?'),
      snapshotPut: db.prepare(
        'insert into missive_snapshots (stream, version, state) values (?, ?, ?) on conflict (stream) do update set version = excluded.version, state = excluded.state',
      ),
      snapshotGet: db.prepare('select version, state from missive_snapshots where stream = ?'),
      checkpointPut: db.prepare(
        'insert into missive_checkpoints (name, position) values (?, ?) on conflict (name) do update set position = excluded.position',
      ),
      checkpointGet: db.prepare('select position from missive_checkpoints where name = ?'),
    };
  }

  async append(stream: string, events: readonly NewEvent[], options: { readonly expectedVersion: ExpectedVersion }): Promise<AppendResult> {
    checkAppend(stream, events, options.expectedVersion);
    const s = this.statements;
    const at = this.now();
    const run = this.db.transaction((): AppendResult => {
      const current = s.version.get(stream) as { v: number; p: number };
      if (options.expectedVersion !== 'any' && options.expectedVersion !== current.v)
        throw new ConcurrencyError(stream, options.expectedVersion, current.v);
      let version = current.v;
      let position = current.p;
      for (const e of events) {
        version++;
        const data = JSON.stringify(e.data ?? null);
        position = Number(
          s.insert.run(e.id ?? randomUUID(), stream, version, e.type, data, JSON.stringify(e.metadata ?? {}), at).lastInsertRowid,
        );
      }
      return { version, position };
    });
    return this.withBusyRetry(() => run.immediate());
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    return (this.statements.readStream.all(stream, Math.max(1, options.fromVersion ?? 1), options.limit ?? -1) as EventRow[]).map(toEvent);
  }

  async streamVersion(stream: string): Promise<number> {
    return (this.statements.version.get(stream) as { v: number }).v;
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    return (this.statements.readAll.all(Math.max(0, options.after ?? 0), options.limit ?? 500) as EventRow[]).map(toEvent);
  }

  async saveSnapshot(stream: string, snapshot: Snapshot): Promise<void> {
    await this.withBusyRetry(() => this.statements.snapshotPut.run(stream, snapshot.version, JSON.stringify(snapshot.state ?? null)));
  }

  async loadSnapshot(stream: string): Promise<Snapshot | undefined> {
    const row = this.statements.snapshotGet.get(stream) as { version: number; state: string } | undefined;
    return row === undefined ? undefined : { version: row.version, state: JSON.parse(row.state) as unknown };
  }

  async loadCheckpoint(projection: string): Promise<number> {
    return (this.statements.checkpointGet.get(projection) as { position: number } | undefined)?.position ?? 0;
  }

  async saveCheckpoint(projection: string, position: number): Promise<void> {
    await this.withBusyRetry(() => this.statements.checkpointPut.run(projection, position));
  }

  async close(): Promise<void> {
    if (this.owned && this.db.open) this.db.close();
  }

  /** Runs a write, retrying with backoff while another process holds the lock past the busy timeout (see `retryWhileBusy`). */
  private withBusyRetry<T>(write: () => T): Promise<T> {
    return retryWhileBusy(write, this.db.name, 'write to the event store', { nameErrors: false });
  }
}

function toEvent(row: EventRow): RecordedEvent {
  return {
    id: row.id,
    stream: row.stream,
    version: row.version,
    position: row.position,
    type: row.type,
    data: JSON.parse(row.data) as unknown,
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    at: row.at,
  };
}
