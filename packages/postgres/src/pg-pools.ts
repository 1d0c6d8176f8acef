/**
 * The transport's two connection pools, opened together: the main pool (publishing, declarations,
 * listings), on which the schema is migrated first, and the consume pool, through which claims and
 * settles go so that a burst of publishes never delays an ack past its lease. The consume pool
 * commits without waiting for the WAL flush (`synchronous_commit=off`): a claim's rows reach the
 * handler one fsync sooner; a crash of the server may forget the last of them, and the messages are
 * delivered again, as after any crash (publishing, on the main pool, stays durable, unless the
 * option `commit: 'async'` sets the main pool's sessions the same way).
 *
 * Each pool is behind a {@link Lane} (at most its size of operations inside it). A connection attempt
 * gives up after `connectTimeoutMs` (a blackholed server accepts and never answers), and TCP
 * keepalive is on.
 *
 * @example
 * ```ts
 * const { main, consume } = await openPools(options, logger, () => link.up);
 * ```
 * @module
 */
import pg from 'pg';
import { TransportError, redactUrl, type Logger } from '@missive/core';
import { guardClientErrors } from './pg-client-errors.js';
import { isConnectionError } from './pg-errors.js';
import { Lane } from './pg-lane.js';
import { withSetting, type ResolvedPostgresOptions } from './pg-options.js';
import { migrate } from './schema.js';

/** The opened pools, each in its lane. */
export interface PostgresPools {
  readonly main: Lane;
  readonly consume: Lane;
}

/** How long opening a connection may take: two heartbeats, at least 10 s (a loaded server may take seconds). */
export function connectTimeoutMs(options: ResolvedPostgresOptions): number {
  return Math.max(10_000, 2 * options.heartbeatMs);
}

/**
 * Opens the pools and migrates the schema; throws `TransportError` (retryable when the server could
 * not be reached) with the connection string's password redacted.
 */
export async function openPools(options: ResolvedPostgresOptions, logger: Logger, linkUp: () => boolean): Promise<PostgresPools> {
  const connection = { connectionTimeoutMillis: connectTimeoutMs(options), keepAlive: true, keepAliveInitialDelayMillis: 10_000 };
  const pool = new pg.Pool({
    ...(options.commit === 'async'
      ? withSetting(options.connectionString, 'synchronous_commit=off')
      : { connectionString: options.connectionString }),
    max: options.poolSize,
    application_name: options.applicationName,
    ...connection,
  });
  // An idle connection lost (the link reports the outage once, see pg-link.ts).
  pool.on('error', (error) => logger.debug({ err: error }, 'postgres pool connection lost'));
  guardClientErrors(pool);
  const main = new Lane(pool, options.poolSize, linkUp); // before the first connection: the lane knows them all
  try {
    const client = await pool.connect();
    try {
      await migrate(client, options.schema);
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end().catch(() => undefined);
    if (error instanceof TransportError) throw error;
    throw new TransportError(`cannot connect to PostgreSQL at ${redactUrl(options.connectionString)}: ${(error as Error).message}`, {
      cause: error,
      retryable: isConnectionError(error),
    });
  }
  const consumeSize = Math.max(2, Math.ceil(options.poolSize / 2));
  const consume = new pg.Pool({
    ...withSetting(options.connectionString, 'synchronous_commit=off'),
    max: consumeSize,
    application_name: options.applicationName,
    ...connection,
  });
  consume.on('error', (error) => logger.debug({ err: error }, 'postgres pool connection lost'));
  guardClientErrors(consume);
  return { main, consume: new Lane(consume, consumeSize, linkUp) };
}
