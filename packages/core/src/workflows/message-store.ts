/**
 * The store behind effectively-once processing: one database that holds saga instances, the outbox
 * (messages to publish after commit) and the inbox (ids of messages already processed per endpoint).
 * Its heart is {@link MessageStore.commit}: one transaction that runs the caller's business writes,
 * records the inbox entry, saves the saga instance with an optimistic version check, and appends
 * outgoing messages — all or nothing.
 *
 * Stores: the memory store in core, SQLite in `@missive/sqlite`; PostgreSQL (and Kysely, Drizzle,
 * pg users) implement the same interface. Every store passes the store conformance suite in
 * `@missive/testing`.
 *
 * @example
 * ```ts
 * const result = await store.commit({
 *   inbox: { endpoint: 'payment', messageId: 'm-1', at: Date.now() },
 *   work: (tx) => tx.prepare('update accounts set balance = balance - 10').run(),
 *   outbox: [record],
 * });
 * if (result.duplicate) console.log('already processed');
 * ```
 * @module
 */
import type { TransportMessage } from '../transport/transport.js';

/** Where an outbox message goes. */
export interface OutboxDestination {
  /** `topic`: published (events; commands and queries with `mandatory`); `queue`: sent to that queue. */
  readonly kind: 'topic' | 'queue';
  readonly name: string;
  /** Publish with `mandatory` (commands routed by name). */
  readonly mandatory: boolean;
}

/** A message waiting in the outbox. */
export interface OutboxRecord {
  /** The message id (the envelope id). */
  readonly id: string;
  readonly destination: OutboxDestination;
  readonly message: TransportMessage;
  /** Epoch ms before which the message is not delivered. */
  readonly notBefore?: number | undefined;
  /** A schedule id, for scheduled messages. */
  readonly scheduleId?: string | undefined;
  /** Epoch ms. */
  readonly createdAt: number;
  /**
   * The relay that sends it, written with the record (see `MessageStore.claimOutbox`): the outbox
   * stamps the records it commits with its own relay and `until` = commit time + the lease, so that
   * relay sends them without a claim. Absent: not leased (any relay claims it).
   */
  readonly lease?: OutboxLease | undefined;
  /**
   * Set by `MessageStore.claimOutbox` on a record that claim took over: the lease the record had
   * until then (a relay's that ran out: that relay stopped answering), or `null` if it had none
   * (written by a version without leases, or straight into the store). Absent on the records the
   * claimer held already, and on records read any other way. The relay logs takeovers with it.
   */
  readonly takenFrom?: OutboxLease | null | undefined;
}

/** An outbox record's lease: which relay sends it, until when (epoch ms). */
export interface OutboxLease {
  readonly owner: string;
  readonly until: number;
}

/** The lifecycle of a saga instance. */
export type SagaStatus = 'active' | 'completed' | 'compensated' | 'failed';

/** A pending saga timeout. */
export interface SagaTimeoutRecord {
  readonly id: string;
  readonly name: string;
  /** Epoch ms. */
  readonly due: number;
  readonly data?: unknown;
}

/** A compensation registered by a saga step, run in reverse order by `compensate`. */
export interface SagaCompensationRecord {
  readonly name: string;
  readonly data?: unknown;
}

/** One saga instance as stored. */
export interface SagaRecord {
  /** The saga's name. */
  readonly saga: string;
  /** The correlation id of the instance. */
  readonly id: string;
  readonly state: unknown;
  readonly status: SagaStatus;
  /** Grows by one with every saved change; the optimistic concurrency token. */
  readonly version: number;
  readonly timeouts: readonly SagaTimeoutRecord[];
  readonly compensations: readonly SagaCompensationRecord[];
  /** Why the saga compensated or failed, if it did. */
  readonly reason?: string | undefined;
  /** Epoch ms. */
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly finishedAt?: number | undefined;
}

