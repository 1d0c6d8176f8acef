/// <reference types="node" preserve="true" />
/**
 * `@missive/sqlite`: the embedded default transport (one SQLite file, several processes) and the
 * SQLite `MessageStore` for sagas, outbox and inbox, and the SQLite `EventStore` for event sourcing.
 *
 * @example
 * ```ts
 * import { createBus } from '@missive/core';
 * const bus = createBus({ service: 'shop', transport: 'sqlite://.missive/bus.db' }); // loads this package
 * ```
 * @module
 */
import type { TransportFactory } from '@missive/core/transport';
import { sqliteOptionsFromUrl } from './sqlite-options.js';
import { SqliteTransport } from './sqlite-transport.js';

export { SqliteTransport, type SqliteTransportDeps } from './sqlite-transport.js';
export { resolveSqliteOptions, sqliteOptionsFromUrl, type SqliteTransportOptions, type ResolvedSqliteOptions } from './sqlite-options.js';
export { SqliteMessageStore, type SqliteMessageStoreOptions } from './sqlite-message-store.js';
export { SqliteEventStore, type SqliteEventStoreOptions } from './sqlite-event-store.js';

/** Creates the transport for a `sqlite://` URL (what `createBus({ transport: 'sqlite://…' })` calls). */
export const createTransport: TransportFactory = (url, options) =>
  new SqliteTransport({ ...sqliteOptionsFromUrl(url), ...(options.openExisting === true ? { create: false } : {}) }, options);
