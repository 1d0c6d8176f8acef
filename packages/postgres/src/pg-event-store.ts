/**
 * An `EventStore` (`@missive/eventsourcing`) on PostgreSQL: events, snapshots and projection
 * checkpoints in tables of the application's database (schema `missive` unless configured),
 * shared by every process, versioned in `event_store_migrations`.
 *
 * - **Optimistic concurrency is the unique constraint** on `(stream, version)`. An append at an
 *   expected version N inserts its events at versions N+1… in one statement; of two writers at the
 *   same N the second insert waits for the first one's commit on the unique index and then fails
 *   with `unique_violation`: a {@link ConcurrencyError}, and nothing of it is written. The same
 *   statement refuses an N beyond the stream's end (the event at version N must exist), so versions
 *   have no gaps. `'any'` reads the stream's version and inserts after it, in that transaction.
 * - **The global order** (`position`, a sequence) is taken under a transaction advisory lock held
 *   to the commit, so positions become visible in increasing order and a `readAll` reader that
 *   checkpoints the last position it saw never skips an event committed later with a lower one.
 *   The price: appends (to any stream) commit one at a time. A rolled-back append leaves a gap in
 *   positions (they are unique and increasing, not dense).
 * - `data` and `metadata` are `jsonb` (object keys come back in PostgreSQL's order); snapshots and
 *   checkpoints are upserts (last write wins).
 *
 * @example
 * ```ts
 * const store = new PostgresEventStore({ pool }); // or { connectionString }; schema 'missive' by default
 * await Delivery.execute(store, 'd-1', { kind: 'request', to: 'A' });
 * const history = await store.readStream('delivery-d-1');
 * ```
 * @module
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
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
import { checkIdentifier } from './pg-options.js';
import { ident, migrate, type MigrationSet } from './schema.js';
import { guardClientErrors } from './pg-client-errors.js';

/** Options of {@link PostgresEventStore}: one of `pool` and `connectionString`. */
export interface PostgresEventStoreOptions {
  /** The application's pool; the store does not end it. */
  readonly pool?: pg.Pool;
  /** Or a connection string; the store opens (and ends) its own pool. */
  readonly connectionString?: string;
  /** Schema of the store's tables (created if missing). Default `missive`. */
  readonly schema?: string;
  /** The clock of `at`. Default `Date.now`. */
  readonly now?: () => number;
}

/** The event store's tables. */
export const EVENT_STORE_MIGRATIONS: MigrationSet = {
  what: 'event store',
  table: 'event_store_migrations',
  migrations: [
    {
      version: 1,
      sql: (s) => `
create table ${s}.events (
  position bigserial primary key,
  id text not null unique,
  stream text not null,
  version integer not null,
  type text not null,
  data jsonb not null,
  metadata jsonb not null,
  at bigint not null,
  unique (stream, version)
);
create table ${s}.snapshots (stream text primary key, version integer not null, state jsonb not null);
create table ${s}.checkpoints (name text primary key, position bigint not null);
`,
    },
  ],
};

/** SQLSTATE `unique_violation`. */
const UNIQUE_VIOLATION = '23505';

interface EventRow {
  position: string;
  id: string;
  stream: string;
  version: number;
  type: string;
  data: unknown;
  metadata: Record<string, string>;
  at: string;
}

/** The PostgreSQL event store. */
export class PostgresEventStore implements EventStore {
  readonly pool: pg.Pool;
  readonly schema: string;
  private readonly owned: boolean;
  private readonly now: () => number;
  private ready: Promise<void> | undefined;
  private readonly sql: ReturnType<typeof statements>;

  constructor(options: PostgresEventStoreOptions) {
    if ((options.pool === undefined) === (options.connectionString === undefined)) {
      throw new ConfigurationError('PostgresEventStore needs exactly one of { pool } and { connectionString }');
    }
    this.schema = checkIdentifier(options.schema ?? 'missive', 'schema');
    this.owned = options.pool === undefined;
    this.pool = options.pool ?? new pg.Pool({ connectionString: options.connectionString, max: 5 });
    if (this.owned) guardClientErrors(this.pool).on('error', () => undefined); // a lost idle connection; the next query gets a new one
    this.now = options.now ?? Date.now;
    this.sql = statements(this.schema);
  }

