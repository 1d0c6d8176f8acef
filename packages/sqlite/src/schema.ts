/**
 * The transport's tables. One file holds every queue of a system; every process opens it in WAL mode.
 *
 * - `missive_queues`: declared queues; a temporary queue records the connection that owns it.
 * - `missive_bindings`: topic patterns per queue; `missive_meta.bindings_version` grows on change
 *   so publishers reload their cached routing only when it changed.
 * - `missive_messages`: messages in their queues, in `seq` order. A delivery holds a message by
 *   its `lease_token` until `lease_until`; `visible_at` delays a nacked message in place.
 * - `missive_scheduled`: messages not yet due; moved into `missive_messages` (taking a new `seq`,
 *   so they enter the order when due) by whichever process fetches first after they fall due.
 * - `missive_dead_letters`: the dead-letter queues, with the failure as JSON.
 * - `missive_connections`: open connections (pid, heartbeat), to reap temporary queues of dead ones.
 *
 * @example
 * ```ts
 * db.exec(SCHEMA);
 * ```
 * @module
 */
export const SCHEMA = `
create table if not exists missive_meta (key text primary key, value integer not null) without rowid;
insert into missive_meta (key, value) values ('bindings_version', 0) on conflict do nothing;
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
  visible_at integer not null default 0,
  delivery_count integer not null default 0,
  lease_owner text,
  lease_token text,
  lease_until integer
);
create index if not exists missive_messages_queue on missive_messages (queue, seq);
create index if not exists missive_messages_key on missive_messages (queue, partition_key, seq) where partition_key is not null;
create index if not exists missive_messages_owner on missive_messages (lease_owner) where lease_owner is not null;
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
`;
