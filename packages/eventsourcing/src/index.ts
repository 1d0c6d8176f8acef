/**
 * `@missive/eventsourcing`: aggregates with typed events in the decide/apply shape, the event
 * store contract (append at an expected version, streams per aggregate id, snapshots, checkpoints),
 * an in-memory store, and projections (catch-up subscriptions) that publish to the bus. Durable
 * stores live with their database: `SqliteEventStore` in `@missive/sqlite`, `PostgresEventStore` in
 * `@missive/postgres`.
 *
 * @example
 * ```ts
 * import { defineAggregate, MemoryEventStore } from '@missive/eventsourcing';
 * const store = new MemoryEventStore();
 * await Account.execute(store, 'a-1', { deposit: 5 });
 * ```
 * @module
 */
export {
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
} from './event-store.js';
export { MemoryEventStore } from './memory-event-store.js';
export {
  defineAggregate,
  type Aggregate,
  type AggregateDefinition,
  type EventOf,
  type Executed,
  type ExecuteOptions,
  type Loaded,
} from './aggregate.js';
export {
  createProjection,
  publishEvents,
  type Projection,
  type ProjectionOptions,
  type Publisher,
  type EventToMessage,
} from './projection.js';
