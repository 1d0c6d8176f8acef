/**
 * The event store contract: streams of events per aggregate id, appended at an expected version
 * (optimistic concurrency), read back in order; one global order over all streams for projections;
 * snapshots per stream; checkpoints per projection. Every implementation runs the store
 * conformance suite in `@missive/testing` (`describeEventStoreConformance`).
 *
 * @example
 * ```ts
 * const { version } = await store.append('delivery-d1', [{ type: 'requested', data: { to: 'A' } }], { expectedVersion: 0 });
 * const events = await store.readStream('delivery-d1');
 * ```
 * @module
 */
import { ConcurrencyConflictError, ConfigurationError } from '@missive/core';

/** An event about to be appended. `data` and `metadata` must survive JSON. */
export interface NewEvent {
  readonly type: string;
  readonly data: unknown;
  /** Correlation id, causation, who did it: anything that is about the event rather than in it. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** A chosen id (idempotent producers); default a random UUID. */
  readonly id?: string;
}

/** An event as stored. */
export interface RecordedEvent {
  readonly id: string;
  readonly stream: string;
  /** 1 for a stream's first event, then +1 per event, without gaps. */
  readonly version: number;
  /** The event's place in the store's global order: increasing, unique, not necessarily dense. */
  readonly position: number;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: Readonly<Record<string, string>>;
  /** When it was appended, epoch ms. */
  readonly at: number;
}

/**
 * The version a stream must have for an append to succeed: its number of events (0: the stream
 * must not exist yet), or `'any'` to append whatever it holds.
 */
export type ExpectedVersion = number | 'any';

/** What an append returns. */
export interface AppendResult {
  /** The stream's version after the append. */
  readonly version: number;
  /** The global position of the last appended event (of the stream's last event when none were given). */
  readonly position: number;
}

/** A stream's state at a version, saved so a load does not replay from the start. */
export interface Snapshot {
  readonly version: number;
  readonly state: unknown;
}

/** Options of `readStream`. */
export interface ReadStreamOptions {
  /** The first version to return. Default 1. */
  readonly fromVersion?: number;
  /** At most this many events. Default all. */
  readonly limit?: number;
}

/** Options of `readAll`. */
export interface ReadAllOptions {
  /** Return events whose position is greater than this. Default 0 (from the beginning). */
  readonly after?: number;
  /** At most this many events. Default 500. */
  readonly limit?: number;
}

/**
 * An event store.
 *
 * Contract, proved by the conformance suite:
 * - `append` is atomic: all of `events` are written, with consecutive versions, or none. It fails
 *   with {@link ConcurrencyError} (nothing written) when the stream's version is not
 *   `expectedVersion`; of concurrent appends at the same expected version exactly one wins.
 * - `readStream` returns a stream's events in version order; an unknown stream reads as empty.
 * - `readAll` returns events of every stream in global order (positions increasing). An event is
 *   visible to `readAll` only once every event with a lower position is visible too, so a reader
 *   that checkpoints the last position it saw never skips one.
 * - Snapshots and checkpoints are last-write-wins; unknown ones read as `undefined` and `0`.
 * - Every method may be called from several processes sharing the store where the implementation
 *   says so (SQLite, PostgreSQL); the memory store is one process.
 */
export interface EventStore {
  append(stream: string, events: readonly NewEvent[], options: { readonly expectedVersion: ExpectedVersion }): Promise<AppendResult>;
  readStream(stream: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** The stream's current version (0 when it has no events). */
  streamVersion(stream: string): Promise<number>;
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  saveSnapshot(stream: string, snapshot: Snapshot): Promise<void>;
  loadSnapshot(stream: string): Promise<Snapshot | undefined>;
  /** The last position a projection has handled (0 when it has none). */
  loadCheckpoint(projection: string): Promise<number>;
  saveCheckpoint(projection: string, position: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * An append whose expected version did not match the stream's. Retryable: load the stream again,
 * decide again, append again (what `Aggregate.execute` does).
 */
export class ConcurrencyError extends ConcurrencyConflictError {
  override name = 'ConcurrencyError';
  readonly stream: string;
  readonly expectedVersion: number;
  readonly actualVersion: number;

  constructor(stream: string, expectedVersion: number, actualVersion: number) {
    super(`stream ${JSON.stringify(stream)} is at version ${actualVersion}, expected ${expectedVersion}`);
    this.stream = stream;
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
  }
}

/** Checks the arguments of an append the same way for every store; throws a `ConfigurationError` (never retryable): a caller's bug, not a conflict. */
export function checkAppend(stream: string, events: readonly NewEvent[], expectedVersion: ExpectedVersion): void {
  if (typeof stream !== 'string' || stream === '') throw new ConfigurationError('append needs a non-empty stream name');
  if (expectedVersion !== 'any' && (!Number.isInteger(expectedVersion) || expectedVersion < 0)) {
    throw new ConfigurationError(`expectedVersion must be 'any' or an integer >= 0, got ${String(expectedVersion)}`);
  }
  for (const e of events)
    if (typeof e.type !== 'string' || e.type === '') throw new ConfigurationError(`every event needs a type (stream ${stream})`);
}
