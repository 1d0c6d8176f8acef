/**
 * Running statements through a lost connection: `retrying` runs an operation again on a new
 * connection, with backoff, while it fails because the connection or the server went away (see
 * `pg-errors.ts`), for up to `reconnectMs`; `inTransaction` runs work in one transaction on a pool
 * client and hands a broken client back to the pool destroyed.
 *
 * @example
 * ```ts
 * await retrying(() => inTransaction(pool, (client) => client.query('…')), { reconnectMs: 60_000, open: () => true });
 * ```
 * @module
 */
import type pg from 'pg';
import { TransportError } from '@missive/core';
import { isConnectionError } from './pg-errors.js';

/** When to give up. */
export interface RetryLimits {
  readonly reconnectMs: number;
  /** False once the transport closes: no more retries. */
  readonly open: () => boolean;
}

/** Runs `operation`, again on connection loss, until it succeeds, fails otherwise, or time is up. */
export async function retrying<T>(operation: () => Promise<T>, limits: RetryLimits): Promise<T> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (!isConnectionError(error) || !limits.open()) throw error;
      if (Date.now() - started >= limits.reconnectMs)
        throw new TransportError(`PostgreSQL stayed unreachable for ${limits.reconnectMs} ms: ${(error as Error).message}`, {
          cause: error,
          retryable: true,
        });
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
