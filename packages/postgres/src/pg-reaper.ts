/**
 * Finds transports whose session is gone and cleans up after them. Every live transport holds a
 * session advisory lock on its listening connection; a registered connection whose lock can be
 * taken has no session any more (SIGKILL, `pg_terminate_backend`, a lost host). One statement finds
 * them (each lock it takes is let go when the statement ends); each one found is then reaped in a
 * transaction that takes its lock again: its leases are released (its messages go to other
 * consumers at once), its consumer rows deleted (a queue it was the last consumer of is idle since
 * its last heartbeat), its temporary queues deleted, its registration removed.
 *
 * @example
 * ```ts
 * const reaped = await reapDeadConnections(deps);
 * ```
 * @module
 */
import type pg from 'pg';
import type { Statements } from './statements.js';

/** What reaping needs of the transport. */
export interface ReaperDeps {
  readonly sql: Statements;
  /** This transport's id (never reaped by itself). */
  readonly connectionId: string;
  /** The first key of the connection locks (one space per schema). */
  readonly lockSpace: number;
  run<R extends pg.QueryResultRow>(statement: string, values: unknown[]): Promise<pg.QueryResult<R>>;
  transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T>;
}

/** Deletes a queue with its messages, schedules, dead letters and bindings, in the caller's transaction. */
export async function dropQueue(client: pg.ClientBase, sql: Statements, name: string): Promise<void> {
  for (const statement of sql.deleteQueue) await client.query(statement, [name]);
}

/** Reaps every dead connection; resolves with how many. */
export async function reapDeadConnections(deps: ReaperDeps): Promise<number> {
  const { sql } = deps;
  const { rows } = await deps.run<{ id: string; lock_key: number; heartbeat: string }>(sql.deadConnections, [
    deps.connectionId,
    deps.lockSpace,
  ]);
  let reaped = 0;
  for (const row of rows) {
    const gone = await deps.transaction(async (client) => {
      const got =
        (await client.query<{ ok: boolean }>('select pg_try_advisory_xact_lock($1, $2) ok', [deps.lockSpace, row.lock_key])).rows[0]?.ok ===
        true;
      if (!got) return false;
      await client.query(sql.releaseOwner, [row.id]);
      await client.query(sql.consumersLeft.text, [null, row.id, Number(row.heartbeat)]);
      for (const { name } of (await client.query<{ name: string }>(sql.ownedQueues, [row.id])).rows) await dropQueue(client, sql, name);
      await client.query(sql.connectionDelete, [row.id]);
      return true;
    });
    if (gone) reaped++;
  }
  return reaped;
}
