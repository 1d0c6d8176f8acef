/**
 * Running statements through a lost connection: `retrying` runs an operation, waiting first while
 * the link (`pg-link.ts`) is not up, and again when it fails because its connection or the server
 * went away (see `pg-errors.ts`): such a failure makes the link check itself, so every operation
 * waits for one check or one reconnect loop instead of trying connections of its own. An operation
 * waits at most until `reconnectMs` after it began (then `PostgresUnavailableError`), and fails at
 * once with `PostgresBacklogFullError` when `maxBuffered` operations wait already.
 * `inTransaction` runs work in one transaction on a pool client and hands a broken client back to
 * the pool destroyed.
 *
 * @example
 * ```ts
 * await retrying(() => inTransaction(pool, (client) => client.query('…')), { reconnectMs: 60_000, open: () => true, link });
 * ```
 * @module
 */
import type pg from 'pg';
import { isConnectionError } from './pg-errors.js';
import { LinkDown } from './pg-lane.js';
import { PostgresUnavailableError, type Link } from './pg-link.js';

/** When to give up. */
export interface RetryLimits {
  readonly reconnectMs: number;
  /** False once the transport closes: no more retries. */
  readonly open: () => boolean;
  readonly link: Pick<Link, 'up' | 'ready' | 'suspect'>;
}

/** A serialization failure or deadlock: run it again, the connection is fine. */
const AGAIN = new Set(['40001', '40P01']);

/** Runs `operation` when the link is up, again on connection loss, until it succeeds, fails otherwise, or time is up. */
export async function retrying<T>(operation: () => Promise<T>, limits: RetryLimits): Promise<T> {
  const deadline = Date.now() + limits.reconnectMs;
  for (let attempt = 0; ; attempt++) {
    if (!limits.link.up) await limits.link.ready(deadline);
    try {
      return await operation();
    } catch (error) {
      if (error instanceof LinkDown && limits.open()) continue; // not run: wait for the link
      if (!isConnectionError(error) || !limits.open()) throw error;
      if (Date.now() >= deadline)
        throw new PostgresUnavailableError(
          `PostgreSQL stayed unreachable for as long as the operation could wait (reconnect, ${limits.reconnectMs} ms): ${(error as Error).message}`,
          { cause: error },
        );
      if (!AGAIN.has((error as { code?: string }).code ?? '')) limits.link.suspect(error);
      // Again at once the first time (after the check); then with a growing pause, the link being up.
      if (attempt > 0)
        await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random())));
    }
  }
}

/** Runs `work` between `begin` and `commit` on one pool client; rolls back when it throws. */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('begin');
    const value = await work(client);
    await client.query('commit');
    return value;
  } catch (error) {
    if (isConnectionError(error)) broken = error as Error;
    else await client.query('rollback').catch((e: unknown) => (broken = e as Error));
    throw error;
  } finally {
    client.release(broken);
  }
}