/** Everything one commit does, atomically. */
export interface Commit<Tx, T> {
  /** Records the message as processed by the endpoint; if it already was, nothing else happens. */
  readonly inbox?: { readonly endpoint: string; readonly messageId: string; readonly at: number } | undefined;
  /** Business writes, synchronous, in the store's transaction; may return outbox records to append. */
  readonly work?: ((tx: Tx) => T) | undefined;
  /**
   * Saves a saga instance whose stored version must be `expectedVersion` (0: must not exist yet).
   * A mismatch fails the whole commit with `ConcurrencyConflictError`.
   */
  readonly saga?: { readonly record: SagaRecord; readonly expectedVersion: number } | undefined;
  /** Messages to append to the outbox, in order. Read after `work` ran, so work may add to it. */
  readonly outbox?: readonly OutboxRecord[] | (() => readonly OutboxRecord[]) | undefined;
}

/** The outcome of a commit. */
export type CommitResult<T> = { readonly duplicate: true } | { readonly duplicate: false; readonly value: T };

/** Options of {@link MessageStore.listSagas}. */
export interface SagaListOptions {
  readonly status?: SagaStatus | undefined;
  readonly limit?: number | undefined;
  readonly offset?: number | undefined;
}

/**
 * A database for sagas, outbox and inbox. `Tx` is what business writes receive inside a commit
 * (for SQLite, the better-sqlite3 database).
 */
export interface MessageStore<Tx = unknown> {
  /** Short name of the kind (`memory`, `sqlite`). */
  readonly kind: string;
  /**
   * Runs the commit in one transaction: inbox check and insert, `work`, saga save, outbox append.
   * If the inbox already holds the message id, nothing is written and `{ duplicate: true }` is
   * returned. If anything throws, nothing is written and the error propagates.
   */
  commit<T>(commit: Commit<Tx, T>): Promise<CommitResult<T>>;
  /** One saga instance, or undefined. */
  loadSaga(saga: string, id: string): Promise<SagaRecord | undefined>;
  /** Instances of a saga, oldest first. */
  listSagas(saga: string, options?: SagaListOptions): Promise<SagaRecord[]>;
  /** Deletes finished instances (completed, compensated or failed) that finished before the time; returns how many. */
  deleteFinishedSagas(saga: string, finishedBefore: number): Promise<number>;
  /** Outbox messages not yet dispatched, oldest first, leased or not (for tests and tools; relays claim). */
  pendingOutbox(limit: number): Promise<OutboxRecord[]>;
  /**
   * The outbox messages the relay `owner` may send now, oldest first, at most `limit`: those leased
   * to `owner` whose lease runs (`lease until` > `now`), returned as they are, and those it takes
   * over, leased to it until `until`: not leased (written by a version without leases), or whose
   * lease ended (`lease until` ≤ `now`: a crashed relay's, or its own that it let run out).
   * - Read first, write only to take over: a claim that takes nothing writes nothing (a relay
   *   sending the messages its own process leased at insert costs one read per run).
   * - Atomic against other claims on the store: two relays never take the same message, and a
   *   message taken by another relay meanwhile is not returned.
   * - A message is not returned while an older message to the same destination (kind and name) is
   *   leased to another owner: no relay sends a message before another relay sent the ones before
   *   it (the relay's order per destination and conversation holds across relays).
   * - Each record it takes over carries `takenFrom`: the lease it had before the claim (or `null`).
   */
  claimOutbox(owner: string, limit: number, now: number, until: number): Promise<OutboxRecord[]>;
  /** Extends every lease `owner` holds to `until` (a running relay, once in a while): one statement. */
  renewOutbox(owner: string, until: number): Promise<void>;
  /** Ends every lease `owner` holds (a relay stopping): other relays may send those messages at once. */
  releaseOutbox(owner: string): Promise<void>;
  /** Removes dispatched messages from the outbox. */
  removeOutbox(ids: readonly string[]): Promise<void>;
  /** Deletes inbox entries recorded before the time; returns how many. */
  purgeInbox(before: number): Promise<number>;
  /** Whether the endpoint has processed the message (for tests and tools). */
  processed(endpoint: string, messageId: string): Promise<boolean>;
  /** Releases the store's resources. */
  close(): Promise<void>;
}
