/**
 * What `queues()` reports about consumers: each transport keeps one row per queue it consumes in
 * `consumers` (with how many consumers it runs on it), written when its first consumer of the
 * queue starts and deleted when its last one stops; the delete marks the queue idle since then
 * (`queues.idle_since`) when no other connection consumes it. A transport that dies is reaped by
 * another one (see `pg-reaper.ts`), which deletes its rows the same way, idle since the dead
 * transport's last heartbeat. Counting joins `connections`, so a row of a connection not yet
 * reaped never counts.
 *
 * Writes go one at a time, each with the count of the moment, so they land in the order the
 * consumers started and stopped.
 *
 * @example
 * ```ts
 * const rows = new ConsumerRows(host);
 * await rows.joined('billing', consumer); // rejects with UnroutableError when the queue does not exist
 * void rows.left('billing', consumer);
 * ```
 * @module
 */
import { UnroutableError } from '@missive/core';
import type pg from 'pg';
import type { Named, Statements } from './statements.js';

/** What the rows need of the transport. */
export interface ConsumerRowsHost {
  readonly sql: Statements;
  readonly connectionId: string;
  now(): number;
  run<R extends pg.QueryResultRow>(statement: Named | string, values: unknown[]): Promise<pg.QueryResult<R>>;
}

/** This transport's consumer rows. */
export class ConsumerRows {
  private readonly byQueue = new Map<string, Set<object>>();
  private last: Promise<unknown> = Promise.resolve();

  constructor(private readonly host: ConsumerRowsHost) {}

  /** Records a consumer of `queue`; rejects with `UnroutableError` (recording nothing) when the queue does not exist. */
  joined(queue: string, consumer: object): Promise<void> {
    return this.serially(async () => {
      const set = this.byQueue.get(queue) ?? new Set<object>();
      const { rowCount } = await this.host.run(this.host.sql.consumersSet, [queue, this.host.connectionId, set.size + 1]);
      if (rowCount === 0) throw new UnroutableError(queue, 'no such queue; declare it before consuming');
      set.add(consumer);
      this.byQueue.set(queue, set);
    });
  }

  /** Forgets a consumer of `queue` (a no-op for one that never joined). */
  left(queue: string, consumer: object): Promise<void> {
    return this.serially(async () => {
      const set = this.byQueue.get(queue);
      if (set?.delete(consumer) !== true) return;
      if (set.size > 0) {
        await this.host.run(this.host.sql.consumersSet, [queue, this.host.connectionId, set.size]);
        return;
      }
      this.byQueue.delete(queue);
      await this.host.run(this.host.sql.consumersLeft, [queue, this.host.connectionId, this.host.now()]);
    });
  }

  /** Writes every row again (after the listener reconnected: another transport may have reaped this one). */
  rewrite(): Promise<void> {
    return this.serially(async () => {
      for (const [queue, set] of this.byQueue) await this.host.run(this.host.sql.consumersSet, [queue, this.host.connectionId, set.size]);
    });
  }

  /** Forgets every consumer without writing (the transport deletes its rows as it closes). */
  clear(): void {
    this.byQueue.clear();
  }

  /** Resolves once the writes asked for so far are done. */
  async idle(): Promise<void> {
    await this.last.catch(() => undefined);
  }

  private serially(write: () => Promise<void>): Promise<void> {
    const run = this.last.catch(() => undefined).then(write);
    this.last = run;
    return run;
  }
}
