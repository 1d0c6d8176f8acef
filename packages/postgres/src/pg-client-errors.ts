/**
 * Keeps a connection lost while a pool client is checked out from crashing the process.
 *
 * node-postgres emits `error` on a client whose connection ends unexpectedly; a pool listens only
 * while the client is idle, so a client checked out (a statement under way, a transaction) with no
 * listener of its own turns a lost connection into an uncaught exception. The statement under way is
 * rejected anyway and its caller handles that (a retry, or the link noticing the outage), so the
 * event itself carries nothing more: the listener added here only keeps it from being unhandled.
 *
 * @example
 * ```ts
 * const pool = guardClientErrors(new pg.Pool({ connectionString }));
 * ```
 * @module
 */
import type pg from 'pg';

const ignore = (): void => undefined;

/** Gives every connection `pool` opens an `error` listener of its own; returns `pool`. */
export function guardClientErrors(pool: pg.Pool): pg.Pool {
  pool.on('connect', (client) => {
    client.on('error', ignore);
  });
  return pool;
}
