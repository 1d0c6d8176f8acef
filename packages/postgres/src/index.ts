/**
 * `@missive/postgres`: the PostgreSQL transport (queues in tables, `SKIP LOCKED` claims,
 * `LISTEN/NOTIFY` wake-ups) and the PostgreSQL `MessageStore` for sagas, outbox and inbox, with an
 * outbox that joins the application's own transaction.
 *
 * @example
 * ```ts
 * import { createBus } from '@missive/core';
 * const bus = createBus({ service: 'shop', transport: 'postgres://app@db:5432/shop' }); // loads this package
 * ```
 * @module
 */
import type { TransportFactory } from '@missive/core/transport';
import { postgresOptionsFromUrl } from './pg-options.js';
import { PostgresTransport } from './pg-transport.js';

export { PostgresTransport, type PostgresTransportDeps } from './pg-transport.js';
export {
  resolvePostgresOptions,
  postgresOptionsFromUrl,
  type PostgresTransportOptions,
  type ResolvedPostgresOptions,
} from './pg-options.js';
export { SCHEMA_VERSION } from './schema.js';
export { PostgresBacklogFullError, PostgresUnavailableError } from './pg-link.js';

/** Creates the transport for a `postgres://` or `postgresql://` URL (what `createBus({ transport: 'postgres://…' })` calls). */
export const createTransport: TransportFactory = (url, options) => new PostgresTransport(postgresOptionsFromUrl(url), options);
export { PostgresMessageStore, outboxValues, type PostgresMessageStoreOptions, type PgTx } from './pg-message-store.js';
export { PostgresOutbox, type SqlExecutor } from './pg-outbox.js';
export { PostgresEventStore, EVENT_STORE_MIGRATIONS, type PostgresEventStoreOptions } from './pg-event-store.js';
