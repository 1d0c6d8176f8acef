/**
 * The transport's tables, in one PostgreSQL schema (`missive` unless configured), created and
 * migrated by versioned steps. The user needs `CREATE` on the database (or an existing schema it
 * owns), never superuser.
 *
 * - `queues`: declared queues; a temporary queue records the connection that owns it.
 * - `bindings`: topic patterns per queue, each also as `exact` (a pattern without wildcards, indexed)
 *   or as a regular expression, so a publish routes inside its one statement.
 * - `messages`: messages in their queues in `seq` order. A delivery holds a message by its
 *   `lease_token` until `lease_until`; `visible_at` delays a nacked message in place. `blocked` is
 *   true while an earlier message of the same queue has the same partition key. Triggers keep
 *   exactly one un-blocked message per queue and key, under a transaction-scoped advisory lock on
 *   the key, so concurrent writers agree and a keyed message takes its `seq` in lock order. A claim
 *   reads the partial index `messages_ready` (un-blocked rows in `seq` order) and never walks the
 *   messages queued behind a key or the ones already consumed.
 * - `scheduled`: messages not yet due, moved into `messages` (with a new `seq`) when due.
 * - `dead_letters`: the dead-letter queues, with the failure as JSON, listed in the order the
 *   messages were queued (`message_seq`), whichever failed first.
 * - `connections`: open transports; each holds a session advisory lock on its `lock_key` while it
 *   lives, so any other one can tell it is gone (`pg_try_advisory_lock` succeeds) and reap it.
 *   `heartbeat` is refreshed every few seconds (when a reaped connection was last known alive).
 * - `command_owners` (version 2): the queue that owns each command or query type; the primary key on
 *   `type` is what makes one owner per type (see `pg-command-owners.ts`).
 * - `consumers` (version 2): how many consumers each live connection runs on each queue;
 *   `queues.idle_since` says when a queue's last consumer left.
 *
 * Hot tables get their own autovacuum settings (a vacuum after 1% of rows changed, not 20%) and a
 * fill factor that leaves room for HOT updates (a lease is an update of columns no index holds).
 *
 * @example
 * ```ts
 * await migrate(client, 'missive');
 * ```
 * @module
 */
import { TransportError } from '@missive/core';
import type { ClientBase } from 'pg';

/** One schema change. Steps run in order, each in the transaction that records it. */
export interface Migration {
  readonly version: number;
  readonly sql: (schema: string) => string;
}

const HOT_TABLE =
  'with (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_insert_scale_factor = 0.05, autovacuum_analyze_scale_factor = 0.02)';

