/**
 * What the parts of the SQLite transport (consumers, dead letters, command owners) need of their
 * connection, as an interface: they depend on this contract, not on `SqliteTransport`, so the
 * package has no import cycle.
 *
 * @example
 * ```ts
 * class SqliteDeadLetters { constructor(private readonly link: SqliteLink) {} }
 * ```
 * @module
 */
import type Database from 'better-sqlite3';
import type { Clock, Logger } from '@missive/core';
import type { SqliteStatements } from './sqlite-statements.js';

/** How a delivery is settled other than by an ack. */
export type SettleKind = 'nack' | 'release' | 'dead';

/** What a settle carries: a redelivery delay, headers to store with the message, a dead letter's failure. */
export interface SettleExtra {
  readonly delayMs?: number | undefined;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  readonly failure?: unknown;
}

/** A SQLite transport connection, as its parts see it. */
export interface SqliteConnection {
  /** The open database; throws `BusStateError` when the connection is not open. */
  readonly db: Database.Database;
  /** Whether the connection is open (`db` then does not throw). */
  readonly isOpen: boolean;
  /** The connection's prepared statements. */
  readonly statements: SqliteStatements;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Runs a write, retrying while the database is busy (see `retryWhileBusy`). */
  withBusyRetry<T>(write: () => T, doing?: string): Promise<T>;
  /**
   * Asks for a fetch on the next turn (something became deliverable). `fromTimer`: the caller is a
   * timer, so the fetch may also take over leases that ran out (see `SqliteTransport.pump`).
   */
  wake(fromTimer?: boolean): void;
}

/** A connection that also settles deliveries: what a consumer needs. */
export interface SqliteLink extends SqliteConnection {
  /** Deletes a delivered message if its lease token still holds; false when the lease was lost. Acks of one turn commit together. */
  ack(seq: number, token: string): Promise<boolean>;
  /** Settles a delivery by its lease token; false when the lease was lost. */
  settle(kind: SettleKind, seq: number, token: string, extra?: SettleExtra): Promise<boolean>;
}
