/**
 * `@missive/dashboard`: see one business transaction across services, the dead letters and the
 * live service catalog. Three parts a service opts into, and the dashboard that reads them:
 *
 * - {@link journal}: an audit of what each endpoint handled, written off the hot path to SQLite
 *   (default) or PostgreSQL, with retention by age and size;
 * - {@link announce}: the bus announces itself (endpoints, contracts, schemas) on start, by
 *   heartbeat and on stop, over the bus itself;
 * - {@link startDashboard}: a local web UI and JSON API (services, queues, dead letters,
 *   conversations as sequence diagrams, live tail), also `missive dashboard`.
 *
 * @example
 * ```ts
 * import { createBus } from '@missive/core';
 * import { announce, journal } from '@missive/dashboard';
 *
 * const bus = createBus({ service: 'payment', transport: 'sqlite://.missive/bus.db' });
 * journal(bus, { store: 'sqlite://.missive/journal.db', payloads: { redact: ['cardNumber'] } });
 * announce(bus, { version: '1.0.0' });
 * await bus.start();
 * ```
 * @module
 */
export { journal, type Journal, type JournalOptions } from './journal/journal.js';
export { entryOf, defaultKeyFields, type JournalEntry, type EntryOptions } from './journal/journal-entry.js';
export { unpackBatch, sliceBatch, type PackedBatch } from './journal/journal-batch.js';
export { packBatch } from './journal/journal-pack.js';
export { redact, REDACTED } from './journal/redact.js';
export type { JournalStore, RecentQuery } from './journal/journal-store.js';
export { SqliteJournalStore, type SqliteJournalStoreOptions } from './journal/sqlite-journal-store.js';
export { WorkerJournalStore, JournalWorkerError } from './journal/worker-journal-store.js';
export { PostgresJournalStore, type PostgresJournalStoreOptions, type PgPool } from './journal/postgres-journal-store.js';
export { openJournalStore } from './journal/open-journal-store.js';
export { announce, type AnnounceOptions } from './catalog/announce.js';
export {
  ANNOUNCED,
  PING,
  announcementOf,
  contractInfo,
  jsonSchemaOf,
  type Announcement,
  type ContractInfo,
} from './catalog/announcement.js';
export {
  Catalog,
  WatchedCatalog,
  watchCatalog,
  STALE_AFTER_HEARTBEATS,
  type CatalogContract,
  type CatalogInstance,
} from './catalog/catalog.js';
export { asyncApiOf, type AsyncApiOptions } from './asyncapi.js';
export { startDashboard, type Dashboard, type DashboardOptions } from './server/dashboard-server.js';
export { sequenceOf, formatMs, noteOf, DEFAULT_COMPENSATION, type Arrow, type Sequence } from './conversation/sequence.js';
export { causalOrder } from './conversation/causal-order.js';
export { mermaidOf } from './conversation/mermaid.js';
export { svgOf } from './conversation/svg.js';
