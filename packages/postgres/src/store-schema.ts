/**
 * The tables of the PostgreSQL message store (sagas, outbox, inbox), in a schema of the
 * application's own database (`missive` unless configured), so business writes commit with them.
 * Versioned like the transport's tables, recorded in `store_migrations`.
 *
 * - `sagas`: one row per instance, `version` is the optimistic concurrency token.
 * - `outbox`: messages to publish after commit, in `seq` order, each with the lease of the relay
 *   sending it (`lease_owner`, `lease_until`; version 2).
 * - `inbox`: message ids already processed per endpoint; purged by age.
 *
 * @example
 * ```ts
 * await migrate(client, 'missive', STORE_MIGRATIONS);
 * ```
 * @module
 */
import type { MigrationSet } from './schema.js';

/** The store's tables. */
export const STORE_MIGRATIONS: MigrationSet = {
  what: 'message store',
  table: 'store_migrations',
  migrations: [
    {
      version: 1,
      sql: (s) => `
create table ${s}.sagas (
  saga text not null,
  id text not null,
  state jsonb not null,
  status text not null,
  version integer not null,
  timeouts jsonb not null,
  compensations jsonb not null,
  reason text,
  created_at bigint not null,
  updated_at bigint not null,
  finished_at bigint,
  primary key (saga, id)
);
create index sagas_status on ${s}.sagas (saga, status, created_at);
create table ${s}.outbox (
  seq bigserial primary key,
  id text not null unique,
  kind text not null,
  destination text not null,
  mandatory boolean not null,
  type text not null,
  body bytea not null,
  headers text not null,
  partition_key text,
  not_before bigint,
  schedule_id text,
  created_at bigint not null
) with (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000);
create table ${s}.inbox (
  endpoint text not null,
  message_id text not null,
  at bigint not null,
  primary key (endpoint, message_id)
);
create index inbox_at on ${s}.inbox (at);
`,
    },
    {
      // Each row's relay lease (see `PostgresMessageStore.claimOutbox`): several relays on one store send each row once.
      version: 2,
      sql: (s) => `
alter table ${s}.outbox add column lease_owner text, add column lease_until bigint;
create index outbox_destination on ${s}.outbox (kind, destination, seq);
`,
    },
  ],
};
