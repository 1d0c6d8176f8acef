/**
 * The queue listing the CLI and dashboard show: every declared queue with its depth (waiting now or
 * scheduled), the deliveries in flight (leased and not expired), its dead letters, its topics, its
 * consumers in every process and, while it has none, since when (see `pg-consumer-rows.ts`).
 * Counts scan the tables: an operator's query, not a hot path.
 *
 * @example
 * ```ts
 * const queues = await listQueues(run, sql, Date.now());
 * ```
 * @module
 */
import type pg from 'pg';
import type { QueueInfo } from '@missive/core';
import type { Statements } from './statements.js';

/** Runs one statement. */
type Run = <R extends pg.QueryResultRow>(statement: string, values: unknown[]) => Promise<pg.QueryResult<R>>;

/** Lists the queues, by name. */
export async function listQueues(run: Run, sql: Statements, now: number): Promise<QueueInfo[]> {
  const [names, counts, scheduled, dead, bindings, consumers] = await Promise.all([
    run<{ name: string; created_at: string; idle_since: string | null }>(sql.queueRows, []),
    run<{ queue: string; held: string; total: string }>(sql.queueCounts, [now]),
    run<{ queue: string; n: string }>(sql.scheduledCounts, []),
    run<{ queue: string; n: string }>(sql.deadCounts, []),
    run<{ queue: string; pattern: string }>(sql.bindings, []),
    run<{ queue: string; n: number }>(sql.consumerCounts, []),
  ]);
  const attached = new Map(consumers.rows.map((r) => [r.queue, r.n]));
  const byQueue = new Map(counts.rows.map((r) => [r.queue, { held: Number(r.held), total: Number(r.total) }]));
  const later = new Map(scheduled.rows.map((r) => [r.queue, Number(r.n)]));
  const letters = new Map(dead.rows.map((r) => [r.queue, Number(r.n)]));
  const topics = new Map<string, string[]>();
  for (const b of bindings.rows) topics.set(b.queue, [...(topics.get(b.queue) ?? []), b.pattern]);
  return names.rows.map(({ name, created_at, idle_since }) => {
    const c = byQueue.get(name);
    const n = attached.get(name) ?? 0;
    return {
      name,
      depth: (c?.total ?? 0) - (c?.held ?? 0) + (later.get(name) ?? 0),
      inFlight: c?.held ?? 0,
      deadLetters: letters.get(name) ?? 0,
      topics: topics.get(name) ?? [],
      consumers: n,
      idleSince: n > 0 ? undefined : Number(idle_since ?? created_at),
    };
  });
}
