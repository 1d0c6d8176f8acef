/**
 * The transport's tables. One file holds every queue of a system; every process opens it in WAL mode.
 *
 * - `missive_queues`: declared queues; a temporary queue records the connection that owns it.
 * - `missive_bindings`: topic patterns per queue; `missive_meta.bindings_version` grows on change
 *   so publishers reload their cached routing only when it changed.
 * - `missive_messages`: messages in their queues, in `seq` order. A delivery holds a message by
 *   its `lease_token` until `lease_until`; `visible_at` delays a nacked message in place.
 *   `blocked` is 1 while an earlier message of the same queue has the same partition key: two
 *   triggers keep exactly one un-blocked message (the earliest) per queue and key, whoever writes
 *   the row. `missive_messages_ready` holds only the rows a fetch may take (un-blocked, not held):
 *   a fetch reads it in `seq` order and walks neither the messages waiting behind a key nor the
 *   ones other consumers hold, so its cost grows with neither the backlog nor the prefetch.
 *   `missive_messages_held` holds the leased rows by `lease_until` (expiries, heartbeats, reaping).
 *   No other index is kept up per message: the key index holds keyed messages only, the delayed
 *   index nacked-with-delay ones only.
 * - `missive_scheduled`: messages not yet due; moved into `missive_messages` (taking a new `seq`,
 *   so they enter the order when due) by whichever process fetches first after they fall due.
 * - `missive_dead_letters`: the dead-letter queues, with the failure as JSON.
 * - `missive_connections`: open connections (pid, heartbeat), to reap temporary queues of dead ones.
 * - `missive_command_owners`: which queue owns each command (or query) type (`sqlite-command-owners.ts`).
 * - `missive_consumers`: which connections consume which queue (`active`), refreshed with the
 *   heartbeat; `seen_at` of an inactive row is when its consumer left, so `queues()` can say since
 *   when a queue has had no consumer.
 *
 * Tables added after schema version 2 was first released (owners, consumers) are created with
 * `if not exists` when an older file of the same version is opened. A file of an older version is
 * upgraded by the {@link MIGRATIONS} after it, in the transaction that opens it; a file of a newer
 * version, or of version 1, is refused with a message saying what to do.
 *
 * @example
 * ```ts
 * applySchema(db);
 * ```
 * @module
 */
import Database from 'better-sqlite3';
import { ConfigurationError, TransportError } from '@missive/core';

/**
 * An upgrade of a file from `version - 1` to `version`, run inside the opening write transaction
 * before {@link SCHEMA} (which then creates what is missing). Only indexes change so far: a process
 * of the previous version still running on an upgraded file reads and writes the same columns.
 */
export interface Migration {
  readonly version: number;
  readonly sql: string;
}

/** The upgrades, oldest first; the last one's version is {@link SCHEMA_VERSION}. */
export const MIGRATIONS: readonly Migration[] = [
  {
    // 3: the ready index holds fetchable rows only (no held rows to walk past on each fetch), and the
    // owner index, kept up on every lease and ack, becomes the held index by expiry.
    version: 3,
    sql: `drop index if exists missive_messages_ready;
      drop index if exists missive_messages_owner;`,
  },
];

/**
 * Version of the tables, in `missive_meta.schema_version`. 2: `missive_messages.blocked`. 3: the
 * partial ready and held indexes.
 */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** The oldest version {@link MIGRATIONS} upgrade from. */
const OLDEST_MIGRATED = MIGRATIONS[0]!.version - 1;

export const SCHEMA = `
create table if not exists missive_meta (key text primary key, value integer not null) without rowid;
insert into missive_meta (key, value) values ('bindings_version', 0) on conflict do nothing;
insert into missive_meta (key, value) values ('schema_version', ${SCHEMA_VERSION}) on conflict do nothing;
create table if not exists missive_queues (
  name text primary key,
  owner text,
  created_at integer not null
) without rowid;
create table if not exists missive_bindings (
  queue text not null,
  pattern text not null,
  primary key (queue, pattern)
) without rowid;
create table if not exists missive_messages (
  seq integer primary key autoincrement,
  queue text not null,
  id text not null,
  type text not null,
  body blob not null,
  headers text not null,
  partition_key text,
  blocked integer not null default 0,
  visible_at integer not null default 0,
  delivery_count integer not null default 0,
  lease_owner text,
  lease_token text,
  lease_until integer
);
create index if not exists missive_messages_ready on missive_messages (queue, seq) where blocked = 0 and lease_token is null;
create index if not exists missive_messages_key on missive_messages (queue, partition_key, seq) where partition_key is not null;
create index if not exists missive_messages_held on missive_messages (lease_until) where lease_token is not null;
create index if not exists missive_messages_delayed on missive_messages (visible_at) where visible_at > 0;
create trigger if not exists missive_messages_block after insert on missive_messages when new.partition_key is not null begin
  update missive_messages set blocked = 1 where seq = new.seq and exists (
    select 1 from missive_messages e where e.queue = new.queue and e.partition_key = new.partition_key and e.seq < new.seq);
end;
create trigger if not exists missive_messages_unblock after delete on missive_messages when old.partition_key is not null and old.blocked = 0 begin
  update missive_messages set blocked = 0 where seq = (
    select min(seq) from missive_messages e where e.queue = old.queue and e.partition_key = old.partition_key);
end;
create table if not exists missive_scheduled (
  seq integer primary key autoincrement,
  queue text not null,
  schedule_id text,
  due integer not null,
  id text not null,
  type text not null,
  body blob not null,
  headers text not null,
  partition_key text
);
create index if not exists missive_scheduled_due on missive_scheduled (due);
create index if not exists missive_scheduled_id on missive_scheduled (schedule_id) where schedule_id is not null;
create table if not exists missive_dead_letters (
  seq integer primary key autoincrement,
  queue text not null,
  id text not null,
  type text not null,
  body blob not null,
  headers text not null,
  partition_key text,
  failure text not null
);
create index if not exists missive_dead_letters_queue on missive_dead_letters (queue, seq);
create table if not exists missive_connections (
  id text primary key,
  pid integer not null,
  heartbeat integer not null
) without rowid;
create table if not exists missive_command_owners (
  type text primary key,
  queue text not null,
  service text not null,
  since integer not null
) without rowid;
create index if not exists missive_command_owners_queue on missive_command_owners (queue);
create table if not exists missive_consumers (
  queue text not null,
  connection text not null,
  active integer not null,
  seen_at integer not null,
  primary key (queue, connection)
) without rowid;
create index if not exists missive_consumers_connection on missive_consumers (connection);
`;