  /** Creates or migrates the tables (once; every method calls it). */
  init(): Promise<void> {
    this.ready ??= (async () => {
      const client = await this.pool.connect();
      try {
        await migrate(client, this.schema, EVENT_STORE_MIGRATIONS);
      } finally {
        client.release();
      }
    })().catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  async append(stream: string, events: readonly NewEvent[], options: { readonly expectedVersion: ExpectedVersion }): Promise<AppendResult> {
    checkAppend(stream, events, options.expectedVersion);
    await this.init();
    const expected = options.expectedVersion;
    const client = await this.pool.connect();
    let broken: Error | undefined;
    let after = expected === 'any' ? 0 : expected;
    try {
      await client.query('begin');
      await client.query(this.sql.lock, [`missive-events:${this.schema}`]);
      if (expected === 'any') after = await this.version(client, stream);
      const result = events.length === 0 ? await this.endOf(client, stream, after) : await this.insert(client, stream, events, after);
      await client.query('commit');
      return result;
    } catch (error) {
      await client.query('rollback').catch((e: unknown) => (broken = e as Error)); // a lost connection: the pool drops it
      const { code, constraint } = error as { code?: unknown; constraint?: unknown };
      if (code === UNIQUE_VIOLATION && constraint === 'events_stream_version_key')
        throw new ConcurrencyError(stream, after, await this.streamVersion(stream));
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /** Inserts `events` after version `after`; refuses an `after` beyond the stream's end. */
  private async insert(client: pg.PoolClient, stream: string, events: readonly NewEvent[], after: number): Promise<AppendResult> {
    const at = this.now();
    const { rows } = await client.query<{ version: number; position: string }>(this.sql.insert, [
      stream,
      after,
      events.map((e) => e.id ?? randomUUID()),
      events.map((e) => e.type),
      events.map((e) => JSON.stringify(e.data ?? null)),
      events.map((e) => JSON.stringify(e.metadata ?? {})),
      at,
    ]);
    if (rows.length === 0) throw new ConcurrencyError(stream, after, await this.version(client, stream));
    const last = rows.reduce((a, b) => (a.version > b.version ? a : b));
    return { version: last.version, position: Number(last.position) };
  }

  /** An empty append: checks the version, returns the stream's end. */
  private async endOf(client: pg.PoolClient, stream: string, after: number): Promise<AppendResult> {
    const { rows } = await client.query<{ v: number; p: string }>(this.sql.end, [stream]);
    const version = rows[0]?.v ?? 0;
    if (version !== after) throw new ConcurrencyError(stream, after, version);
    return { version, position: Number(rows[0]?.p ?? 0) };
  }

  private async version(client: pg.ClientBase | pg.Pool, stream: string): Promise<number> {
    return (await client.query<{ v: number }>(this.sql.end, [stream])).rows[0]?.v ?? 0;
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    await this.init();
    const { rows } = await this.pool.query<EventRow>(this.sql.readStream, [
      stream,
      Math.max(1, options.fromVersion ?? 1),
      options.limit ?? null,
    ]);
    return rows.map(toEvent);
  }

  async streamVersion(stream: string): Promise<number> {
    await this.init();
    return this.version(this.pool, stream);
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    await this.init();
    const { rows } = await this.pool.query<EventRow>(this.sql.readAll, [Math.max(0, options.after ?? 0), options.limit ?? 500]);
    return rows.map(toEvent);
  }

  async saveSnapshot(stream: string, snapshot: Snapshot): Promise<void> {
    await this.init();
    await this.pool.query(this.sql.snapshotPut, [stream, snapshot.version, JSON.stringify(snapshot.state ?? null)]);
  }

  async loadSnapshot(stream: string): Promise<Snapshot | undefined> {
    await this.init();
    const row = (await this.pool.query<{ version: number; state: unknown }>(this.sql.snapshotGet, [stream])).rows[0];
    return row === undefined ? undefined : { version: row.version, state: row.state };
  }

  async loadCheckpoint(projection: string): Promise<number> {
    await this.init();
    return Number((await this.pool.query<{ position: string }>(this.sql.checkpointGet, [projection])).rows[0]?.position ?? 0);
  }

  async saveCheckpoint(projection: string, position: number): Promise<void> {
    await this.init();
    await this.pool.query(this.sql.checkpointPut, [projection, position]);
  }

  /** Ends the pool when the store opened it. */
  async close(): Promise<void> {
    if (this.owned) await this.pool.end().catch(() => undefined);
  }
}

/** The statements of one schema. */
function statements(schema: string) {
  const s = ident(schema);
  return {
    /** $1 the lock's name: every append of the schema takes it, so positions commit in order. */
    lock: 'select pg_advisory_xact_lock(hashtext($1))',
    /** $1 stream. The stream's version and its last event's position. */
    end: `select version v, position p from ${s}.events where stream = $1 order by version desc limit 1`,
    /**
     * $1 stream, $2 version after which to append, $3 ids, $4 types, $5 data, $6 metadata, $7 at.
     * Inserts nothing when version $2 does not exist (beyond the end); a taken version fails on the
     * unique constraint.
     */
    insert: `insert into ${s}.events (id, stream, version, type, data, metadata, at)
       select e.id, $1, $2 + e.n, e.type, e.data::jsonb, e.metadata::jsonb, $7
       from unnest($3::text[], $4::text[], $5::text[], $6::text[]) with ordinality e(id, type, data, metadata, n)
       where $2 = 0 or exists (select 1 from ${s}.events x where x.stream = $1 and x.version = $2)
       order by e.n
       returning version, position`,
    /** $1 stream, $2 from version, $3 limit or null. */
    readStream: `select * from ${s}.events where stream = $1 and version >= $2 order by version limit $3`,
    /** $1 after position, $2 limit. */
    readAll: `select * from ${s}.events where position > $1 order by position limit $2`,
    snapshotPut: `insert into ${s}.snapshots (stream, version, state) values ($1, $2, $3::jsonb) on conflict (stream) do update set version = excluded.version, state = excluded.state`,
    snapshotGet: `select version, state from ${s}.snapshots where stream = $1`,
    checkpointPut: `insert into ${s}.checkpoints (name, position) values ($1, $2) on conflict (name) do update set position = excluded.position`,
    checkpointGet: `select position from ${s}.checkpoints where name = $1`,
  };
}

function toEvent(row: EventRow): RecordedEvent {
  return {
    id: row.id,
    stream: row.stream,
    version: row.version,
    position: Number(row.position),
    type: row.type,
    data: row.data,
    metadata: row.metadata,
    at: Number(row.at),
  };
}