/** The migrations, oldest first. Append only: a released step never changes. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: (s) => `
create table ${s}.queues (name text primary key, owner text, created_at bigint not null);
create table ${s}.bindings (queue text not null, pattern text not null, exact text, regex text not null, primary key (queue, pattern));
create index bindings_exact on ${s}.bindings (exact);
create table ${s}.messages (
  seq bigserial primary key,
  queue text not null,
  id text not null,
  type text not null,
  body bytea not null,
  headers text not null,
  partition_key text,
  blocked boolean not null default false,
  visible_at bigint not null default 0,
  delivery_count integer not null default 0,
  lease_owner text,
  lease_token uuid,
  lease_until bigint
) ${HOT_TABLE};
create index messages_ready on ${s}.messages (queue, seq) where not blocked;
create index messages_key on ${s}.messages (queue, partition_key, seq) where partition_key is not null;
create index messages_delayed on ${s}.messages (visible_at) where visible_at > 0;
create function ${s}.messages_block() returns trigger language plpgsql as $$
begin
  perform pg_advisory_xact_lock(hashtext(tg_table_schema), hashtext(new.queue || chr(31) || new.partition_key));
  new.seq := nextval(pg_get_serial_sequence(tg_table_schema || '.messages', 'seq'));
  new.blocked := exists (select 1 from ${s}.messages e where e.queue = new.queue and e.partition_key = new.partition_key);
  return new;
end $$;
create trigger messages_block before insert on ${s}.messages for each row when (new.partition_key is not null) execute function ${s}.messages_block();
create function ${s}.messages_unblock() returns trigger language plpgsql as $$
begin
  perform pg_advisory_xact_lock(hashtext(tg_table_schema), hashtext(old.queue || chr(31) || old.partition_key));
  update ${s}.messages set blocked = false where seq = (
    select min(seq) from ${s}.messages e where e.queue = old.queue and e.partition_key = old.partition_key);
  return null;
end $$;
create trigger messages_unblock after delete on ${s}.messages for each row when (old.partition_key is not null and not old.blocked) execute function ${s}.messages_unblock();
create table ${s}.scheduled (
  seq bigserial primary key,
  queue text not null,
  schedule_id text,
  due bigint not null,
  id text not null,
  type text not null,
  body bytea not null,
  headers text not null,
  partition_key text
);
create index scheduled_due on ${s}.scheduled (due, seq);
create index scheduled_id on ${s}.scheduled (schedule_id) where schedule_id is not null;
create table ${s}.dead_letters (
  seq bigserial primary key,
  queue text not null,
  id text not null,
  type text not null,
  body bytea not null,
  headers text not null,
  partition_key text,
  failure text not null,
  message_seq bigint not null
);
create index dead_letters_queue on ${s}.dead_letters (queue, message_seq, seq);
create table ${s}.connections (id text primary key, lock_key integer not null, heartbeat bigint not null);
`,
  },
  {
    version: 2,
    sql: (s) => `
create table ${s}.command_owners (type text primary key, queue text not null, service text not null, since bigint not null);
create index command_owners_queue on ${s}.command_owners (queue);
create table ${s}.consumers (queue text not null, connection text not null, n integer not null, primary key (queue, connection));
create index consumers_connection on ${s}.consumers (connection);
alter table ${s}.queues add column idle_since bigint;
`,
  },
];

/** The transport's schema version this package writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** A list of migrations and the table that records which ran. */
export interface MigrationSet {
  /** What the tables are for, in error messages. */
  readonly what: string;
  readonly table: string;
  readonly migrations: readonly Migration[];
}

/** The transport's tables. */
export const TRANSPORT_MIGRATIONS: MigrationSet = { what: 'transport', table: 'schema_migrations', migrations: MIGRATIONS };

/** Quotes a checked identifier. */
export const ident = (name: string): string => `"${name}"`;

/**
 * Creates the schema if needed and runs the missing migrations in one transaction, under a
 * transaction advisory lock (so processes starting at once do not race). Throws a non-retryable
 * `TransportError` when the database holds a newer version than this package knows, or when the
 * schema is missing and the user may not create it.
 */
export async function migrate(client: ClientBase, schema: string, set: MigrationSet = TRANSPORT_MIGRATIONS): Promise<void> {
  const s = ident(schema);
  const known = set.migrations[set.migrations.length - 1]!.version;
  await client.query('begin');
  try {
    await client.query('select pg_advisory_xact_lock(hashtext($1), 0)', [`missive-migrate:${schema}`]);
    const table = `${s}.${set.table}`;
    const exists = await client.query('select 1 from pg_namespace where nspname = $1', [schema]);
    if (exists.rowCount === 0) {
      await client.query(`create schema ${s}`).catch((error: unknown) => {
        throw new TransportError(
          `cannot create schema ${schema}: ${(error as Error).message}; create it and let this user use it, or choose another with ?schema=`,
          { cause: error, retryable: false },
        );
      });
    }
    await client.query(`create table if not exists ${table} (version integer primary key, applied_at timestamptz not null default now())`);
    const { rows } = await client.query<{ v: number | null }>(`select max(version) v from ${table}`);
    const current = rows[0]?.v ?? 0;
    if (current > known) {
      throw new TransportError(
        `PostgreSQL schema ${schema} holds Missive ${set.what} tables of schema version ${current}; this version of @missive/postgres knows up to ${known}: upgrade @missive/postgres, or use another schema`,
        { retryable: false },
      );
    }
    for (const step of set.migrations.filter((m) => m.version > current)) {
      await client.query(step.sql(s));
      await client.query(`insert into ${table} (version) values ($1)`, [step.version]);
    }
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  }
}