/**
 * Creates the tables in one write transaction (so processes opening a new file at once agree), and
 * upgrades a file of an older version with {@link MIGRATIONS} in the same transaction. Throws a
 * non-retryable `TransportError` when the file holds tables of a newer version (upgrade this
 * process), of a version too old to upgrade, or of another shape.
 */
export function applySchema(db: Database.Database): void {
  if (isCurrent(db)) return;
  db.transaction(() => {
    const tables = (
      db.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite\\_%' escape '\\'").all() as {
        name: string;
      }[]
    ).map((t) => t.name);
    if (tables.includes('missive_messages')) {
      const row = tables.includes('missive_meta')
        ? (db.prepare("select value from missive_meta where key = 'schema_version'").get() as { value: number } | undefined)
        : undefined;
      const version = row?.value ?? 1;
      if (version > SCHEMA_VERSION) {
        throw new TransportError(
          `SQLite database ${db.name} has transport tables of schema version ${version}; this version of Missive knows up to ${SCHEMA_VERSION}: upgrade @missive/sqlite in this process (every process sharing the file must run a version that knows it)`,
          { retryable: false },
        );
      }
      if (version < OLDEST_MIGRATED) {
        throw new TransportError(
          `SQLite database ${db.name} has transport tables of schema version ${version}; this version of Missive needs ${SCHEMA_VERSION} and upgrades from ${OLDEST_MIGRATED} only: drain the file and delete it, or use a new one`,
          { retryable: false },
        );
      }
      checkShape(db, tables);
      for (const migration of MIGRATIONS) {
        if (migration.version <= version) continue;
        db.exec(migration.sql);
        db.prepare("update missive_meta set value = ? where key = 'schema_version'").run(migration.version);
      }
    } else {
      const foreign = tables.filter((name) => !name.startsWith('missive_'));
      if (foreign.length > 0) {
        throw new ConfigurationError(
          `SQLite database ${db.name} holds tables that are not Missive's (${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ', ...' : ''}): the transport keeps its queues in a file of its own and does not add tables to yours; point it at a new file (sqlite://path/to/bus.db)`,
        );
      }
    }
    db.exec(SCHEMA);
  }).immediate();
}

/**
 * Whether the file already holds this version's tables, indexes and triggers, with their columns:
 * read in a read transaction, so the usual open of an existing bus takes no write lock (which the
 * processes already running keep busy) and writes nothing. Throws as {@link applySchema} does for a
 * file of this version with tables of another shape.
 */
function isCurrent(db: Database.Database): boolean {
  return db.transaction(() => {
    const present = new Set(
      (db.prepare("select name from sqlite_master where name not like 'sqlite\\_%' escape '\\'").all() as { name: string }[]).map(
        (o) => o.name,
      ),
    );
    const reference = schemaReference();
    if (!reference.objects.every((name) => present.has(name))) return false;
    const row = db.prepare("select value from missive_meta where key = 'schema_version'").get() as { value: number } | undefined;
    if (row?.value !== SCHEMA_VERSION) return false;
    checkShape(db, [...present]);
    return true;
  })();
}

/** What {@link SCHEMA} creates: the names of its tables, indexes and triggers, and each table's columns. */
interface SchemaReference {
  readonly objects: readonly string[];
  readonly columns: ReadonlyMap<string, readonly string[]>;
}

let reference: SchemaReference | undefined;

/** {@link SchemaReference}, read once per process from {@link SCHEMA} applied to an in-memory database. */
function schemaReference(): SchemaReference {
  if (reference !== undefined) return reference;
  const memory = new Database(':memory:');
  try {
    memory.exec(SCHEMA);
    const objects = memory.prepare("select name, type from sqlite_master where name not like 'sqlite\\_%' escape '\\'").all() as {
      name: string;
      type: string;
    }[];
    reference = {
      objects: objects.map((o) => o.name),
      columns: new Map(objects.filter((o) => o.type === 'table').map((o) => [o.name, columns(memory, o.name)])),
    };
    return reference;
  } finally {
    memory.close();
  }
}

/**
 * Refuses Missive tables whose columns are not the ones this version creates (a file made by
 * something else, or edited by hand, under the current version label): queries would fail later
 * with "no such column", far from the cause.
 */
function checkShape(db: Database.Database, tables: readonly string[]): void {
  for (const [table, want] of schemaReference().columns) {
    if (!tables.includes(table)) continue; // created below
    const have = columns(db, table);
    const missing = want.filter((c) => !have.includes(c));
    if (missing.length > 0) {
      throw new TransportError(
        `SQLite database ${db.name} has a ${table} table without the column(s) ${missing.join(', ')} that schema version ${SCHEMA_VERSION} has (it has ${have.join(', ')}): it was not made by this version of Missive; drain the file and delete it, or use a new one`,
        { retryable: false },
      );
    }
  }
}

function columns(db: Database.Database, table: string): string[] {
  return (db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name);
}
